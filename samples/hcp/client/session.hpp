// howdy-client: one chat session over a connection, whatever the protocol.
// It turns typed lines into actions (a name, a command, a chat line) and the
// protocol's events (a name accepted, users joining, ...) into display lines
// for a view. What goes on the wire is left to the protocol's session,
// hcp2_session.hpp or hcp1_session.hpp, which derive from this class.
//
// Everything runs on one io_context thread: the framed reader coroutine, the
// outbox's writer coroutine, and the input callbacks (on_line, on_end_of_input,
// on_interrupt) that the input sources post there.
#pragma once

#include "../wire/common.hpp"
#include "commands.hpp"
#include "connection.hpp"
#include "printable.hpp"
#include "view.hpp"

#include <howdy/utf8.hpp>

#include <asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hcp::client {

enum class wire { hcp1, hcp2 };

// Whom a chat line is for.
enum class audience { all, user, room };

struct session_options {
  std::string address;              // "host:port", for "Connected to ..."
  std::optional<std::string> name;  // proposed first; otherwise the first input line is
  // With `name`: sign in to that account instead of proposing a guest name
  // (HCP/2; `create`: REGISTER rather than LOGIN).
  std::optional<std::string> password;
  bool create = false;
  // A refused name or sign-in ends the session (refused() is true) instead of
  // asking for another name over this connection: the terminal UI asks while
  // not connected, so the server's handshake deadline never runs while a
  // person types (issue 14).
  bool hang_up_on_refusal = false;
  bool reconnected = false;                // "Reconnected to ..." rather than "Connected to ..."
  bool keep_password = false;              // identity() keeps an account's password, to sign in again
  std::vector<std::string> rejoin_rooms;   // joined again once signed in (HCP/2)
  bool verbose = false;                    // error codes next to the messages
  bool terminal = false;                   // for the terminal UI (else line mode, whose lines stay as they were)
  // Messages are shown at their server time (view::show_at; the terminal UI
  // puts a time in front of every line). Line mode leaves live lines as they
  // were, which scripts rely on, and puts the time in front of history lines.
  bool timestamps = false;
  std::string current_room;                // terminal UI: the room plain text went to, made current again
  std::chrono::milliseconds quit_wait{2000};     // after BYE / our shutdown, for the server to close
  std::chrono::milliseconds answer_wait{5000};   // for a WELCOME or an answer to a name
  std::size_t max_frame = 16 * 1024 * 1024 + 4;  // largest frame accepted from the server
};

class session {
 public:
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  virtual ~session() = default;

  // Runs the connection until it is closed; returns the exit status: 0 after
  // a quit asked for by the user (/quit, end of input, Ctrl-C) with a name,
  // 1 when the server ended the session or no name was ever accepted.
  asio::awaitable<int> run() {
    say((options_.reconnected ? "Reconnected to " : "Connected to ") + options_.address);
    greet();
    co_await exchange();
    cancel_timers();
    // Thrown only now, with both coroutines finished, so nothing still
    // suspended can outlive this session while the exception unwinds.
    if (failure_) std::rethrow_exception(failure_);
    co_return exit_status_;
  }

  // ---- input, called on the io_context's thread -----------------------------

  void on_line(std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // typed on a CRLF terminal or file
    if (closing_) return;
    pending_.push_back(std::move(line));
    take_input();
  }

  // Lines still queued are handled first; a WELCOME or name answer still due
  // is waited for (bounded by expect_answer).
  void on_end_of_input() {
    input_ended_ = true;
    take_input();
  }

  // Ctrl-C / SIGTERM: leave cleanly; a second one closes at once.
  void on_interrupt() {
    if (!closing_) return quit(my_name_.empty() ? 1 : 0);
    conn_.close();
  }

  // Ends the session at once (after an internal error): the reader and the
  // writer stop, and run() returns 1.
  void abort() {
    closing_ = true;
    exit_status_ = 1;
    conn_.close();
  }

  // True when the server ended the session (not the user).
  bool lost() const noexcept { return lost_; }
  bool named() const noexcept { return !my_name_.empty(); }
  // True when the session ended because a name or sign-in was refused (with hang_up_on_refusal).
  bool refused() const noexcept { return refused_; }
  // True once the session is leaving or gone: typed lines are not taken any more.
  bool closing() const noexcept { return closing_; }
  const std::string& last_line() const noexcept { return last_line_; }
  // The last error code the server sent (0: none), e.g. why it closed the connection.
  std::uint16_t last_error() const noexcept { return last_error_; }

