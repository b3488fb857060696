// HCP/2: its stream_codec through a framed_reader, and hcp2::parse on every
// frame and on the whole input. What is checked: a frame is its u32 length and
// that many bytes, the first its type; parse reads no further than the frame,
// its views lie inside it, and re-encoding a decoded frame with the encoders
// gives the same bytes (HISTORY_END's flag byte read as a bool aside).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "fuzz_support.hpp"
#include "hcp/wire/hcp2.hpp"

namespace {

using namespace howdy_fuzz;
namespace hcp2 = hcp::hcp2;

constexpr std::array<std::size_t, 8> max_frames{1, 4, 5, 6, 9, 64, 1028, 65540};

template <class T, class V>
constexpr bool is = std::is_same_v<std::remove_cvref_t<V>, T>;

// The encoders' bytes for a decoded frame (nullopt for a parse_error); each
// view of it checked to lie inside `whole`.
std::optional<std::string> reencode(const hcp2::frame& parsed, std::string_view whole) {
  auto in = [&](std::string_view v) { FUZZ_CHECK(within(v, whole)); };
  auto entries = [&](const auto& list) {
    for (const auto& e : list) in(e.name);
  };
  return std::visit(
      [&](const auto& v) -> std::optional<std::string> {
        using namespace hcp2;
        using V = decltype(v);
        if constexpr (is<parse_error, V>) {
          return std::nullopt;
        } else if constexpr (is<hello, V>) {
          return encode_hello(v.version, v.flags);
        } else if constexpr (is<hcp2::name, V>) {
          in(v.value);
          return encode_name(v.value);
        } else if constexpr (is<hcp2::send, V>) {
          in(v.target), in(v.text);
          return encode_send(v.client_ref, v.kind, v.target, v.text);
        } else if constexpr (is<hcp2::ping, V>) {
          return encode_ping(v.token);
        } else if constexpr (is<who, V>) {
          return encode_who();
        } else if constexpr (is<bye, V>) {
          return encode_bye();
        } else if constexpr (is<welcome, V>) {
          in(v.server_info);
          return encode_welcome(v.max_frame, v.server_info, v.version);
        } else if constexpr (is<name_ok, V>) {
          in(v.value);
          return encode_name_ok(v.value);
        } else if constexpr (is<name_refused, V>) {
          in(v.value), in(v.reason);
          return encode_name_refused(static_cast<errc>(v.code), v.value, v.reason);
        } else if constexpr (is<users, V>) {
          for (auto n : v.names) in(n);
          return encode_users(v.names);
        } else if constexpr (is<users_part, V>) {
          for (auto n : v.names) in(n);
          return encode_users_part(v.names);
        } else if constexpr (is<joined, V>) {
          in(v.value);
          return encode_joined(v.value);
        } else if constexpr (is<left, V>) {
          in(v.value);
          return encode_left(v.value);
        } else if constexpr (is<hcp2::message, V>) {
          in(v.sender), in(v.target), in(v.text);
          return encode_message(v.id, v.timestamp_us, v.kind, v.sender, v.target, v.text);
        } else if constexpr (is<sent, V>) {
          return encode_sent(v.client_ref, v.id);
        } else if constexpr (is<dropped, V>) {
          return encode_dropped(v.count);
        } else if constexpr (is<pong, V>) {
          return encode_pong(v.token);
        } else if constexpr (is<hcp2::error, V>) {
          in(v.text);
          return encode_error(static_cast<errc>(v.code), v.client_ref, v.text);
        } else if constexpr (is<register_account, V>) {
          in(v.name), in(v.password);
          return encode_register(v.name, v.password);
        } else if constexpr (is<login, V>) {
          in(v.name), in(v.password);
          return encode_login(v.name, v.password);
        } else if constexpr (is<roster_request, V>) {
          return encode_roster_request();
        } else if constexpr (is<received, V>) {
          return encode_received(v.id);
        } else if constexpr (is<hcp2::join, V>) {
          in(v.room);
          return encode_join(v.room);
        } else if constexpr (is<leave, V>) {
          in(v.room);
          return encode_leave(v.room);
        } else if constexpr (is<rooms_request, V>) {
          return encode_rooms_request();
        } else if constexpr (is<members_request, V>) {
          in(v.room);
          return encode_members_request(v.room);
        } else if constexpr (is<history_request, V>) {
          return encode_history_request(v.after_id);
        } else if constexpr (is<roster, V>) {
          entries(v.entries);
          return encode_roster(v.entries);
        } else if constexpr (is<roster_part, V>) {
          entries(v.entries);
          return encode_roster_part(v.entries);
        } else if constexpr (is<presence, V>) {
          entries(v.entries);
          return encode_presence(v.entries);
        } else if constexpr (is<delivered, V>) {
          in(v.recipient);
          return encode_delivered(v.id, v.recipient);
        } else if constexpr (is<not_delivered, V>) {
          in(v.recipient);
          return encode_not_delivered(v.id, static_cast<errc>(v.code), v.recipient);
        } else if constexpr (is<room_joined, V>) {
          in(v.room), in(v.user);
          return encode_room_joined(v.room, v.user);
        } else if constexpr (is<room_left, V>) {
          in(v.room), in(v.user);
          return encode_room_left(v.room, v.user);
        } else if constexpr (is<room_list, V>) {
          for (const auto& r : v.rooms) in(r.room);
          return encode_room_list(v.rooms);
        } else if constexpr (is<room_list_part, V>) {
          for (const auto& r : v.rooms) in(r.room);
          return encode_room_list_part(v.rooms);
        } else if constexpr (is<room_members, V>) {
          in(v.room), entries(v.members);
          return encode_room_members(v.room, v.members);
        } else if constexpr (is<room_members_part, V>) {
          in(v.room), entries(v.members);
          return encode_room_members_part(v.room, v.members);
        } else if constexpr (is<history_end, V>) {
          return encode_history_end(v.last_id, v.more);
        } else {
          static_assert(!sizeof(V), "a frame type the fuzzer does not re-encode");
        }
      },
      parsed);
}

// hcp2::parse on one span; `framed`: it came out of the stream codec.
void check_frame(bytes_view bytes, bool framed) {
  const auto whole = as_chars(bytes);
  const auto parsed = hcp2::parse(bytes);
  std::uint32_t length = 0;
  for (std::size_t i = 0; i < 4 && i < bytes.size(); ++i)
    length = length << 8 | std::to_integer<std::uint32_t>(bytes[i]);
  const bool header_ok = bytes.size() >= hcp2::header_size && length == bytes.size() - hcp2::length_field_size;
  if (framed) FUZZ_CHECK(header_ok);

  if (const auto* bad = std::get_if<hcp2::parse_error>(&parsed)) {
    FUZZ_CHECK(bad->code == hcp2::errc::malformed_frame || bad->code == hcp2::errc::unknown_frame_type);
    if (!header_ok)
      FUZZ_CHECK(bad->code == hcp2::errc::malformed_frame && bad->type == 0);
    else
      FUZZ_CHECK(bad->type == std::to_integer<std::uint8_t>(bytes[hcp2::length_field_size]));
    return;
  }
  FUZZ_CHECK(header_ok);
  auto again = reencode(parsed, whole);
  FUZZ_CHECK(again.has_value());
  std::string want(whole);
  if (std::holds_alternative<hcp2::history_end>(parsed) && want.back() != '\0') want.back() = '\1';
  FUZZ_CHECK(*again == want);
  FUZZ_CHECK(hcp2::parse(as_bytes(*again)).index() == parsed.index());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto in = split(data, size);
  if (!in) return 0;
  in->options.max_frame_size = max_frames[in->max_frame_index];
  check_frame(in->stream, false);
  read_and_compare(*in, hcp2::stream_codec{}, true, [&](const howdy::frame& f, std::size_t) {
    FUZZ_CHECK(f.payload.data() == f.bytes.data() + hcp2::length_field_size);
    FUZZ_CHECK(!f.payload.empty());  // the type byte
    check_frame(f.bytes, true);
  });
  return 0;
}
