// howdy-client: the terminal UI (ncursesw). Four windows, so output never
// lands in the line being typed:
//
//   +------------------------------------------+-----------+
//   | messages (scrollback: PgUp/PgDn)         | Online (n)|
//   |                                          | users     |
//   +------------------------------------------+-----------+
//   | status bar                                           |
//   | > input line                                         |
//   +------------------------------------------------------+
//
// Every message line starts with its time (the server's for a message, with
// the date when it is not from today; now for the rest); the rows a long line
// wraps to start under its text. The status bar shows the current room in
// brackets (where plain text goes) and the other rooms with their unread
// counts: "[#den] #lobby(3) everyone". Keys: Tab completes commands, names
// and rooms; Ctrl-W deletes a word, Ctrl-U the line; PgUp/PgDn scroll and
// End comes back to the newest; Alt-1 is everyone, Alt-2... the rooms.
//
// Every change redraws what it touched and then the input window, last, so
// the cursor always ends up in the input line. All curses calls happen on the
// io_context's thread: keys are read when the terminal becomes readable (an
// asio wait on a dup of fd 0), never from another thread.
#pragma once

#include "clock.hpp"
#include "commands.hpp"  // password_start: a password being typed is hidden; command_names, for Tab
#include "printable.hpp"
#include "text_width.hpp"
#include "view.hpp"

#include <asio/any_io_executor.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cwctype>
#include <utility>

#include <curses.h>

namespace hcp::client {

class curses_view final : public view {
 public:
  struct callbacks {
    // Enter on a non-empty line; false keeps the line in the input (not connected).
    std::function<bool(std::string)> line;
    std::function<void()> quit;             // Ctrl-C arriving as a key
  };

  // Starts curses on the terminal; throws std::runtime_error if it cannot
  // (unknown TERM...). The caller must have called setlocale(LC_ALL, "").
  curses_view(asio::any_io_executor ex, std::string title, callbacks cb)
      : title_(widen(title)), cb_(std::move(cb)), tty_(ex) {
    screen_ = newterm(nullptr, stdout, stdin);
    if (!screen_) throw std::runtime_error("cannot start the terminal UI (is TERM set correctly?)");
    set_term(screen_);
    cbreak();   // keys arrive one by one; Ctrl-C and Ctrl-Z still send their signals
    noecho();
    set_escdelay(25);  // Esc-prefixed keys (arrows...) need no long wait
    keypad(stdscr, TRUE);   // keys are read from stdscr only while the screen is
    nodelay(stdscr, TRUE);  // too small for an input window
    layout();
    if (!input_) {
      shutdown();
      throw std::runtime_error("cannot start the terminal UI (the terminal is too small?)");
    }
    const int fd = ::dup(STDIN_FILENO);  // the descriptor owns (and closes) the dup, never fd 0
    if (fd < 0) {
      shutdown();
      throw std::runtime_error("cannot watch the terminal for keys");
    }
    tty_.assign(fd);
    wait_for_keys();
  }

  curses_view(const curses_view&) = delete;
  curses_view& operator=(const curses_view&) = delete;

  ~curses_view() override { shutdown(); }

  // ---- view ---------------------------------------------------------------

  // Every line starts with its time: now, or the message's own (show_at).
  std::uint64_t show(std::string_view line) override { return add_line(clock_time(now_us()), line); }

  std::uint64_t show_at(std::string_view line, std::uint64_t timestamp_us) override {
    return add_line(clock_time(timestamp_us, true), line);
  }

  // Rewritten in place (a mark changed), keeping its time. If the line is not
  // on screen and the change matters (`notify`), it is shown as a new line
  // too, so that it is seen; on screen, once is enough (issue 14: a failed
  // send was shown twice).
  void update(std::uint64_t number, std::string_view line, bool notify) override {
    if (number < first_number_ || number - first_number_ >= history_.size()) return void(show(line));
    const auto index = static_cast<std::size_t>(number - first_number_);
    const bool visible = on_screen(index);
    auto& old = history_[index];
    auto now = old.substr(0, stamps_[index]) + widen(line);
    // Scrolled back past it: a change in its height must not move the rows on screen.
    if (scroll_ > 0 && msg_ && !visible && rows_below(index) < scroll_) {
      const int w = getmaxx(msg_);
      scroll_ = std::max(0, scroll_ + static_cast<int>(rows_of(now, stamps_[index], w).size()) -
                                        static_cast<int>(rows_of(old, stamps_[index], w).size()));
    }
    old = std::move(now);
    if (notify && !visible) return void(show(line));
    draw_messages();
    finish_drawing();
  }

