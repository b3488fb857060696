// server/frames.hpp: how the server turns what it says into shared buffers,
// one encoding per wire format, and how library errors become HCP codes.
// Every service encodes through these, so a frame is built once and shared
// by all its recipients.
#pragma once

#include "../wire/common.hpp"
#include "../wire/hcp1.hpp"
#include "../wire/hcp2.hpp"
#include "../wire/text.hpp"

#include <howdy.hpp>

#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>

namespace hcp {

// The three wire formats a session may speak.
enum class wire { hcp1, hcp2, text };

// Encodes one frame into a shared buffer: `write(std::span<std::byte>)`.
template <class Write>
howdy::shared_buffer frame(std::size_t size, Write&& write) {
  return howdy::shared_buffer::make(size, [&](std::span<std::byte> out) { write(out); });
}
inline howdy::shared_buffer text_frame(std::string_view bytes) { return howdy::shared_buffer::copy_of(bytes); }

inline howdy::shared_buffer error_frame(hcp2::errc code, std::uint32_t ref = 0, std::string_view text = {}) {
  if (text.empty()) text = hcp2::describe(code);
  return frame(hcp2::error_size(text), [&](auto out) { hcp2::write_error(out, code, ref, text); });
}

inline howdy::shared_buffer sent_frame(std::uint32_t ref, std::uint64_t id) {
  return frame(hcp2::sent_size(), [&](auto out) { hcp2::write_sent(out, ref, id); });
}

// A chat message as `format` carries it (HCP/1 and text have no id or time).
inline howdy::shared_buffer encode_for(wire format, std::uint64_t id, std::uint64_t ts, hcp2::target_kind kind,
                                       std::string_view sender, std::string_view target, std::string_view text) {
  switch (format) {
    case wire::hcp1:
      return frame(hcp1::message_size(text), [&](auto out) { hcp1::write_message(out, sender, target, text); });
    case wire::text: return text_frame(text::forward(sender, text));
    case wire::hcp2: break;
  }
  return frame(hcp2::message_size(sender, target, text),
               [&](auto out) { hcp2::write_message(out, id, ts, kind, sender, target, text); });
}

inline howdy::shared_buffer room_event(bool joined, std::string_view room, std::string_view user) {
  return joined ? frame(hcp2::room_joined_size(room, user), [&](auto out) { hcp2::write_room_joined(out, room, user); })
                : frame(hcp2::room_left_size(room, user), [&](auto out) { hcp2::write_room_left(out, room, user); });
}

// A refused name claim, as HCP/2 says it (the text protocol uses the same numbers).
inline hcp2::errc claim_error(std::error_code ec) {
  if (ec == howdy::error::name_taken) return hcp2::errc::name_taken;
  if (ec == howdy::error::name_reserved) return hcp2::errc::name_reserved;
  if (ec == howdy::error::name_held) return hcp2::errc::name_registered;
  return hcp2::errc::malformed_username;
}

// Why a name claim was refused, in the words NAME_REFUSED has always carried.
inline std::string_view claim_reason(std::error_code ec) {
  if (ec == howdy::error::name_taken) return "that name is already taken";
  if (ec == howdy::error::name_reserved) return "that name is reserved";
  if (ec == howdy::error::name_held) return "that name belongs to a registered user";
  return "that name is not allowed";
}

}  // namespace hcp
