// howdy-client: the client's life over connections. In line mode it is one
// session on one connection, as it always was: connect, the session reads
// names and lines from the input, and a lost connection ends the program
// (status 1), so scripts stay simple.
//
// In the terminal UI (issue 14) the view outlives the connections:
//   1. the name (or /login, /register) is asked for before connecting, so the
//      server's handshake deadline never runs while a person types; a refused
//      name ends that connection and the name is asked for again, offline;
//   2. a lost connection is followed by reconnecting with backoff and jitter
//      (backoff.hpp), signing in again as the same guest name or account (its
//      password kept in memory), joining the same rooms again; the account's
//      history gives what was missed. The scrollback and the line being typed
//      stay; Enter on a chat line while disconnected keeps it in the input.
//      --no-reconnect turns this off (the old "Press any key to exit").
#pragma once

#include "backoff.hpp"
#include "commands.hpp"
#include "connection.hpp"
#include "hcp1_session.hpp"
#include "hcp2_session.hpp"
#include "view.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cmath>
#include <deque>
#include <functional>
#include <memory>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace hcp::client {

struct app_options {
  std::string host;
  std::uint16_t port = 0;
  std::string address;  // host:port as shown
  wire protocol = wire::hcp2;
  std::optional<std::string> name;
  std::chrono::milliseconds connect_timeout{10000};
  bool terminal = false;
  bool reconnect = true;  // terminal UI only
  std::chrono::milliseconds reconnect_first{500};
  std::chrono::milliseconds reconnect_max{30000};
  std::chrono::milliseconds reconnect_attempt{5000};  // one connect attempt while reconnecting
  bool verbose = false;
};

class app {
 public:
  app(asio::any_io_executor ex, view& out, app_options options)
      : ex_(ex), view_(out), options_(std::move(options)), wake_(ex),
        backoff_(options_.reconnect_first, options_.reconnect_max) {}

  app(const app&) = delete;
  app& operator=(const app&) = delete;

  // Runs until the user quits or (line mode, or --no-reconnect) the
  // connection is lost. Returns the exit status.
  asio::awaitable<int> run() {
    // (Not a ?: of two co_awaits: g++ 12 mishandles that.)
    if (options_.terminal) co_return co_await run_terminal();
    co_return co_await run_line_mode();
  }

  // ---- input, on the io_context's thread --------------------------------------

  // A typed line. False: not taken now (not connected), the UI keeps it.
  bool on_line(std::string line) {
    if (session_ && !session_->closing() && !feed_pending_) {
      session_->on_line(std::move(line));
      return true;
    }
    if (asking_ || !options_.terminal) {
      // Line mode: lines read before the session exists wait for it.
      typed_.push_back(std::move(line));
      wake_.cancel();
      return true;
    }
    if (line == "/quit" || line == "/exit") {
      stop();
      return true;
    }
    if (!not_connected_said_) {
      not_connected_said_ = true;
      view_.show("Not connected: the line stays in the input; press Enter again once reconnected (/quit leaves)");
    }
    return false;
  }

  void on_end_of_input() {
    input_ended_ = true;
    if (session_ && !feed_pending_) session_->on_end_of_input();
  }

  // Ctrl-C / SIGTERM: the session leaves cleanly; offline, the client stops.
  void on_interrupt() {
    if (!session_) return stop();
    if (session_->closing()) stopping_ = true;  // leaving or lost already: no reconnecting after this
    session_->on_interrupt();                   // (a second one closes at once)
  }

  // After an internal error: ends at once.
  void abort() {
    stopping_ = true;
    if (session_) session_->abort();
    wake_.cancel();
  }

  // How the last session ended (for the caller's last words).
  bool lost() const noexcept { return lost_; }
  bool named() const noexcept { return named_; }
  const std::string& last_line() const noexcept { return last_line_; }
  // Set when the program must say something after the UI is gone.
  const std::string& farewell() const noexcept { return farewell_; }

 private:
  void stop() {
    stopping_ = true;
    exit_status_ = named_ ? 0 : 1;
    wake_.cancel();
    if (connecting_) {
      std::error_code ignored;
      connecting_->close(ignored);  // ends a connect attempt at once
    }
  }

  std::unique_ptr<session> make_session(tcp::socket socket, session_options o) {
    if (options_.protocol == wire::hcp2) return std::make_unique<hcp2_session>(std::move(socket), view_, std::move(o));
    return std::make_unique<hcp1_session>(std::move(socket), view_, std::move(o));
  }

  session_options base_options() const {
    session_options o;
    o.address = options_.address;
    o.timestamps = options_.terminal;
    o.terminal = options_.terminal;
    o.verbose = options_.verbose;
    return o;
  }

  // Sleeps until `d` has passed or something wakes us (a line, a quit).
  asio::awaitable<void> nap(std::chrono::milliseconds d) {
    wake_.expires_after(d);
    co_await wake_.async_wait(as_tuple_awaitable);
  }

  // ---- the terminal UI ------------------------------------------------------------