  void rooms_changed(std::string_view current, const std::vector<room_unread>& rooms) override {
    current_room_ = std::string(current);
    rooms_ = rooms;
    draw_status();
    finish_drawing();
  }

  void users_changed(const std::set<std::string>& users, std::string_view me) override {
    users_.assign(users.begin(), users.end());
    me_ = std::string(me);
    draw_users();
    draw_status();
    finish_drawing();
  }

  void connection_status(std::string_view text) override {
    conn_status_ = widen(text);
    draw_status();
    finish_drawing();
  }

  void input_mode(std::string_view mode) override {
    prompt_ = mode == "name" ? L"Your name: " : mode == "chat" ? L"> " : mode == "offline" ? L"(offline) > " : L"";
    if (mode == "name") show("Choose a name and press Enter:");
    finish_drawing();
  }

  // ---- the rest -----------------------------------------------------------

  // After a terminal resize (SIGWINCH, which the caller catches so that keys
  // need not be polled): takes the new size and lays the windows out again.
  //
  // resizeterm() always queues a KEY_RESIZE (ncurses 6.4 does so even when the
  // size did not change), so it is called here only, never for a KEY_RESIZE
  // read as a key: doing that queued the next KEY_RESIZE, and read_keys()
  // span for ever (issue 14: a frozen, blank UI at 100 % CPU). The key queued
  // here is read (and found to change nothing) at once.
  void resized() {
    struct winsize ws {};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0 &&
        (ws.ws_row != LINES || ws.ws_col != COLS))
      resizeterm(ws.ws_row, ws.ws_col);
    size_changed();
    read_keys();
  }

  // The session is over: the next key (any) calls `done`.
  void wait_for_any_key(std::function<void()> done) {
    prompt_ = L"";
    any_key_ = std::move(done);
    finish_drawing();
  }

 private:
  static constexpr std::size_t max_history = 5000;     // lines kept for scrollback
  static constexpr std::size_t max_input = 16 * 1024;  // characters in the input line
  static constexpr std::size_t max_recall = 100;       // lines kept for Up/Down
  static constexpr std::size_t max_keys_per_turn = 512;  // keys handled before the network gets a turn

  static std::wstring widen(std::string_view utf8) {
    std::wstring w;
    for (char32_t cp : decode_utf8(utf8)) w += static_cast<wchar_t>(cp);
    return w;
  }

  void shutdown() noexcept {
    std::error_code ignored;
    tty_.cancel(ignored);
    tty_.close(ignored);
    if (!screen_) return;
    destroy_windows();
    endwin();
    delscreen(screen_);
    screen_ = nullptr;
  }

  void destroy_windows() {
    for (WINDOW** w : {&msg_, &side_, &status_, &input_})
      if (*w) {
        delwin(*w);
        *w = nullptr;
      }
  }

  // (Re)creates the windows for the current terminal size. Tiny terminals
  // get fewer windows rather than broken ones.
  // Lays the windows out again if the terminal's size is not the one they
  // were made for (nothing to do for a KEY_RESIZE that resized() caused).
  void size_changed() {
    int rows = 0;
    int cols = 0;
    getmaxyx(stdscr, rows, cols);
    if (rows != laid_out_rows_ || cols != laid_out_cols_) layout();
  }

