// HCP/2, the framed successor of HCP/1: u32 length (big-endian, counts type
// and payload) | u8 type | payload. This header has what both directions
// share: the constants, the frame types, the wire error codes (also an
// std::error_code category), the entry types of lists, and the stream_codec
// that finds where a frame ends. hcp2_encode.hpp and hcp2_parse.hpp turn
// frames into bytes and back; hcp2.hpp includes all three.
#pragma once

#include "common.hpp"

#include <howdy/codec/length_prefixed.hpp>
#include <howdy/frame_codec.hpp>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace hcp::hcp2 {

inline constexpr std::uint8_t version = 2;
inline constexpr std::string_view magic = "HCP";
inline constexpr std::size_t length_field_size = 4;            // u32, counts type + payload
inline constexpr std::size_t header_size = length_field_size + 1;  // u32 length + u8 type
inline constexpr std::uint32_t default_max_frame = 65536;  // limit on the length field

enum class frame_type : std::uint8_t {
  // client -> server (0x01..0x7F)
  hello = 0x01,
  name = 0x02,
  send = 0x03,
  ping = 0x04,
  who = 0x05,
  bye = 0x06,
  // accounts
  register_account = 0x10,
  login = 0x11,
  roster_request = 0x12,
  // receipts
  received = 0x20,
  // rooms
  join = 0x30,
  leave = 0x31,
  rooms_request = 0x32,
  members_request = 0x33,
  // history
  history_request = 0x40,
  // server -> client (0x80..0xFF)
  welcome = 0x81,
  name_ok = 0x82,
  name_refused = 0x83,
  users = 0x84,
  joined = 0x85,
  left = 0x86,
  message = 0x87,
  sent = 0x88,
  presence = 0x89,  // joins and leaves of one tick, batched (HELLO flag 0x2)
  dropped = 0x8A,
  pong = 0x8B,
  users_part = 0x8C,  // a page of USERS that more pages follow
  error = 0x8F,
  // accounts
  roster = 0x91,
  roster_part = 0x92,  // a page of ROSTER that more pages follow
  // receipts
  delivered = 0xA0,
  not_delivered = 0xA1,
  // rooms
  room_joined = 0xB0,
  room_left = 0xB1,
  room_list = 0xB2,
  room_members = 0xB3,
  room_members_part = 0xB4,  // a page of ROOM_MEMBERS that more pages follow
  room_list_part = 0xB5,     // a page of ROOM_LIST that more pages follow
  // history
  history_end = 0xC0,
};

constexpr bool is_client_frame_type(std::uint8_t t) noexcept { return t >= 0x01 && t <= 0x7F; }
constexpr bool is_server_frame_type(std::uint8_t t) noexcept { return t >= 0x80; }

// SEND and MESSAGE: all (target empty), user (a name), room (a room name; HCP/2 only).
enum class target_kind : std::uint8_t { all = 0, user = 1, room = 2 };

// Wire error codes (u16) of ERROR, NAME_REFUSED and NOT_DELIVERED; also the
// text protocol's "ERROR nnn".
enum class errc : std::uint16_t {
  malformed_username = 100,
  not_registered = 101,
  unknown_recipient = 102,
  malformed_frame = 103,
  name_taken = 104,
  name_reserved = 105,
  unsupported_version = 106,
  frame_too_large = 107,
  unknown_frame_type = 108,
  slow_consumer = 109,
  shutting_down = 110,
  handshake_timeout = 111,
  idle_timeout = 112,
  already_named = 113,
  wrong_password = 114,
  unknown_account = 115,
  too_many_attempts = 116,
  name_registered = 117,
  auth_required = 118,
  auth_disabled = 119,
  not_in_room = 120,
  invalid_room = 121,
  recipient_left = 122,
  storage_failed = 123,
  invalid_password = 124,
  room_limit = 125,
  signed_in_elsewhere = 126,  // LOGIN while the account is signed in on another connection (was 104)
  rate_limited = 127,         // over the message rate: not sent (flooding on and on: then disconnected)
};

constexpr std::string_view describe(errc e) noexcept {
  switch (e) {
    case errc::malformed_username:
      return "malformed username";
    case errc::not_registered:
      return "no user registered (send NAME first)";
    case errc::unknown_recipient:
      return "unable to send: unknown recipient";
    case errc::malformed_frame:
      return "header incomplete or malformed frame";
    case errc::name_taken:
      return "name taken";
    case errc::name_reserved:
      return "name reserved";
    case errc::unsupported_version:
      return "unsupported version or HELLO expected";
    case errc::frame_too_large:
      return "frame too large";
    case errc::unknown_frame_type:
      return "unknown frame type";
    case errc::slow_consumer:
      return "slow consumer";
    case errc::shutting_down:
      return "server shutting down";
    case errc::handshake_timeout:
      return "handshake timeout";
    case errc::idle_timeout:
      return "idle timeout";
    case errc::already_named:
      return "already named";
    case errc::wrong_password:
      return "wrong password";
    case errc::unknown_account:
      return "no account with that name";
    case errc::too_many_attempts:
      return "too many attempts; wait and try again";
    case errc::name_registered:
      return "that name belongs to a registered user";
    case errc::auth_required:
      return "this server requires an account: REGISTER or LOGIN";
    case errc::auth_disabled:
      return "accounts are disabled on this server";
    case errc::not_in_room:
      return "not a member of that room";
    case errc::invalid_room:
      return "invalid room name";
    case errc::recipient_left:
      return "not delivered: the recipient left before confirming";
    case errc::storage_failed:
      return "could not store the message; not sent";
    case errc::invalid_password:
      return "password too short or too long";
    case errc::room_limit:
      return "too many rooms";
    case errc::signed_in_elsewhere:
      return "that account is signed in elsewhere";
    case errc::rate_limited:
      return "too many messages: not sent; slow down";
  }
  return "unknown error";
}

// So codes can travel as std::error_code alongside Asio's.
inline std::error_category const& error_category() noexcept {
  struct category final : std::error_category {
    char const* name() const noexcept override { return "hcp2"; }
    std::string message(int ev) const override { return std::string(describe(static_cast<errc>(ev))); }
  };
  static category const c;
  return c;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// REGISTER/LOGIN passwords: 1..1024 bytes (any bytes; the server hashes
// them). parse() does not check this: the server answers NAME_REFUSED 124.
inline constexpr std::size_t max_password_size = 1024;
constexpr bool is_valid_password(std::string_view password) noexcept {
  return !password.empty() && password.size() <= max_password_size;
}

// ROSTER, ROOM_MEMBERS and PRESENCE entries: status bits and a user name
// (in PRESENCE, status_online set is a join, clear a leave).
inline constexpr std::uint8_t status_online = 0x1;
inline constexpr std::uint8_t status_registered = 0x2;
struct roster_entry {
  std::uint8_t status;
  std::string_view name;
};

// ROOM_LIST entries.
struct room_entry {
  std::string_view room;
  std::uint32_t members;
};

// Where a frame ends in a byte stream, for howdy::framed_reader: the u32
// length, then that many bytes. The frame's payload is the type byte and
// everything after it; a frame always has its type byte.
struct stream_codec {
  howdy::decode_result decode(std::span<const std::byte> buffered, std::size_t max_frame) const noexcept {
    auto r = howdy::codec::u32_length_prefixed{}.decode(buffered, max_frame);
    if (r.status == howdy::decode_status::complete && r.payload_size == 0) return howdy::decode_result::malformed();
    return r;
  }
};

}  // namespace hcp::hcp2

template <>
struct std::is_error_code_enum<hcp::hcp2::errc> : std::true_type {};