  asio::awaitable<int> run_terminal() {
    std::optional<session::identity> who;
    bool create = false;  // REGISTER, not LOGIN (until the account exists)
    if (options_.name) who = session::identity{*options_.name, std::nullopt};
    std::vector<std::string> rooms;
    std::string current_room;  // made current again after a reconnect
    bool again = false;  // reconnecting after a lost session
    for (;;) {
      if (!who) {
        who = co_await ask_identity(create);
        if (!who) co_return exit_status_;
        again = false;
      }
      tcp::socket socket(ex_);
      connecting_ = &socket;
      if (!again) {
        view_.connection_status("connecting to " + options_.address + "...");
        const auto ec = co_await connect_with_retries(
            socket, options_.host, options_.port, options_.connect_timeout, [this](std::error_code first) {
              view_.show("Cannot reach " + options_.address + " yet (" + first.message() + "); trying for up to " +
                         seconds_text(options_.connect_timeout) + " s");
            },
            std::chrono::milliseconds(200), std::chrono::seconds(1), &stopping_);
        connecting_ = nullptr;
        if (stopping_) co_return exit_status_;
        if (ec) co_return gave_up(ec);
      } else {
        const bool connected = co_await reconnect(socket);
        connecting_ = nullptr;
        if (!connected) co_return exit_status_;
      }
      view_.connection_status("");
      not_connected_said_ = false;
      auto o = base_options();
      o.name = who->name;
      o.password = who->password;
      o.create = create;
      o.hang_up_on_refusal = true;
      o.keep_password = options_.reconnect;
      o.reconnected = again;
      o.rejoin_rooms = rooms;
      o.current_room = current_room;
      session_ = make_session(std::move(socket), std::move(o));
      const int status = co_await session_->run();
      lost_ = session_->lost();
      last_line_ = session_->last_line();
      if (session_->named()) {
        named_ = true;
        who = session_->who_i_am();
        create = false;
        rooms = session_->rooms();
        current_room = session_->current_room();
        backoff_.reset();
      }
      const bool refused = session_->refused();
      const auto refusal = session_->last_error();
      session_.reset();  // its coroutines are done
      if (stopping_) co_return named_ ? 0 : 1;
      reconnect_reason_.clear();
      if (refused) {
        // Reconnecting after a network drop, the server may not have noticed
        // yet that the old connection is gone: it still holds the name (or
        // the account is "signed in elsewhere": on the old connection). That
        // passes once it notices, so keep the identity and try again, a
        // bounded number of times, before asking for a name.
        if (again && old_connection_refusal(refusal) && ++held_retries_ <= max_held_retries) {
          reconnect_reason_ = "the server still has the old connection";
          view_.input_mode("offline");
          view_.show("Reconnecting: the server still has the old connection; trying again as " + who->name);
          continue;
        }
        held_retries_ = 0;
        who.reset();
        continue;
      }
      held_retries_ = 0;
      if (!lost_ || !options_.reconnect) co_return status;
      again = true;
      view_.input_mode("offline");
      view_.show("Connection lost; reconnecting (/quit or Ctrl-C to leave)");
    }
  }

  // A refusal that, while reconnecting, means the server still has our old
  // connection: the name is taken (by us), or the account is signed in (by us).
  static bool old_connection_refusal(std::uint16_t code) noexcept {
    return code == static_cast<std::uint16_t>(hcp2::errc::name_taken) ||
           code == static_cast<std::uint16_t>(hcp2::errc::signed_in_elsewhere);
  }

  // The name or account to connect with, typed while not connected; nothing
  // if the user quits instead.
  asio::awaitable<std::optional<session::identity>> ask_identity(bool& create) {
    asking_ = true;
    view_.connection_status("not connected: choose a name to connect");
    view_.input_mode("name");
    if (options_.protocol == wire::hcp2 && !hint_shown_) {
      hint_shown_ = true;
      view_.show("Type a name to chat as a guest, or sign in: /login NAME PASSWORD, /register NAME PASSWORD");
    }
    std::optional<session::identity> result;
    while (!result) {
      while (typed_.empty() && !stopping_) co_await nap(std::chrono::hours(24));
      if (stopping_) break;
      auto line = std::move(typed_.front());
      typed_.pop_front();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      if (line == "/quit" || line == "/exit") {
        stop();
        break;
      }
      const auto [word, args] = split_command(line);
      if (word == "/help") {
        for (auto& l : help_lines(options_.protocol == wire::hcp1, options_.terminal)) view_.show(l);
        continue;
      }
      if (word == "/login" || word == "/register") {
        if (options_.protocol == wire::hcp1) {
          view_.show(std::string(word) + " is not available over HCP/1 (connect with --protocol hcp2)");
          continue;
        }
        const auto [name, password] = split_name_password(args);
        if (name.empty() || password.empty()) {
          view_.show("Usage: " + std::string(word) + " NAME PASSWORD");
          continue;
        }
        if (auto problem = session::name_problem(name); !problem.empty()) {
          view_.show("Cannot sign in: " + problem);
          continue;
        }
        if (auto problem = hcp2_session::password_problem(password); !problem.empty()) {
          view_.show("Cannot sign in: " + problem);
          continue;
        }
        create = word == "/register";
        result = session::identity{std::string(name), std::string(password)};
        continue;
      }
      if (auto problem = session::name_problem(line); !problem.empty()) {
        view_.show("Name refused: " + problem);
        continue;
      }
      create = false;
      result = session::identity{line, std::nullopt};
    }
    asking_ = false;
    typed_.clear();
    view_.input_mode("");
    co_return result;
  }

