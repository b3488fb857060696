// howdy-client: where the session's output goes. The session produces
// display lines and a few state changes; a view (the terminal UI in tui.hpp,
// or stdout in line_mode.hpp) shows them. Views know nothing of the wire
// formats, and the session nothing of how lines are drawn.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

namespace hcp::client {

class view {
 public:
  virtual ~view() = default;
  // One event line (already printable: see printable.hpp). Returns the
  // line's number, for update().
  virtual std::uint64_t show(std::string_view line) = 0;
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
};

}  // namespace hcp::client