  void layout() {
    destroy_windows();
    int rows = 0;
    int cols = 0;
    getmaxyx(stdscr, rows, cols);
    laid_out_rows_ = rows;
    laid_out_cols_ = cols;
    rows = std::max(rows, 1);
    cols = std::max(cols, 1);
    const int side_w = cols >= 50 ? std::clamp(cols / 4, 14, 28) : 0;  // users pane, with its border column
    const int msg_w = cols - side_w;
    if (rows >= 3) msg_ = newwin(rows - 2, msg_w, 0, 0);
    if (rows >= 3 && side_w > 0) side_ = newwin(rows - 2, side_w, 0, msg_w);
    if (rows >= 2) status_ = newwin(1, cols, rows - 2, 0);
    input_ = newwin(1, cols, rows - 1, 0);
    if (!input_) return;  // nothing can be drawn; the next resize tries again
    keypad(input_, TRUE);    // arrows, PgUp... as KEY_* codes
    nodelay(input_, TRUE);   // reading keys never blocks the io_context
    clearok(curscr, TRUE);   // repaint everything: the old layout may be on screen
    draw_messages();
    draw_users();
    draw_status();
    finish_drawing();
  }

  std::uint64_t add_line(std::string_view stamp, std::string_view line) {
    auto text = widen(stamp);
    stamps_.push_back(text.size() + 1);
    history_.push_back(text + L" " + widen(line));
    if (history_.size() > max_history) {
      history_.pop_front();
      stamps_.pop_front();
      ++first_number_;
    }
    // Scrolled back: keep the same rows on screen while new ones arrive below.
    if (scroll_ > 0 && msg_)
      scroll_ += static_cast<int>(rows_of(history_.back(), stamps_.back(), getmaxx(msg_)).size());
    draw_messages();
    draw_status();
    finish_drawing();
    return first_number_ + history_.size() - 1;
  }

  // A line's rows at width `w`: the rows after the first start under its
  // text, not under its time (when the window is wide enough for that).
  static std::vector<std::wstring> rows_of(const std::wstring& line, std::size_t stamp, int w) {
    auto rows = wrap(line, w);
    const int indent = static_cast<int>(stamp);
    if (rows.size() <= 1 || indent == 0 || w < indent + 20) return rows;
    std::wstring_view rest = std::wstring_view(line).substr(rows[0].size());
    if (!rest.empty() && rest.front() == L' ') rest.remove_prefix(1);  // the space wrap() broke at
    auto more = wrap(rest, w - indent);
    rows.resize(1);
    for (auto& r : more) rows.push_back(std::wstring(stamp, L' ') + r);
    return rows;
  }

  // Rows of the lines newer than history line `index`, counted only as far
  // as the view reaches (the rest cannot matter).
  int rows_below(std::size_t index) const {
    if (!msg_) return 0;
    const int limit = scroll_ + getmaxy(msg_);
    const int w = getmaxx(msg_);
    int below = 0;
    for (std::size_t i = history_.size(); i-- > index + 1 && below < limit;)
      below += static_cast<int>(rows_of(history_[i], stamps_[i], w).size());
    return below;
  }

  // Whether history line `index` has rows on the message window now.
  bool on_screen(std::size_t index) const {
    if (!msg_) return false;
    const int below = rows_below(index);
    const int rows = static_cast<int>(rows_of(history_[index], stamps_[index], getmaxx(msg_)).size());
    return below < scroll_ + getmaxy(msg_) && below + rows > scroll_;
  }

  // Writes `text` at (y, x), cut to `width` cells.
  static void put(WINDOW* w, int y, int x, std::wstring_view text, int width) {
    int used = 0;
    std::size_t n = 0;
    while (n < text.size() && used + cell_width(text[n]) <= width) used += cell_width(text[n++]);
    if (n > 0) mvwaddnwstr(w, y, x, text.data(), static_cast<int>(n));
  }