  // How to sign in again after a lost connection: the accepted name, and for
  // an account its password (kept in memory only with keep_password).
  struct identity {
    std::string name;
    std::optional<std::string> password;
  };
  virtual identity who_i_am() const { return {my_name_, std::nullopt}; }
  // The rooms this session is in (HCP/2), to join them again after a reconnect.
  virtual std::vector<std::string> rooms() const { return {}; }
  // Where plain text goes (terminal UI, HCP/2): a room, or "" for everyone.
  virtual std::string current_room() const { return {}; }

  // "Name refused: ..." for a name that cannot go on the wire; empty if it can.
  static std::string name_problem(std::string_view name) {
    if (name.size() > name_field_size)
      return "names are at most " + std::to_string(name_field_size) + " bytes (this one has " +
             std::to_string(name.size()) + ")";
    if (!is_valid_name(name)) return "a name must be valid UTF-8 without control characters";
    return {};
  }

 protected:
  enum class state {
    greeting,      // HCP/2: HELLO sent, waiting for WELCOME
    need_name,     // waiting for the user to type a name
    name_pending,  // a proposal is out, waiting for the answer
    chatting,
  };

  session(tcp::socket socket, view& out, session_options options, wire protocol, howdy::outbox_options box_options)
      : conn_(std::move(socket), std::move(box_options)),
        view_(out),
        options_(std::move(options)),
        protocol_(protocol),
        quit_timer_(conn_.get_executor()),
        answer_wait_(conn_.get_executor()) {}

  // ---- what the protocol's session provides ------------------------------------

  // The first step once connected (HELLO, or proposing a name at once).
  virtual void greet() = 0;
  // Runs the connection with the protocol's codec, frames going to the
  // protocol's handler and the end to connection_ended().
  virtual asio::awaitable<void> exchange() = 0;
  virtual void send_name(const std::string& name) = 0;
  // `text` to `to` (a user or a room; "All" for everyone), echoed as `echo`.
  virtual void post_text(const std::string& to, const std::string& text, audience kind, const std::string& echo) = 0;
  virtual void send_bye() {}
  // "/who": ask the server, or show the list we have.
  virtual void who() { show_users(); }
  // "/login" or "/register" typed instead of a name.
  virtual void sign_in(std::string_view word, std::string_view /*args*/) { not_over_hcp1(word); }
  // A command the base does not know; false if the protocol does not either.
  virtual bool other_command(std::string_view /*word*/, std::string_view /*args*/) { return false; }
  // True while typed lines must wait for more than the state (a history replay).
  virtual bool input_held() const { return false; }
  // Hooks: a name is asked for; a name was accepted (before "Your name is").
  virtual void asking_for_name() {}
  virtual void name_taken() {}
  virtual void cancel_timers() {
    quit_timer_.cancel();
    answer_wait_.cancel();
  }

  // ---- for the protocol's session -----------------------------------------------

  void say(std::string line) { numbered_say(std::move(line)); }

  // A message, shown at its server time where the view shows times.
  void say_at(std::string line, std::uint64_t timestamp_us) {
    last_line_ = printable(line);
    if (options_.timestamps)
      view_.show_at(last_line_, timestamp_us);
    else
      view_.show(last_line_);
  }

  // "/me waves" as the terminal UI shows it: "* Amy waves". Line mode shows
  // a message's text as it came.
  std::string message_line(std::string_view sender, std::string_view text, std::string_view usual) const {
    if (options_.terminal && text.starts_with("/me ") && text.size() > 4)
      return "* " + std::string(sender) + " " + std::string(text.substr(4));
    return std::string(usual);
  }

  // say() that returns the line's number, for a mark added later.
  std::uint64_t numbered_say(std::string line) {
    last_line_ = printable(line);
    return view_.show(last_line_);
  }

  void not_over_hcp1(std::string_view word) {
    say(std::string(word) + " is not available over HCP/1 (connect with --protocol hcp2)");
  }