  // Waits (backoff with jitter, counting down on the status line) and tries
  // again until connected; false if the user quit meanwhile.
  asio::awaitable<bool> reconnect(tcp::socket& socket) {
    using clock = std::chrono::steady_clock;
    for (;;) {
      const auto until = clock::now() + backoff_.next();
      for (;;) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - clock::now());
        if (left.count() <= 0) break;
        const auto secs = (left.count() + 999) / 1000;
        view_.connection_status((reconnect_reason_.empty() ? "disconnected: reconnecting in "
                                                           : "reconnecting: " + reconnect_reason_ + "; again in ") +
                                std::to_string(secs) + " s (attempt " + std::to_string(backoff_.attempts()) +
                                "; /quit leaves)");
        // Wakes on the second, so the count goes down one by one.
        co_await nap(left % 1000 == std::chrono::milliseconds(0) ? std::chrono::milliseconds(1000) : left % 1000);
        if (stopping_) co_return false;
      }
      view_.connection_status("disconnected: reconnecting to " + options_.address + "...");
      const auto ec = co_await connect_with_retries(socket, options_.host, options_.port, std::chrono::milliseconds(0),
                                                    {}, std::chrono::milliseconds(200), options_.reconnect_attempt,
                                                    &stopping_);
      if (stopping_) co_return false;
      if (!ec) co_return true;
      std::error_code ignored;
      socket.close(ignored);
    }
  }

  // ---- line mode ------------------------------------------------------------------

  asio::awaitable<int> run_line_mode() {
    tcp::socket socket(ex_);
    connecting_ = &socket;
    const auto ec = co_await connect_with_retries(
        socket, options_.host, options_.port, options_.connect_timeout,
        [this](std::error_code first) { cannot_reach_yet(first); }, std::chrono::milliseconds(200),
        std::chrono::seconds(1), &stopping_);
    connecting_ = nullptr;
    if (stopping_) co_return exit_status_;
    if (ec) co_return gave_up(ec);
    auto o = base_options();
    o.name = options_.name;
    session_ = make_session(std::move(socket), std::move(o));
    // Once the session has greeted the server (run() below starts it).
    feed_pending_ = true;
    asio::post(ex_, [this] {
      feed_pending_ = false;
      if (!session_) return;
      for (auto& line : std::exchange(typed_, {})) session_->on_line(std::move(line));
      if (input_ended_) session_->on_end_of_input();
    });
    const int status = co_await session_->run();
    lost_ = session_->lost();
    named_ = session_->named();
    last_line_ = session_->last_line();
    if (!lost_ && !named_) farewell_ = "no name was accepted";
    co_return status;
  }

  void cannot_reach_yet(std::error_code first) {
    std::cerr << "howdy-client: cannot reach " << options_.address << ": " << first.message()
              << "; retrying for up to " << seconds_text(options_.connect_timeout) << " s\n";
  }

  int gave_up(std::error_code ec) {
    farewell_ = "cannot reach " + options_.address + ": " + ec.message() + " (gave up after " +
                seconds_text(options_.connect_timeout) + " s)";
    return 1;
  }

  static std::string seconds_text(std::chrono::milliseconds d) {
    std::ostringstream out;
    out << static_cast<double>(d.count()) / 1000;
    return out.str();
  }

  asio::any_io_executor ex_;
  view& view_;
  app_options options_;
  asio::steady_timer wake_;
  backoff backoff_;
  std::unique_ptr<session> session_;
  std::deque<std::string> typed_;  // lines typed while a name is asked for offline
  bool asking_ = false;
  bool input_ended_ = false;
  bool feed_pending_ = false;  // line mode: lines read early are about to go to the session
  bool hint_shown_ = false;
  tcp::socket* connecting_ = nullptr;  // a connect under way, closed by stop()
  bool stopping_ = false;              // also ends connect_with_retries
  // Reconnects refused because the server still has the old connection
  // (old_connection_refusal), in a row; past the bound a name is asked for.
  static constexpr unsigned max_held_retries = 8;
  unsigned held_retries_ = 0;
  std::string reconnect_reason_;  // on the status line while waiting to reconnect
  bool not_connected_said_ = false;
  bool lost_ = false;
  bool named_ = false;
  int exit_status_ = 1;
  std::string last_line_;
  std::string farewell_;
};

}  // namespace hcp::client