  void draw_messages() {
    if (!msg_) return;
    werase(msg_);
    const int h = getmaxy(msg_);
    const int w = getmaxx(msg_);
    // Rows from the bottom up, only as many as the view needs.
    std::vector<std::wstring> rows_up;
    const std::size_t need = static_cast<std::size_t>(scroll_ + h);
    for (std::size_t i = history_.size(); i-- > 0 && rows_up.size() < need;) {
      auto rows = rows_of(history_[i], stamps_[i], w);
      for (auto r = rows.rbegin(); r != rows.rend(); ++r) rows_up.push_back(std::move(*r));
    }
    // Cannot scroll past the oldest line.
    scroll_ = std::clamp(scroll_, 0, std::max(0, static_cast<int>(rows_up.size()) - h));
    const int shown = std::min(h, static_cast<int>(rows_up.size()) - scroll_);
    for (int i = 0; i < shown; ++i) put(msg_, shown - 1 - i, 0, rows_up[static_cast<std::size_t>(scroll_ + i)], w);
    wnoutrefresh(msg_);
  }

  void draw_users() {
    if (!side_) return;
    werase(side_);
    const int h = getmaxy(side_);
    const int w = getmaxx(side_) - 2;  // border column and a space
    mvwvline(side_, 0, 0, ACS_VLINE, h);
    wattron(side_, A_BOLD);
    put(side_, 0, 2, L"Online (" + std::to_wstring(users_.size()) + L")", w);
    wattroff(side_, A_BOLD);
    for (std::size_t i = 0; i < users_.size(); ++i) {
      const int y = static_cast<int>(i) + 1;
      if (y >= h) break;
      if (y == h - 1 && i + 1 < users_.size()) {
        put(side_, y, 2, L"+" + std::to_wstring(users_.size() - i) + L" more", w);
        break;
      }
      const bool me = users_[i] == me_;
      if (me) wattron(side_, A_BOLD);
      put(side_, y, 2, widen(users_[i]) + (me ? L" (you)" : L""), w);
      if (me) wattroff(side_, A_BOLD);
    }
    wnoutrefresh(side_);
  }

  void draw_status() {
    if (!status_) return;
    const int w = getmaxx(status_);
    wbkgd(status_, A_REVERSE);
    werase(status_);
    std::wstring left = L" " + title_;
    if (!me_.empty()) left += L"  as " + widen(me_);
    left += rooms_text();
    const std::wstring right = !conn_status_.empty() ? conn_status_ + L" "
                               : scroll_ > 0         ? L"scrolled back: End for live "
                                                     : L"PgUp/PgDn scroll  /help  /quit ";
    if (!conn_status_.empty()) {
      // Not connected: said first, where it cannot be cut off.
      left = L" " + conn_status_;
      put(status_, 0, 0, left, w);
      wnoutrefresh(status_);
      return;
    }
    put(status_, 0, 0, left, w);
    const int right_w = cell_width(right);
    if (cell_width(left) + 2 + right_w <= w) put(status_, 0, w - right_w, right, right_w);
    wnoutrefresh(status_);
  }

  // "  1:everyone [2:#den] 3:#lobby(3)": the windows in Alt-N order, where
  // plain text goes now in brackets, each room with the messages it had
  // since it was last current (nothing while no room is joined).
  std::wstring rooms_text() const {
    if (rooms_.empty() && current_room_.empty()) return {};
    std::wstring out = L" ";
    auto window = [&](std::size_t n, const std::wstring& label, bool current, std::size_t unread) {
      std::wstring w = std::to_wstring(n) + L":" + label;
      if (unread > 0) w += L"(" + std::to_wstring(unread) + L")";
      out += current ? L" [" + w + L"]" : L" " + w;
    };
    window(1, L"everyone", current_room_.empty(), 0);
    for (std::size_t i = 0; i < rooms_.size(); ++i)
      window(i + 2, L"#" + widen(rooms_[i].first), rooms_[i].first == current_room_, rooms_[i].second);
    return out;
  }

  // The prompt: "> ", or "#room> " while plain text goes to a room.
  std::wstring prompt() const {
    if (prompt_ == L"> " && !current_room_.empty()) return L"#" + widen(current_room_) + L"> ";
    return prompt_;
  }

