// howdy-client: where the session's output goes. The session produces
// display lines and a few state changes; a view (the terminal UI in tui.hpp,
// or stdout in line_mode.hpp) shows them. Views know nothing of the wire
// formats, and the session nothing of how lines are drawn.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>
#include <string>
#include <string_view>

namespace hcp::client {

class view {
 public:
  virtual ~view() = default;
  // One event line (already printable: see printable.hpp). Returns the
  // line's number, for update().
  // The terminal UI puts the local time in front of it.
  virtual std::uint64_t show(std::string_view line) = 0;
  // A line that has a time of its own (a message: the server's time of
  // acceptance, microseconds since the Unix epoch). The terminal UI shows
  // that time (with the date when it is not from today); a view without
  // times shows the line as show() does.
  virtual std::uint64_t show_at(std::string_view line, std::uint64_t /*timestamp_us*/) { return show(line); }
  // Line `number` now reads `line` (a whisper's mark changed: sent, delivered).
  // A view that can rewrite a shown line does; one that cannot shows `line`
  // as a new line. `notify`: the change matters (not delivered), so a view
  // that rewrites in place shows it as a new line as well.
  virtual void update(std::uint64_t number, std::string_view line, bool notify) = 0;
  // The online list changed; `me` is empty until a name is accepted.
  virtual void users_changed(const std::set<std::string>& /*users*/, std::string_view /*me*/) {}
  // What typed lines are for now: "name" (a name proposal), "chat", "offline"
  // (kept until reconnected), or "" (nothing is asked).
  virtual void input_mode(std::string_view /*mode*/) {}
  // Whether we are connected: empty when we are, else what is going on
  // ("disconnected: reconnecting in 4 s"), for a status line.
  virtual void connection_status(std::string_view /*text*/) {}
  // The rooms joined (terminal UI, HCP/2), each with the messages that came
  // while it was not the current room, and the current one ("" for everyone:
  // plain text goes to the current room).
  using room_unread = std::pair<std::string, std::size_t>;
  virtual void rooms_changed(std::string_view /*current*/, const std::vector<room_unread>& /*rooms*/) {}
};

}  // namespace hcp::client
