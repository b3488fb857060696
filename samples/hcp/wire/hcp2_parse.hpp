// HCP/2 decoding: one struct per frame type, the `frame` variant of them all,
// and parse(), which turns one whole frame into it.
#pragma once

#include "common.hpp"
#include "hcp2_frames.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hcp::hcp2 {

// Structural only: lengths, magic, name <= 64 bytes, no trailing bytes.
// Whether a name is acceptable, the version supported, the text valid UTF-8
// or a frame allowed in the current state is the server's decision.

struct hello {
  std::uint8_t version;
  std::uint32_t flags;
};

// HELLO flag bits. A server ignores bits it does not know.
inline constexpr std::uint32_t hello_no_presence = 0x1;  // no JOINED/LEFT: for bots and load generators
inline constexpr std::uint32_t hello_presence_batches = 0x2;  // PRESENCE frames instead of JOINED/LEFT
struct name {
  std::string_view value;
};
struct send {
  std::uint32_t client_ref;
  target_kind kind;
  std::string_view target;
  std::string_view text;
};
struct ping {
  std::uint64_t token;
};
struct who {};
struct bye {};
struct welcome {
  std::uint8_t version;
  std::uint32_t max_frame;
  std::string_view server_info;
};
struct name_ok {
  std::string_view value;
};
struct name_refused {
  std::uint16_t code;
  std::string_view value;
  std::string_view reason;
};
struct users {
  std::vector<std::string_view> names;
};
struct joined {
  std::string_view value;
};
struct left {
  std::string_view value;
};
struct message {
  std::uint64_t id;
  std::uint64_t timestamp_us;
  target_kind kind;
  std::string_view sender;
  std::string_view target;
  std::string_view text;
};
struct sent {
  std::uint32_t client_ref;
  std::uint64_t id;
};
struct dropped {
  std::uint32_t count;
};
struct pong {
  std::uint64_t token;
};
struct error {
  std::uint16_t code;
  std::uint32_t client_ref;
  std::string_view text;
};
struct register_account {
  std::string_view name;
  std::string_view password;  // not length-checked here (see is_valid_password)
};
struct login {
  std::string_view name;
  std::string_view password;
};
struct roster_request {};
struct received {
  std::uint64_t id;
};
struct join {
  std::string_view room;
};
struct leave {
  std::string_view room;
};
struct rooms_request {};
struct members_request {
  std::string_view room;
};
struct history_request {
  std::uint64_t after_id;
};
struct roster {
  std::vector<roster_entry> entries;
};
struct delivered {
  std::uint64_t id;
  std::string_view recipient;
};
struct not_delivered {
  std::uint64_t id;
  std::uint16_t code;
  std::string_view recipient;
};
struct room_joined {
  std::string_view room;
  std::string_view user;
};
struct room_left {
  std::string_view room;
  std::string_view user;
};
struct room_list {
  std::vector<room_entry> rooms;
};
struct room_members {
  std::string_view room;
  std::vector<roster_entry> members;
};
// A page of a list that more pages follow: the next USERS_PART or USERS (and
// so on) continues it; the list is complete with the final frame.
struct users_part {
  std::vector<std::string_view> names;
};
struct roster_part {
  std::vector<roster_entry> entries;
};
struct room_members_part {
  std::string_view room;
  std::vector<roster_entry> members;
};
struct room_list_part {
  std::vector<room_entry> rooms;
};
// Joins (status_online set) and leaves of one tick, each name's last state.
struct presence {
  std::vector<roster_entry> entries;
};
struct history_end {
  std::uint64_t last_id;  // 0 if nothing was replayed
  bool more;              // u8 on the wire, non-zero: more stored, ask HISTORY after last_id
};

// Why a frame could not be decoded: errc::malformed_frame (reply ERROR 103 and
// close) or errc::unknown_frame_type (reply ERROR 108 and skip the frame).
struct parse_error {
  errc code;
  std::uint8_t type;  // 0 when the header itself is bad
};