  // Draws the input line, scrolled sideways so the cursor stays visible, and
  // puts the cursor there. Always last, so the terminal cursor ends up here.
  void finish_drawing() {
    if (!input_) return;
    werase(input_);
    const int w = getmaxx(input_);
    const auto shown_prompt = prompt();
    const int prompt_w = std::min(cell_width(shown_prompt), std::max(0, w - 2));
    put(input_, 0, 0, shown_prompt, prompt_w);
    const int room = std::max(1, w - prompt_w - 1);
    // A password being typed ("/login NAME PASSWORD") is drawn as stars.
    std::wstring shown = input_line_;
    if (const auto hide = password_start(std::wstring_view(shown)); hide != std::wstring_view::npos)
      std::fill(shown.begin() + static_cast<std::ptrdiff_t>(hide), shown.end(), L'*');
    if (cursor_ < first_shown_) first_shown_ = cursor_;
    // Back to the start when the line up to the cursor fits (after ^U, ^W, a
    // paste that replaced a long line, or a wider window).
    if (cell_width(std::wstring_view(shown).substr(0, cursor_)) <= room - 1) first_shown_ = 0;
    while (cell_width(std::wstring_view(shown).substr(first_shown_, cursor_ - first_shown_)) > room - 1) ++first_shown_;
    put(input_, 0, prompt_w, std::wstring_view(shown).substr(first_shown_), room);
    const int cursor_x = prompt_w + cell_width(std::wstring_view(shown).substr(first_shown_, cursor_ - first_shown_));
    wmove(input_, 0, std::min(cursor_x, w - 1));
    wnoutrefresh(input_);
    doupdate();
  }

  // ---- keys ---------------------------------------------------------------

  void wait_for_keys() {
    tty_.async_wait(asio::posix::descriptor_base::wait_read, [this](std::error_code ec) {
      if (ec) return;  // cancelled: the view is going away, do not touch it
      read_keys();
      if (screen_) wait_for_keys();
    });
  }

  // Handles the keys buffered now, at most max_keys_per_turn of them: a long
  // paste (or a key source that never runs dry) cannot keep the io_context
  // from the network; the rest is read in a later turn.
  void read_keys() {
    for (std::size_t n = 0;; ++n) {
      if (n == max_keys_per_turn) {
        finish_drawing();
        if (!read_again_) {
          read_again_ = true;
          asio::post(tty_.get_executor(), [this] {
            read_again_ = false;
            if (screen_) read_keys();
          });
        }
        return;
      }
      wint_t ch = 0;
      const int kind = wget_wch(input_ ? input_ : stdscr, &ch);
      if (kind == ERR) break;  // nothing more buffered
      if (kind == KEY_CODE_YES && ch == KEY_RESIZE) {  // not a key a person pressed
        size_changed();
        continue;
      }
      if (any_key_) {
        auto done = std::move(any_key_);
        any_key_ = nullptr;
        return done();
      }
      const bool tab = kind != KEY_CODE_YES && ch == L'\t';
      if (!tab) completions_.clear();  // any other key ends a completion
      const bool after_esc = std::exchange(esc_, false);
      if (kind == KEY_CODE_YES)
        on_key(static_cast<int>(ch));
      else if (after_esc && ch >= L'0' && ch <= L'9')
        switch_window(static_cast<int>(ch - L'0'));
      else
        on_char(static_cast<wchar_t>(ch));
    }
    finish_drawing();
  }

  void on_key(int key) {
    switch (key) {
      case KEY_ENTER: return submit();
      case KEY_BACKSPACE: return erase_before_cursor();
      case KEY_DC: return erase_at_cursor();
      case KEY_LEFT: if (cursor_ > 0) --cursor_; return;
      case KEY_RIGHT: if (cursor_ < input_line_.size()) ++cursor_; return;
      case KEY_HOME: cursor_ = 0; return;
      case KEY_END: return to_end();
      case KEY_UP: return recall(-1);
      case KEY_DOWN: return recall(+1);
      case KEY_PPAGE: return scroll_by(+page());
      case KEY_NPAGE: return scroll_by(-page());
      default: return;
    }
  }

