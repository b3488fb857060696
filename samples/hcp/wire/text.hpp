// The seed-002 text protocol: "COMMAND arg\n" header lines, a blank line,
// then Content-length bytes of body (docs/protocol.md, section 3). A frame is
// found in the stream by howdy::codec::header_body(delimiter,
// content_length_field); this header has plain std::string encoders and
// parse_command, which reads one frame's header.
#pragma once

#include "common.hpp"
#include "hcp2_frames.hpp"

#include <howdy/codec/header_body.hpp>

#include <charconv>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace hcp::text {

inline constexpr std::string_view delimiter = "\n\n";
inline constexpr std::string_view content_length_field = "Content-length";
inline constexpr std::string_view all = "ALL";  // recipient meaning everyone (compared exactly)

enum class direction { tosend, torecv };

constexpr bool is_everyone(std::string_view recipient) noexcept { return recipient == all; }

constexpr bool is_ascii_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A text-protocol user name: 1..64 ASCII letters and digits, not ALL in any case.
constexpr bool is_valid_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > name_field_size) return false;
  for (char c : name)
    if (!is_ascii_alnum(c)) return false;
  if (name.size() == all.size()) {
    bool same = true;
    for (std::size_t i = 0; i < all.size(); ++i) same = same && (name[i] | 0x20) == (all[i] | 0x20);
    if (same) return false;
  }
  return true;
}

// Whether `name` can follow a command word: HCP users may have names the text
// protocol cannot carry (a line break would end the header). The server checks
// this before forwarding to a text user; the encoders refuse such names. A CR
// before the LF is read as part of the line break, as parse_command does, so
// a name cannot end in one either.
constexpr bool can_carry_name(std::string_view name) noexcept {
  return name.size() <= name_field_size && name.find_first_of("\r\n") == std::string_view::npos;
}

// The phrase after "ERROR nnn": the seed document's for 100..103, short ones
// for names, describe() for the rest.
constexpr std::string_view phrase(hcp2::errc code) noexcept {
  switch (code) {
    case hcp2::errc::malformed_username:
      return "Malformed username";
    case hcp2::errc::not_registered:
      return "No user registered";
    case hcp2::errc::unknown_recipient:
      return "Unable to send";
    case hcp2::errc::malformed_frame:
      return "Header incomplete";
    case hcp2::errc::name_taken:
      return "Username taken";
    case hcp2::errc::name_reserved:
      return "Username reserved";
    case hcp2::errc::name_registered:
      return "Username registered";
    case hcp2::errc::auth_required:
      return "Account required";
    case hcp2::errc::rate_limited:
      return "Rate limited";
    default:
      return hcp2::describe(code);
  }
}

namespace detail {

inline void check_name(std::string_view name) {
  if (!can_carry_name(name)) throw std::invalid_argument("hcp::text: name over 64 bytes or with a CR or LF");
}

inline std::string line(std::string_view word, std::string_view arg) {
  std::string s;
  s.reserve(word.size() + 1 + arg.size() + delimiter.size());
  s.append(word).append(" ").append(arg).append(delimiter);
  return s;
}

inline std::string with_body(std::string_view word, std::string_view arg, std::string_view body) {
  auto const length = std::to_string(body.size());
  std::string s;
  s.reserve(word.size() + arg.size() + content_length_field.size() + length.size() + body.size() + 6);
  s.append(word).append(" ").append(arg).append("\n");
  s.append(content_length_field).append(": ").append(length).append(delimiter);
  s.append(body);
  return s;
}

}  // namespace detail

// Server -> client.
inline std::string registered(direction d, std::string_view name) {
  detail::check_name(name);
  return detail::line(d == direction::tosend ? "REGISTERED TOSEND" : "REGISTERED TORECV", name);
}
inline std::string error(int code, std::string_view text) {
  return "ERROR " + std::to_string(code) + " " + std::string(text) + std::string(delimiter);
}
inline std::string error(hcp2::errc code, std::string_view text) { return error(static_cast<int>(code), text); }
inline std::string error(hcp2::errc code) { return error(code, phrase(code)); }
inline std::string error(int code) { return error(static_cast<hcp2::errc>(code)); }
inline std::string forward(std::string_view sender, std::string_view body) {
  detail::check_name(sender);
  return detail::with_body("FORWARD", sender, body);
}
inline std::string sent(std::string_view recipient) {
  detail::check_name(recipient);
  return detail::line("SENT", recipient);
}