using frame = std::variant<parse_error, hello, name, send, ping, who, bye, welcome, name_ok, name_refused, users,
                           joined, left, message, sent, dropped, pong, error, register_account, login, roster_request,
                           received, join, leave, rooms_request, members_request, history_request, roster, delivered,
                           not_delivered, room_joined, room_left, room_list, room_members, history_end, users_part,
                           roster_part, room_members_part, room_list_part, presence>;

namespace detail {

// HCP/2 name: u8 length (<= 64) + bytes.
inline std::string_view read_name(hcp::detail::reader& r) noexcept {
  auto const n = r.u8();
  if (n > hcp::name_field_size) {
    r.ok = false;
    return {};
  }
  return r.bytes(n);
}

// u16 count, then count entries read by `one`, each at least `min_size`
// bytes: a count the frame cannot hold is refused before reserving for it.
template <class Read>
auto read_counted(hcp::detail::reader& r, std::size_t min_size, Read one) {
  std::vector<decltype(one())> entries;
  auto const count = r.u16();
  if (!r.ok || count > r.left() / min_size) {
    r.ok = false;
    return entries;
  }
  entries.reserve(count);
  for (std::uint16_t i = 0; i < count && r.ok; ++i) entries.push_back(one());
  return entries;
}

// count x (u8 status, name): ROSTER, ROOM_MEMBERS, PRESENCE and their parts.
inline std::vector<roster_entry> read_roster_entries(hcp::detail::reader& r) {
  return read_counted(r, 2, [&] {
    roster_entry e{};
    e.status = r.u8();
    e.name = read_name(r);
    return e;
  });
}

// count x name: USERS and USERS_PART.
inline std::vector<std::string_view> read_names(hcp::detail::reader& r) {
  return read_counted(r, 1, [&] { return read_name(r); });
}

// count x (name room, u32 members): ROOM_LIST and ROOM_LIST_PART.
inline std::vector<room_entry> read_rooms(hcp::detail::reader& r) {
  return read_counted(r, 5, [&] {
    room_entry e{};
    e.room = read_name(r);
    e.members = r.u32();
    return e;
  });
}

}  // namespace detail