  void on_char(wchar_t ch) {
    switch (ch) {
      case L'\n': case L'\r': return submit();
      case 0x7F: case 0x08: return erase_before_cursor();  // Backspace as DEL or ^H
      case 0x01: cursor_ = 0; return;                       // ^A
      case 0x05: cursor_ = input_line_.size(); return;      // ^E
      case 0x15: input_line_.clear(); cursor_ = 0; return;  // ^U
      case 0x17: return erase_word();                       // ^W
      case L'\t': return complete();
      case 0x1B: esc_ = true; return;                       // Esc: Alt-digit follows?
      case 0x0C: clearok(curscr, TRUE); layout(); return;   // ^L: repaint
      case 0x03: if (cb_.quit) cb_.quit(); return;          // ^C without a signal (raw terminals)
      default: break;
    }
    if (is_control(static_cast<char32_t>(ch)) || input_line_.size() >= max_input) return;
    input_line_.insert(cursor_++, 1, ch);
  }

  void submit() {
    if (input_line_.empty()) return;
    if (std::all_of(input_line_.begin(), input_line_.end(), [](wchar_t c) { return std::iswspace(c) != 0; })) {
      input_line_.clear();  // nothing to say: not sent as a blank message
      cursor_ = first_shown_ = 0;
      return;
    }
    if (cb_.line && !cb_.line(encode_utf8(input_line_))) return;  // kept: not connected
    // Up/Down bring a sign-in line back without its password.
    std::wstring remembered = input_line_;
    if (const auto hide = password_start(std::wstring_view(remembered)); hide != std::wstring_view::npos)
      remembered.erase(hide);
    if (recall_.empty() || recall_.back() != remembered) recall_.push_back(std::move(remembered));
    if (recall_.size() > max_recall) recall_.pop_front();
    recall_at_ = recall_.size();
    input_line_.clear();
    cursor_ = first_shown_ = 0;
    scroll_ = 0;  // sending jumps back to the newest messages
    draw_messages();
    draw_status();
  }

  void erase_before_cursor() {
    if (cursor_ == 0) return;
    input_line_.erase(--cursor_, 1);
  }

  // Ctrl-W: the word before the cursor, and the spaces after it.
  void erase_word() {
    auto start = cursor_;
    while (start > 0 && input_line_[start - 1] == L' ') --start;
    while (start > 0 && input_line_[start - 1] != L' ') --start;
    input_line_.erase(start, cursor_ - start);
    cursor_ = start;
  }

  // End: the cursor to the end of the line and, scrolled back, the view
  // back to the newest messages.
  void to_end() {
    cursor_ = input_line_.size();
    if (scroll_ == 0) return;
    scroll_ = 0;
    draw_messages();
    draw_status();
  }

  // Alt-N for the window the status bar numbers N: 1 is everyone, 2... the
  // rooms.
  void switch_window(int n) {
    if (!cb_.line || n < 1) return;
    if (n == 1) return void(cb_.line("/switch"));
    if (static_cast<std::size_t>(n - 2) >= rooms_.size()) return;
    cb_.line("/switch #" + rooms_[static_cast<std::size_t>(n - 2)].first);
  }

  // Tab: completes the word before the cursor: a command at the start of
  // the line, a room after '#' or as the first word after /join, /switch,
  // /leave, /part, /members, /msg, a name otherwise ('@' kept). Tab again
  // takes the next candidate.
  void complete() {
    if (!completions_.empty()) {
      // The last candidate inserted (and its space) is replaced by the next.
      completion_at_ = (completion_at_ + 1) % completions_.size();
      input_line_.erase(completion_start_, cursor_ - completion_start_);
      cursor_ = completion_start_;
    } else {
      auto start = cursor_;
      while (start > 0 && input_line_[start - 1] != L' ') --start;
      const std::wstring word = input_line_.substr(start, cursor_ - start);
      std::wstring lead;  // kept in front of every candidate: '@' or '#'
      std::vector<std::wstring> pool;
      const auto first_word = input_line_.substr(0, input_line_.find(L' '));
      const bool first_arg = start > 0 && input_line_.find(L' ') == start - 1;
      if (start == 0 && word.starts_with(L'/')) {
        for (std::string_view c : command_names()) pool.push_back(widen(c));
      } else if (word.starts_with(L'#') || (first_arg && is_room_command(first_word))) {
        if (word.starts_with(L'#')) lead = L"#";
        for (const auto& r : rooms_) pool.push_back(widen(r.first));
      } else {
        if (word.starts_with(L'@')) lead = L"@";
        for (const auto& u : users_)
          if (u != me_) pool.push_back(widen(u));
      }
      const auto prefix = std::wstring_view(word).substr(lead.size());
      for (const auto& c : pool)
        if (starts_with_folded(c, prefix)) completions_.push_back(lead + c);
      if (completions_.empty()) return;
      completion_start_ = start;
      completion_at_ = 0;
      input_line_.erase(start, cursor_ - start);
      cursor_ = start;
    }
    const auto text = completions_[completion_at_] + L" ";
    if (input_line_.size() + text.size() > max_input) return completions_.clear();
    input_line_.insert(cursor_, text);
    cursor_ += text.size();
  }