  // The connection's end, from exchange(): says why when it was not ours.
  void connection_ended(std::error_code ec, std::exception_ptr failure) {
    if (failure) {
      failure_ = failure;  // rethrown by run() once both coroutines are done
      abort();
    }
    if (!closing_) {
      // The server ended the session.
      lost_ = true;
      exit_status_ = 1;
      closing_ = true;
      view_.input_mode("");
      const auto& write_error = conn_.write_error();
      const bool closed = ec == howdy::error::end_of_stream || ec == howdy::error::truncated_frame;
      if (closed || (write_error && ec == asio::error::operation_aborted))
        say(closed ? "Server closed the connection" : "Connection lost: " + write_error.message());
      else
        say("Connection lost: " + ec.message());
    }
    cancel_timers();
  }

  // Leaves: HCP/2 says BYE; both flush, shut down sending and wait (bounded)
  // for the server to close.
  void quit(int status) {
    if (closing_) return;
    closing_ = true;
    exit_status_ = status;
    pending_.clear();
    view_.input_mode("");
    send_bye();
    conn_.finish(options_.quit_wait);
    quit_timer_.expires_after(options_.quit_wait);
    quit_timer_.async_wait([this](std::error_code ec) {
      if (ec) return;  // the reader ended first, as it should
      conn_.close();
    });
  }

  // The server owes an answer (WELCOME, NAME_OK...): a server that never
  // gives one must not leave the client waiting for ever.
  void expect_answer(std::chrono::milliseconds wait = {}) {
    answer_wait_.expires_after(wait.count() ? wait : options_.answer_wait);
    answer_wait_.async_wait([this](std::error_code ec) {
      if (ec || closing_) return;
      say(state_ == state::greeting ? "No answer from the server (an HCP/1 server? try --protocol hcp1)"
                                    : "No answer from the server");
      quit(my_name_.empty() ? 1 : 0);
    });
  }

  // ---- names --------------------------------------------------------------------

  void start_naming() {
    if (options_.name) {
      auto name = std::move(*options_.name);
      options_.name.reset();
      propose(name);
      return;
    }
    ask_for_name();
  }

  void ask_for_name() {
    answer_wait_.cancel();
    state_ = state::need_name;
    view_.input_mode("name");
    asking_for_name();
    take_input();
  }

  void propose(const std::string& name) {
    if (auto problem = name_problem(name); !problem.empty()) {
      say("Name refused: " + problem);
      return ask_for_name();
    }
    state_ = state::name_pending;
    view_.input_mode("");
    send_name(name);
    expect_answer();
  }

  void name_accepted(std::string_view name) {
    my_name_ = name;
    state_ = state::chatting;
    name_taken();
    say("Your name is " + my_name_);
    view_.input_mode("chat");
    view_.users_changed(users_, my_name_);
    // The online list follows at once (USERS / update). Lines typed ahead wait
    // for it, so a transcript always reads "Your name is", "Online: ...", then
    // the chat; a server that sends no list only delays them a moment.
    answer_wait_.expires_after(std::chrono::seconds(1));
    answer_wait_.async_wait([this](std::error_code ec) {
      if (ec || have_list_) return;
      have_list_ = true;
      take_input();
    });
  }

  // `why` is the whole line ("Name refused: taken"); another name is asked
  // for, here or (hang_up_on_refusal) by whoever runs the session.
  void name_refused(std::string why) {
    say(std::move(why));
    if (options_.hang_up_on_refusal) {
      refused_ = true;
      return quit(1);
    }
    ask_for_name();
  }

  // ---- the online list ------------------------------------------------------------

  template <class Names>
  void replace_users(const Names& names) {
    users_.clear();
    for (std::string_view n : names) users_.emplace(n);
    view_.users_changed(users_, my_name_);
    // Before the name is accepted the list is kept quietly; the first one
    // after it (and the answer to every /who) is shown.
    if (state_ != state::chatting) return;
    const bool first = !have_list_;
    have_list_ = true;
    show_users();
    if (first) {
      answer_wait_.cancel();
      take_input();
    }
  }

  // True once a list came after the name was accepted (or none came in time).
  bool have_list() const noexcept { return have_list_; }

  void show_users() {
    std::string line = "Online: ";
    bool first = true;
    for (const auto& n : users_) {
      if (!first) line += ", ";
      line += n;
      first = false;
    }
    say(line);
  }

  // Joins and leaves are shown once we are in and have seen the list; a join
  // of a name already present (or a leave of one absent) changes nothing.
  void user_joined(std::string_view name) {
    if (!users_.emplace(name).second) return;
    view_.users_changed(users_, my_name_);
    if (have_list_ && name != my_name_) say(std::string(name) + " joined");
  }