// `whole_frame` is one complete frame, length field included.
inline frame parse(std::span<const std::byte> whole_frame) {
  using hcp::detail::reader;
  auto const bad = [](std::uint8_t t) -> frame { return parse_error{errc::malformed_frame, t}; };

  reader h(whole_frame);
  auto const length = h.u32();
  if (!h.ok || length == 0 || length != h.left()) return bad(0);
  auto const t = h.u8();
  reader r(whole_frame.subspan(header_size));

  // Every byte must be used: trailing bytes are malformed (text fields take the rest).
  auto const finish = [&](auto v) -> frame {
    if (r.done()) return v;
    return bad(t);
  };

  switch (static_cast<frame_type>(t)) {
    case frame_type::hello: {
      if (r.bytes(magic.size()) != magic) return bad(t);
      hello v{};
      v.version = r.u8();
      v.flags = r.u32();
      return finish(v);
    }
    case frame_type::name:
      return finish(name{detail::read_name(r)});
    case frame_type::send: {
      send v{};
      v.client_ref = r.u32();
      v.kind = static_cast<target_kind>(r.u8());
      v.target = detail::read_name(r);
      v.text = r.rest();
      return finish(v);
    }
    case frame_type::ping:
      return finish(ping{r.u64()});
    case frame_type::who:
      return finish(who{});
    case frame_type::bye:
      return finish(bye{});
    case frame_type::welcome: {
      welcome v{};
      v.version = r.u8();
      v.max_frame = r.u32();
      v.server_info = r.rest();
      return finish(v);
    }
    case frame_type::name_ok:
      return finish(name_ok{detail::read_name(r)});
    case frame_type::name_refused: {
      name_refused v{};
      v.code = r.u16();
      v.value = detail::read_name(r);
      v.reason = r.rest();
      return finish(v);
    }
    case frame_type::users: {
      users v{detail::read_names(r)};
      if (!r.ok) return bad(t);
      return finish(std::move(v));
    }
    case frame_type::users_part: {
      users_part v{detail::read_names(r)};
      if (!r.ok) return bad(t);
      return finish(std::move(v));
    }
    case frame_type::presence:
      return finish(presence{detail::read_roster_entries(r)});
    case frame_type::joined:
      return finish(joined{detail::read_name(r)});
    case frame_type::left:
      return finish(left{detail::read_name(r)});
    case frame_type::message: {
      message v{};
      v.id = r.u64();
      v.timestamp_us = r.u64();
      v.kind = static_cast<target_kind>(r.u8());
      v.sender = detail::read_name(r);
      v.target = detail::read_name(r);
      v.text = r.rest();
      return finish(v);
    }
    case frame_type::sent: {
      sent v{};
      v.client_ref = r.u32();
      v.id = r.u64();
      return finish(v);
    }
    case frame_type::dropped:
      return finish(dropped{r.u32()});
    case frame_type::pong:
      return finish(pong{r.u64()});
    case frame_type::error: {
      error v{};
      v.code = r.u16();
      v.client_ref = r.u32();
      v.text = r.rest();
      return finish(v);
    }
    case frame_type::register_account: {
      register_account v{};
      v.name = detail::read_name(r);
      v.password = r.rest();
      return finish(v);
    }
    case frame_type::login: {
      login v{};
      v.name = detail::read_name(r);
      v.password = r.rest();
      return finish(v);
    }
    case frame_type::roster_request:
      return finish(roster_request{});
    case frame_type::received:
      return finish(received{r.u64()});
    case frame_type::join:
      return finish(join{detail::read_name(r)});
    case frame_type::leave:
      return finish(leave{detail::read_name(r)});
    case frame_type::rooms_request:
      return finish(rooms_request{});
    case frame_type::members_request:
      return finish(members_request{detail::read_name(r)});
    case frame_type::history_request:
      return finish(history_request{r.u64()});
    case frame_type::roster:
      return finish(roster{detail::read_roster_entries(r)});
    case frame_type::roster_part:
      return finish(roster_part{detail::read_roster_entries(r)});
    case frame_type::delivered: {
      delivered v{};
      v.id = r.u64();
      v.recipient = detail::read_name(r);
      return finish(v);
    }
    case frame_type::not_delivered: {
      not_delivered v{};
      v.id = r.u64();
      v.code = r.u16();
      v.recipient = detail::read_name(r);
      return finish(v);
    }
    case frame_type::room_joined: {
      room_joined v{};
      v.room = detail::read_name(r);
      v.user = detail::read_name(r);
      return finish(v);
    }
    case frame_type::room_left: {
      room_left v{};
      v.room = detail::read_name(r);
      v.user = detail::read_name(r);
      return finish(v);
    }
    case frame_type::room_list: {
      room_list v{detail::read_rooms(r)};
      if (!r.ok) return bad(t);
      return finish(std::move(v));
    }
    case frame_type::room_list_part: {
      room_list_part v{detail::read_rooms(r)};
      if (!r.ok) return bad(t);
      return finish(std::move(v));
    }
    case frame_type::room_members_part: {
      room_members_part v;
      v.room = detail::read_name(r);
      v.members = detail::read_roster_entries(r);
      return finish(std::move(v));
    }
    case frame_type::room_members: {
      room_members v;
      v.room = detail::read_name(r);
      v.members = detail::read_roster_entries(r);
      return finish(std::move(v));
    }
    case frame_type::history_end: {
      history_end v{};
      v.last_id = r.u64();
      v.more = r.u8() != 0;
      return finish(v);
    }
  }
  return parse_error{errc::unknown_frame_type, t};
}

}  // namespace hcp::hcp2
