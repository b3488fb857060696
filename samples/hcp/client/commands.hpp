// howdy-client: what a typed line means, as text: "/word args", "@name text",
// "/msg ROOM text", "/login NAME PASSWORD", and the /help page. Pure
// functions on strings, shared by the session (which acts on the parts) and
// the terminal UI (which hides a password being typed).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hcp::client {

// "/word rest": the word and the rest with the spaces around it trimmed.
inline std::pair<std::string_view, std::string_view> split_command(std::string_view line) {
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return {line, {}};
  auto rest = line.substr(space + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  return {line.substr(0, space), rest};
}

// A room name as typed: one leading '#' is optional ("/join #general").
inline std::string_view room_name(std::string_view typed) {
  if (typed.starts_with('#')) typed.remove_prefix(1);
  return typed;
}

// "NAME text" (after the '@' of a whisper, or after "/msg" for a room).
// Names may contain spaces ("Jon Stewart"), so the longest of `known`
// followed by a space wins; otherwise the name is the first word. The text is
// what follows the name's space (empty if nothing does).
struct addressed_text {
  std::string_view target;
  std::string_view text;
};
template <class Names>
addressed_text split_addressed(std::string_view rest, const Names& known) {
  std::string_view target;
  for (const auto& n : known)
    if (n.size() > target.size() && rest.size() > n.size() && rest.starts_with(n) && rest[n.size()] == ' ') target = n;
  if (target.empty()) target = rest.substr(0, rest.find(' '));
  const std::string_view text = rest.size() > target.size() ? rest.substr(target.size() + 1) : std::string_view{};
  return {target, text};
}

// Splits "/login NAME PASSWORD" arguments: the name is the first word, or a
// name in double quotes ("/login \"Jon Stewart\" pass"), and the password all
// the rest, spaces included (a passphrase must never be taken for part of a
// name: the name is public). Empty parts when either is missing.
struct name_and_password {
  std::string_view name;
  std::string_view password;
};

namespace detail {
// Where the name ends in `args` from `from` on (at a space, or after the
// closing quote), and where it starts; npos when a quote is not closed.
template <class Char>
std::pair<std::size_t, std::size_t> name_span(std::basic_string_view<Char> args, std::size_t from) {
  while (from < args.size() && args[from] == static_cast<Char>(' ')) ++from;
  if (from < args.size() && args[from] == static_cast<Char>('"')) {
    const auto close = args.find(static_cast<Char>('"'), from + 1);
    if (close == std::basic_string_view<Char>::npos) return {from, close};
    return {from + 1, close};
  }
  auto end = args.find(static_cast<Char>(' '), from);
  return {from, end == std::basic_string_view<Char>::npos ? args.size() : end};
}

// Where the password starts after a name that ends at `name_end`, or npos.
template <class Char>
std::size_t password_after(std::basic_string_view<Char> args, std::size_t name_end) {
  std::size_t p = name_end;
  if (p < args.size() && args[p] == static_cast<Char>('"')) ++p;  // the closing quote
  while (p < args.size() && args[p] == static_cast<Char>(' ')) ++p;
  auto end = args.size();
  while (end > p && args[end - 1] == static_cast<Char>(' ')) --end;
  return p < end ? p : std::basic_string_view<Char>::npos;
}
}  // namespace detail

inline name_and_password split_name_password(std::string_view args) {
  const auto [start, end] = detail::name_span(args, 0);
  if (end == std::string_view::npos || end == start) return {};
  const auto p = detail::password_after(args, end);
  if (p == std::string_view::npos) return {};
  auto last = args.size();
  while (last > p && args[last - 1] == ' ') --last;
  return {args.substr(start, end - start), args.substr(p, last - p)};
}

// For "/login ..." and "/register ..." lines: where the password starts
// (what split_name_password would take), or npos when the line is not one of
// them or has no password yet. The UI hides these characters.
template <class Char>
std::size_t password_start(std::basic_string_view<Char> line) {
  for (std::string_view command : {"/login ", "/register "}) {
    if (line.size() < command.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < command.size() && match; ++i) match = line[i] == static_cast<Char>(command[i]);
    if (!match) continue;
    const auto [start, end] = detail::name_span(line, command.size());
    if (end == std::basic_string_view<Char>::npos || end == start) return std::basic_string_view<Char>::npos;
    return detail::password_after(line, end);
  }
  return std::basic_string_view<Char>::npos;
}

// The commands, for Tab completion in the terminal UI.
inline const std::vector<std::string_view>& command_names() {
  static const std::vector<std::string_view> names{"/help",  "/join",     "/leave", "/login", "/me",
                                                   "/members", "/msg",    "/part",  "/quit",  "/register",
                                                   "/rooms", "/switch",   "/users", "/who"};
  return names;
}

// The /help page, one display line each; commands only HCP/2 has are marked
// when connected over HCP/1. `terminal`: the terminal UI's page (a current
// room, keys); line mode's page is as it always was.
inline std::vector<std::string> help_lines(bool hcp1, bool terminal = false) {
  const std::string only2 = hcp1 ? "  (HCP/2 only)" : "";
  if (terminal) {
    std::vector<std::string> lines{
        "Type a line and press Enter to send it to the current room (the status bar shows it in [ ];",
        "  at first [everyone]: every user online).",
        "  @name text               whisper to one user (@All text: to everyone)",
        "  /me action               send an action: \"* you action\"",
        "  //text                   send a line that starts with /",
        "  /who                     show who is online",
        "  /users                   all users: accounts online or offline, guests online" + only2,
        "  /join ROOM               join a room (made if missing; the # is optional) and make it current" + only2,
        "  /switch ROOM             make a joined room current; /switch or /join alone: back to everyone" + only2,
        "  /part [ROOM], /leave     leave a room (the current one if none is named)" + only2,
        "  /rooms                   list the rooms with their member counts" + only2,
        "  /members ROOM            show a room's members" + only2,
        "  /msg ROOM text           send to a room you joined, without switching" + only2,
        "  /register NAME PASSWORD  create an account and sign in (instead of a name)" + only2,
        "  /login NAME PASSWORD     sign in to your account (instead of a name)" + only2,
        "  /help                    show this help",
        "  /quit                    leave (Ctrl-C too)",
        "Keys: Tab completes names, commands and rooms; Alt-N the window numbered N in the status bar (1: everyone);",
        "  PgUp/PgDn scroll, End back to the newest; Up/Down earlier lines; Ctrl-A/Ctrl-E line start/end;",
        "  Ctrl-W delete a word, Ctrl-U the line; Ctrl-L repaint.",
        "Status bar: #room(3) = 3 messages in that room since it was current.",
    };
    if (!hcp1) {
      lines.emplace_back(
          "Whispers are marked [sent], then [delivered] once the recipient's client has them; a mark says why when "
          "no receipt will come (rooms, HCP/1 clients, offline users).");
      lines.emplace_back("Every line starts with its time; history from another day with its date too.");
    }
    return lines;
  }
  std::vector<std::string> lines{
      "Type a line and press Enter to send it to everyone.",
      "  @name text               whisper to one user (@All text: to everyone)",
      "  //text                   send a line that starts with /",
      "  /who                     show who is online",
      "  /users                   all users: accounts online or offline, guests online" + only2,
      "  /join ROOM               join a room (made if missing; the # is optional)" + only2,
      "  /leave ROOM              leave a room" + only2,
      "  /rooms                   list the rooms with their member counts" + only2,
      "  /members ROOM            show a room's members" + only2,
      "  /msg ROOM text           send to a room you joined" + only2,
      "  /register NAME PASSWORD  create an account and sign in (instead of a name)" + only2,
      "  /login NAME PASSWORD     sign in to your account (instead of a name)" + only2,
      "  /help                    show this help",
      "  /quit                    leave (Ctrl-C too)",
  };
  if (!hcp1) {
    lines.emplace_back("Whispers are marked [sent], then [delivered] once the recipient's client has them.");
    lines.emplace_back(
        "NAME is one word, or in double quotes (\"Jon Stewart\"); PASSWORD is the rest of the line, spaces included. The UI hides it; in line mode it is read from the input as typed.");
  }
  return lines;
}

}  // namespace hcp::client