  void user_left(std::string_view name) {
    if (users_.erase(std::string(name)) == 0) return;
    view_.users_changed(users_, my_name_);
    if (have_list_) say(std::string(name) + " left");
  }

  // ---- typed lines ------------------------------------------------------------------

  // Handles queued lines while a name or a chat line can be taken; while a
  // proposal is out (or before WELCOME), they wait, so in line mode the next
  // line after a refusal is the next proposal.
  void take_input() {
    const auto ready = [this] {
      return state_ == state::need_name || (state_ == state::chatting && have_list_ && !input_held());
    };
    while (!closing_ && !pending_.empty() && ready()) {
      auto line = std::move(pending_.front());
      pending_.pop_front();
      if (state_ == state::need_name)
        on_name_line(line);
      else
        on_chat_line(line);
    }
    if (!closing_ && input_ended_ && pending_.empty() && ready()) quit(state_ == state::chatting ? 0 : 1);
  }

  // Sends to "All", one user or a room and echoes it (the protocol's session
  // may mark the echo later: [sent], [delivered]).
  void send_text(const std::string& to, const std::string& text, audience kind = audience::all) {
    if (!howdy::is_valid_utf8(text)) return say("Not sent: the text is not valid UTF-8");
    if (kind == audience::user && !is_valid_name(to)) return say("Not sent: '" + to + "' cannot be a user name");
    const bool action = options_.terminal && text.starts_with("/me ") && text.size() > 4;
    const std::string shown = action ? "* " + my_name_ + " " + text.substr(4) : text;
    const std::string echo = kind == audience::all    ? (action ? shown : "You say: " + text)
                             : kind == audience::room ? "[#" + to + "] " + (action ? shown : "You: " + text)
                                                      : "You whisper to " + to + ": " + shown;
    post_text(to, text, kind, echo);
  }

  // Plain text (and /me): to the current room, or to everyone.
  void send_plain(const std::string& text) {
    const auto room = current_room();
    if (room.empty()) return send_text("All", text);
    send_text(room, text, audience::room);
  }

  std::uint16_t last_error_ = 0;
  connection conn_;
  view& view_;
  session_options options_;
  const wire protocol_;
  state state_ = state::need_name;
  std::string my_name_;
  bool closing_ = false;
  std::set<std::string> users_;

 private:
  void on_name_line(const std::string& line) {
    if (line == "/quit") return quit(1);
    if (line.empty()) return;
    const auto [word, args] = split_command(line);
    if (word == "/login" || word == "/register") return sign_in(word, args);
    if (word == "/help") return help();
    propose(line);
  }

  void help() {
    for (auto& line : help_lines(protocol_ == wire::hcp1, options_.terminal)) say(std::move(line));
  }

  void on_chat_line(const std::string& line) {
    if (line.empty()) return;
    if (line[0] == '/' && (line.size() < 2 || line[1] != '/')) return command(line);
    if (line[0] == '@') return whisper_line(line);
    send_plain(line[0] == '/' ? line.substr(1) : line);  // "//text" sends "/text"
  }

  void command(const std::string& line) {
    const auto [word, args] = split_command(line);
    if (word == "/quit" || word == "/exit") return quit(0);
    if (word == "/who") return who();
    if (word == "/help") return help();
    if (word == "/me") {
      // An action: sent as the text "/me waves" (what HCP/1 and other clients
      // show as it is); this client shows "* Amy waves".
      if (args.empty()) return say("Usage: /me action");
      return send_plain("/me " + std::string(args));
    }
    if (other_command(word, args)) return;
    say("Unknown command " + std::string(word) + " (try /help)");
  }

  // "@name text"; "@All text" is to everyone.
  void whisper_line(const std::string& line) {
    const auto [target, text] = split_addressed(std::string_view(line).substr(1), users_);
    if (target.empty() || text.empty()) return say("Usage: @name text");
    send_text(std::string(target), std::string(text), target == "All" ? audience::all : audience::user);
  }

  asio::steady_timer quit_timer_;
  asio::steady_timer answer_wait_;  // bounds waits for the server: WELCOME, a name answer, the list after it

  bool have_list_ = false;  // a list was received since the name was accepted: joins/leaves are shown
  std::deque<std::string> pending_;
  bool input_ended_ = false;
  bool lost_ = false;
  bool refused_ = false;
  int exit_status_ = 0;
  std::exception_ptr failure_;
  std::string last_line_;
};

}  // namespace hcp::client