// Client -> server (for tests and tools).
inline std::string register_line(direction d, std::string_view name) {
  detail::check_name(name);
  return detail::line(d == direction::tosend ? "REGISTER TOSEND" : "REGISTER TORECV", name);
}
inline std::string send(std::string_view recipient, std::string_view body) {
  detail::check_name(recipient);
  return detail::with_body("SEND", recipient, body);
}
inline std::string received(std::string_view sender) {
  detail::check_name(sender);
  return detail::line("RECEIVED", sender);
}

// One frame's header, without the trailing delimiter. Structural only, like
// hcp2::parse: whether the name is acceptable (is_valid_name), the command
// allowed on this connection or the ERROR code known is the server's decision.
enum class command_kind {
  register_,   // REGISTER TOSEND|TORECV arg
  send,        // SEND arg (+ content_length); also the seed's "SEND rcpt" success reply
  received,    // RECEIVED arg
  error,       // ERROR code arg (arg: the phrase as sent, any case)
  registered,  // REGISTERED TOSEND|TORECV arg (server replies: for clients and tests)
  forward,     // FORWARD arg (+ content_length)
  sent,        // SENT arg
  unknown,     // anything else; arg: the first line
};
struct command {
  command_kind kind = command_kind::unknown;
  text::direction direction = text::direction::tosend;  // register_ and registered only
  std::string_view arg;                                 // a view into the header
  int code = 0;                                         // error only
  std::optional<std::size_t> content_length;            // a well-formed Content-length field, any command
};

inline command parse_command(std::string_view header) {
  command c;
  auto const eol = header.find('\n');
  std::string_view first = header.substr(0, eol);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);  // as header_field reads lines
  if (eol != std::string_view::npos) {
    // Only the lines after the command line are fields. Length rules are the
    // header_body codec's: decimal digits that fit a size_t.
    if (auto v = howdy::codec::header_field(header.substr(eol + 1), content_length_field); v && !v->empty()) {
      std::size_t n = 0;
      auto const [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
      if (ec == std::errc{} && p == v->data() + v->size()) c.content_length = n;
    }
  }
  c.arg = first;

  // "WORD" or "WORD rest": the word must be a whole word.
  auto const space = first.find(' ');
  auto const word = first.substr(0, space);
  auto const rest = space == std::string_view::npos ? std::string_view{} : first.substr(space + 1);
  auto const with_direction = [&](command_kind k) {
    auto const sp = rest.find(' ');
    auto const d = rest.substr(0, sp);
    if (d != "TOSEND" && d != "TORECV") return;  // stays unknown
    c.kind = k;
    c.direction = d == "TOSEND" ? direction::tosend : direction::torecv;
    c.arg = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  };

  if (word == "REGISTER") {
    with_direction(command_kind::register_);
  } else if (word == "REGISTERED") {
    with_direction(command_kind::registered);
  } else if (word == "SEND" || word == "RECEIVED" || word == "FORWARD" || word == "SENT") {
    c.kind = word == "SEND"       ? command_kind::send
             : word == "RECEIVED" ? command_kind::received
             : word == "FORWARD"  ? command_kind::forward
                                  : command_kind::sent;
    c.arg = rest;
  } else if (word == "ERROR") {
    // "ERROR nnn phrase": nnn decimal, the phrase optional and in any case.
    auto const sp = rest.find(' ');
    auto const digits = rest.substr(0, sp);
    int code = 0;
    auto const [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), code);
    if (!digits.empty() && digits.size() <= 5 && ec == std::errc{} && p == digits.data() + digits.size() &&
        digits.front() != '-') {
      c.kind = command_kind::error;
      c.code = code;
      c.arg = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
    }
  }
  return c;
}

}  // namespace hcp::text