  static bool is_room_command(std::wstring_view word) {
    for (auto c : {L"/join", L"/switch", L"/leave", L"/part", L"/members", L"/msg"})
      if (word == c) return true;
    return false;
  }

  // Case-insensitive (as far as towlower goes) prefix match.
  static bool starts_with_folded(std::wstring_view s, std::wstring_view prefix) {
    if (prefix.size() > s.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
      if (std::towlower(static_cast<wint_t>(s[i])) != std::towlower(static_cast<wint_t>(prefix[i]))) return false;
    return true;
  }

  void erase_at_cursor() {
    if (cursor_ < input_line_.size()) input_line_.erase(cursor_, 1);
  }

  // Up/Down: earlier lines sent, as in a shell.
  void recall(int step) {
    if (recall_.empty()) return;
    const auto next = static_cast<long>(recall_at_) + step;
    if (next < 0 || next > static_cast<long>(recall_.size())) return;
    recall_at_ = static_cast<std::size_t>(next);
    input_line_ = recall_at_ < recall_.size() ? recall_[recall_at_] : std::wstring();
    cursor_ = input_line_.size();
  }

  int page() const { return msg_ ? std::max(1, getmaxy(msg_) - 1) : 1; }

  void scroll_by(int rows) {
    scroll_ = std::max(0, scroll_ + rows);
    draw_messages();  // clamps at the oldest line
    draw_status();
  }

  std::wstring title_;
  callbacks cb_;
  asio::posix::stream_descriptor tty_;
  SCREEN* screen_ = nullptr;
  WINDOW* msg_ = nullptr;
  WINDOW* side_ = nullptr;
  WINDOW* status_ = nullptr;
  WINDOW* input_ = nullptr;

  std::deque<std::wstring> history_;  // message lines, oldest first, each with its time in front
  std::deque<std::size_t> stamps_;    // the characters of each line's time (and its space)
  std::uint64_t first_number_ = 1;    // the number show() gave history_.front()
  int scroll_ = 0;                    // rows scrolled back from the newest
  std::vector<std::string> users_;
  std::string me_;
  std::string current_room_;        // "" for everyone
  std::vector<room_unread> rooms_;  // the rooms joined, with their unread counts
  // Tab completion: the candidates for the word being completed, and where
  // that word starts; Tab again takes the next one.
  std::vector<std::wstring> completions_;
  std::size_t completion_at_ = 0;
  std::size_t completion_start_ = 0;
  bool esc_ = false;  // an Esc came: a digit after it is Alt-digit
  std::wstring prompt_;
  std::wstring conn_status_;  // empty while connected
  std::wstring input_line_;
  std::size_t cursor_ = 0;       // in characters
  std::size_t first_shown_ = 0;  // first character of the input line on screen
  std::deque<std::wstring> recall_;
  std::size_t recall_at_ = 0;
  std::function<void()> any_key_;
  int laid_out_rows_ = -1;  // the size the windows were made for
  int laid_out_cols_ = -1;
  bool read_again_ = false;  // a read_keys() is posted
};

}  // namespace hcp::client
