// howdy-client: HCP/2 frames as the display lines the client shows for them
// (messages, rosters, room lists, error codes, server times). Pure functions:
// the session decides when a line is shown.
#pragma once

#include "../wire/hcp2.hpp"
#include "clock.hpp"  // clock_time, for history lines in line mode

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hcp::client {

// What an error code means: the server's text if it sent one, else ours.
inline std::string code_text(std::uint16_t code, std::string_view text) {
  if (!text.empty()) return std::string(text);
  if (const auto known = hcp2::describe(static_cast<hcp2::errc>(code)); known != "unknown error")
    return std::string(known);
  return "error " + std::to_string(code);
}

// What an error means to a person, for the terminal UI: a sentence of our
// own for the codes a user meets (the server's text for the rest), with the
// code after it only when `verbose` ("... (error 111)"). Line mode keeps
// "error N: text" (see on_error): scripts read the codes.
inline std::string human_error(std::uint16_t code, std::string_view text, bool verbose) {
  std::string out;
  switch (static_cast<hcp2::errc>(code)) {
    case hcp2::errc::unknown_recipient: out = "there is nobody of that name online"; break;
    case hcp2::errc::slow_consumer: out = "the server closed the connection: this client was reading too slowly"; break;
    case hcp2::errc::shutting_down: out = "the server is shutting down"; break;
    case hcp2::errc::handshake_timeout: out = "the server closed the connection: no name was chosen in time"; break;
    case hcp2::errc::idle_timeout: out = "the server closed the connection after a long silence"; break;
    case hcp2::errc::not_in_room: out = "you are not in that room (/join it first)"; break;
    case hcp2::errc::invalid_room: out = "that is not a valid room name"; break;
    case hcp2::errc::storage_failed: out = "the server could not store the message; it was not sent"; break;
    case hcp2::errc::room_limit: out = "you are in too many rooms (/leave one first)"; break;
    default: out = code_text(code, text); break;
  }
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  if (verbose) out += " (error " + std::to_string(code) + ")";
  return out;
}

// Why a name or sign-in was refused (NAME_REFUSED), for the terminal UI: our
// words for what people meet, the server's reason for the rest, the code
// after it only when `verbose`. Line mode shows the server's reason as it is.
inline std::string human_refusal(std::uint16_t code, std::string_view reason, bool verbose) {
  std::string out;
  switch (static_cast<hcp2::errc>(code)) {
    case hcp2::errc::signed_in_elsewhere:
      out = "that account is signed in elsewhere (on another connection); sign out there first";
      break;
    case hcp2::errc::wrong_password: out = "wrong password"; break;
    case hcp2::errc::unknown_account:
      out = "there is no account of that name (/register NAME PASSWORD makes one)";
      break;
    case hcp2::errc::name_registered:
      out = "that name belongs to an account (/login NAME PASSWORD if it is yours)";
      break;
    case hcp2::errc::too_many_attempts: out = "too many attempts; wait a little and try again"; break;
    case hcp2::errc::auth_required:
      out = "this server wants an account: /login NAME PASSWORD or /register NAME PASSWORD";
      break;
    case hcp2::errc::auth_disabled: out = "this server has no accounts: type a name instead"; break;
    default: out = code_text(code, reason); break;
  }
  if (verbose) out += " (error " + std::to_string(code) + ")";
  return out;
}

// "Amy says: hi", "Amy whispers to you: hi", "[#room] Amy: hi".
inline std::string message_text(const hcp2::message& v) {
  const std::string sender(v.sender);
  switch (v.kind) {
    case hcp2::target_kind::all:
      return sender + " says: " + std::string(v.text);
    case hcp2::target_kind::user:
      return sender + " whispers to you: " + std::string(v.text);
    case hcp2::target_kind::room:
      return "[#" + std::string(v.target) + "] " + sender + ": " + std::string(v.text);
  }
  return sender + ": " + std::string(v.text);
}

// "Amy (online), Bob (offline), Cy (guest)".
inline std::string roster_text(const std::vector<hcp2::roster_entry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    const bool online = e.status & hcp2::status_online;
    const bool account = e.status & hcp2::status_registered;
    if (!out.empty()) out += ", ";
    out += std::string(e.name) + (account  ? (online ? " (online)" : " (offline)")
                                  : online ? " (guest)"
                                           : " (guest, offline)");
  }
  return out;
}

// "Rooms (2): #a (1 member), #b (3 members)", or "Rooms: none".
inline std::string room_list_text(const hcp2::room_list& v) {
  if (v.rooms.empty()) return "Rooms: none";
  std::string line = "Rooms (" + std::to_string(v.rooms.size()) + "): ";
  bool first = true;
  for (const auto& r : v.rooms) {
    if (!first) line += ", ";
    first = false;
    line += "#" + std::string(r.room) + " (" + std::to_string(r.members) + (r.members == 1 ? " member)" : " members)");
  }
  return line;
}

inline std::string room_members_text(const hcp2::room_members& v) {
  if (v.members.empty()) return "#" + std::string(v.room) + " has no members (there is no such room)";
  return "Members of #" + std::string(v.room) + " (" + std::to_string(v.members.size()) +
         "): " + roster_text(v.members);
}

}  // namespace hcp::client
