// howdy-client: one connection to an HCP server, spoken in HCP/2 or HCP/1.
// The session turns frames into display lines and typed lines into frames;
// how lines are shown (plain stdout or the ncurses UI) is the view's job.
//
// Everything runs on one io_context thread: the framed reader coroutine, the
// outbox's writer coroutine, and the input callbacks (on_line, on_end_of_input,
// on_interrupt) that the input sources post there.
#pragma once

#include "client_text.hpp"
#include "protocol.hpp"

#include <howdy.hpp>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hcp::client {

using tcp = asio::ip::tcp;
inline constexpr auto as_tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);

enum class wire { hcp1, hcp2 };

// Where the session's output goes.
class view {
 public:
  virtual ~view() = default;
  // One event line (already printable: see client_text.hpp). Returns the
  // line's number, for update().
  virtual std::uint64_t show(std::string_view line) = 0;
  // Line `number` now reads `line` (a whisper's mark changed: sent, delivered).
  // A view that can rewrite a shown line does; one that cannot shows `line`
  // as a new line. `notify`: the change matters (not delivered), so a view
  // that rewrites in place shows it as a new line as well.
  virtual void update(std::uint64_t number, std::string_view line, bool notify) = 0;
  // The online list changed; `me` is empty until a name is accepted.
  virtual void users_changed(const std::set<std::string>& /*users*/, std::string_view /*me*/) {}
  // What typed lines are for now: "name" (a name proposal), "chat", or "" (nothing is asked).
  virtual void input_mode(std::string_view /*mode*/) {}
};

// "host:port", with IPv6 literals in brackets.
inline std::string host_port(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Connects to host:port, trying again every `retry_every` until `timeout` has
// passed. Every attempt is bounded by the deadline; the first one gets at
// least a second, so a zero timeout still means one real try. `on_retry` is
// called once, with the first failure, when a retry follows. Returns the last
// attempt's error, or nothing on success.
inline asio::awaitable<std::error_code> connect_with_retries(tcp::socket& socket, std::string host,
                                                             std::uint16_t port, std::chrono::milliseconds timeout,
                                                             std::function<void(std::error_code)> on_retry,
                                                             std::chrono::milliseconds retry_every = std::chrono::milliseconds(200)) {
  using namespace asio::experimental::awaitable_operators;
  using clock = std::chrono::steady_clock;
  auto ex = co_await asio::this_coro::executor;
  const auto start = clock::now();
  const auto deadline = start + timeout;
  tcp::resolver resolver(ex);
  asio::steady_timer timer(ex);
  bool retried = false;
  for (;;) {
    std::error_code ec;
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), as_tuple_awaitable);
    if (resolve_ec) {
      ec = resolve_ec;
    } else {
      timer.expires_at(retried ? deadline : std::max(deadline, start + std::chrono::seconds(1)));
      auto result = co_await (asio::async_connect(socket, endpoints, as_tuple_awaitable) ||
                              timer.async_wait(as_tuple_awaitable));
      if (result.index() == 0) {
        ec = std::get<0>(std::get<0>(result));
        if (!ec) co_return std::error_code{};
      } else {
        ec = asio::error::timed_out;
        std::error_code ignored;
        socket.close(ignored);
      }
    }
    const auto now = clock::now();
    if (now >= deadline) co_return ec;
    if (!retried && on_retry) on_retry(ec);
    retried = true;
    timer.expires_after(std::min<clock::duration>(retry_every, deadline - now));
    co_await timer.async_wait(as_tuple_awaitable);
  }
}

struct session_options {
  wire protocol = wire::hcp2;
  std::string address;              // "host:port", for "Connected to ..."
  std::optional<std::string> name;  // proposed first; otherwise the first input line is
  // Live messages start with their server time ("HH:MM:SS "). History always
  // does; line mode leaves live lines as they were, which scripts rely on.
  bool timestamps = false;
  std::chrono::milliseconds quit_wait{2000};    // after BYE / our shutdown, for the server to close
  std::chrono::milliseconds answer_wait{5000};  // for a WELCOME or an answer to a name
  std::size_t max_frame = 16 * 1024 * 1024 + 4;  // largest frame accepted from the server
};

class session {
 public:
  session(tcp::socket& socket, view& out, session_options options)
      : socket_(socket),
        view_(out),
        options_(std::move(options)),
        quit_timer_(socket.get_executor()),
        answer_wait_(socket.get_executor()),
        history_wait_(socket.get_executor()) {
    howdy::outbox_options box_options;
    // The original HCP/1 server takes one recv() as one packet: writing
    // packets one by one (never gathered into one write) gives it its best chance.
    if (options_.protocol == wire::hcp1) box_options.max_batch = 1;
    box_ = std::make_shared<howdy::outbox>(socket.get_executor(), std::move(box_options));
  }

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Runs the connection until it is closed; returns the exit status: 0 after
  // a quit asked for by the user (/quit, end of input, Ctrl-C) with a name,
  // 1 when the server ended the session or no name was ever accepted.
  asio::awaitable<int> run() {
    using namespace asio::experimental::awaitable_operators;
    std::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);  // chat lines are small and interactive
    say("Connected to " + options_.address);
    if (options_.protocol == wire::hcp2) {
      state_ = state::greeting;
      send_frame(hcp2::hello_size(), [](auto out) { hcp2::write_hello(out); });
      expect_answer();
    } else {
      start_naming();
    }
    if (options_.protocol == wire::hcp2)
      co_await (read_loop(howdy::codec::hcp2{}) && write_loop());
    else
      co_await (read_loop(howdy::codec::hcp1{}) && write_loop());
    quit_timer_.cancel();
    answer_wait_.cancel();
    history_wait_.cancel();
    socket_.close(ignored);
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
    std::error_code ignored;
    socket_.close(ignored);
  }

  // Ends the session at once (after an internal error): the reader and the
  // writer stop, and run() returns 1.
  void abort() {
    closing_ = true;
    exit_status_ = 1;
    std::error_code ignored;
    socket_.close(ignored);
  }

  // True when the server ended the session (not the user).
  bool lost() const noexcept { return lost_; }
  bool named() const noexcept { return !my_name_.empty(); }
  const std::string& last_line() const noexcept { return last_line_; }

 private:
  enum class state {
    greeting,      // HCP/2: HELLO sent, waiting for WELCOME
    need_name,     // waiting for the user to type a name
    name_pending,  // a proposal is out, waiting for the answer
    chatting,
  };

  enum class account_action { none, login, register_ };

  // A message we sent: the echo line shown for it, waiting for SENT (by
  // client_ref) and, for a whisper, DELIVERED or NOT_DELIVERED (by id).
  struct outgoing {
    std::uint64_t line = 0;
    std::string echo;    // the echo line without a mark
    std::string target;  // the recipient or the room; empty for everyone
    hcp2::target_kind kind = hcp2::target_kind::all;
  };
  static constexpr std::size_t max_tracked = 10000;        // bounds the maps below
  static constexpr std::size_t max_history_buffer = 5000;  // history lines held before they are shown

  void say(std::string line) { numbered_say(std::move(line)); }

  // say() that returns the line's number, for a mark added later.
  std::uint64_t numbered_say(std::string line) {
    last_line_ = printable(line);
    return view_.show(last_line_);
  }

  template <class Write>
  void send_frame(std::size_t size, Write&& write) {
    box_->push(howdy::shared_buffer::make(size, [&](std::span<std::byte> out) { write(out); }));
  }

  // ---- the connection ---------------------------------------------------------

  template <class Codec>
  asio::awaitable<void> read_loop(Codec codec) {
    howdy::framed_reader reader(socket_, std::move(codec), {.max_frame_size = options_.max_frame});
    std::error_code ec;
    try {
      for (;;) {
        auto [read_ec, frame] = co_await reader.async_next(as_tuple_awaitable);
        if (read_ec) {
          ec = read_ec;
          break;
        }
        if (options_.protocol == wire::hcp2)
          on_hcp2_frame(frame.bytes);
        else
          on_hcp1_packet(frame.bytes);
      }
    } catch (...) {
      // Kept for run(): the writer must be stopped before anything unwinds.
      failure_ = std::current_exception();
      abort();
    }
    if (!closing_) {
      // The server ended the session.
      lost_ = true;
      exit_status_ = 1;
      closing_ = true;
      view_.input_mode("");
      const bool closed = ec == howdy::error::end_of_stream || ec == howdy::error::truncated_frame;
      if (closed || (write_error_ && ec == asio::error::operation_aborted))
        say(closed ? "Server closed the connection" : "Connection lost: " + write_error_.message());
      else
        say("Connection lost: " + ec.message());
    }
    quit_timer_.cancel();
    history_wait_.cancel();
    // The writer may be idle: stop it (nothing more can be delivered anyway).
    box_->fail(howdy::error::outbox_closed);
  }

  asio::awaitable<void> write_loop() {
    const auto ec = co_await box_->run(socket_);
    std::error_code ignored;
    if (!ec) {
      // close() was called and everything queued is written: tell the server
      // we are done sending; it closes its side, which ends the reader.
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
    } else if (ec != howdy::error::outbox_closed) {
      write_error_ = ec;  // the outbox closed the socket, so the reader ends too
    }
  }

  // Leaves: HCP/2 says BYE; both flush, shut down sending and wait (bounded)
  // for the server to close.
  void quit(int status) {
    if (closing_) return;
    closing_ = true;
    exit_status_ = status;
    pending_.clear();
    view_.input_mode("");
    if (options_.protocol == wire::hcp2) send_frame(hcp2::bye_size(), [](auto out) { hcp2::write_bye(out); });
    box_->close(options_.quit_wait);
    quit_timer_.expires_after(options_.quit_wait);
    quit_timer_.async_wait([this](std::error_code ec) {
      if (ec) return;  // the reader ended first, as it should
      std::error_code ignored;
      socket_.close(ignored);
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

  // ---- names ------------------------------------------------------------------

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
    if (options_.protocol == wire::hcp2 && !sign_in_hint_shown_) {
      sign_in_hint_shown_ = true;
      say("Type a name to chat as a guest, or sign in: /login NAME PASSWORD, /register NAME PASSWORD");
    }
    take_input();
  }

  // "Name refused: ..." for a name that cannot go on the wire; empty if it can.
  static std::string name_problem(std::string_view name) {
    if (name.size() > name_field_size)
      return "names are at most " + std::to_string(name_field_size) + " bytes (this one has " +
             std::to_string(name.size()) + ")";
    if (!is_valid_name(name)) return "a name must be valid UTF-8 without control characters";
    return {};
  }

  void propose(const std::string& name) {
    if (auto problem = name_problem(name); !problem.empty()) {
      say("Name refused: " + problem);
      return ask_for_name();
    }
    state_ = state::name_pending;
    view_.input_mode("");
    if (options_.protocol == wire::hcp2)
      send_frame(hcp2::name_size(name), [&](auto out) { hcp2::write_name(out, name); });
    else
      send_frame(hcp1::proposal_size(), [&](auto out) { hcp1::write_proposal(out, name); });
    expect_answer();
  }

  // "/login NAME PASSWORD" or "/register NAME PASSWORD", typed while a name is
  // asked for. The password is never shown or kept beyond the frame.
  void sign_in(account_action action, std::string_view args) {
    const std::string word = action == account_action::login ? "/login" : "/register";
    if (!hcp2_only(word)) return;
    const auto [name, password] = split_name_password(args);
    if (name.empty() || password.empty()) return say("Usage: " + word + " NAME PASSWORD");
    if (auto problem = name_problem(name); !problem.empty()) return say("Cannot sign in: " + problem);
    if (!hcp2::is_valid_password(password))
      return say("Cannot sign in: a password is 1 to " + std::to_string(hcp2::max_password_size) + " bytes");
    state_ = state::name_pending;
    signing_in_ = action;
    view_.input_mode("");
    if (action == account_action::login) {
      send_frame(hcp2::login_size(name, password), [&](auto out) { hcp2::write_login(out, name, password); });
      say("Signing in as " + std::string(name) + "...");
    } else {
      send_frame(hcp2::register_size(name, password), [&](auto out) { hcp2::write_register(out, name, password); });
      say("Creating the account " + std::string(name) + "...");
    }
    // The server hashes the password on purpose slowly: allow it more time.
    expect_answer(options_.answer_wait * 3);
  }

  void name_accepted(std::string_view name) {
    my_name_ = name;
    state_ = state::chatting;
    const auto action = std::exchange(signing_in_, account_action::none);
    if (action == account_action::register_) say("Account " + my_name_ + " created");
    if (action != account_action::none) {
      say("Signed in as " + my_name_);
      // The server follows with the online list, the history, then HISTORY_END.
      begin_history(action == account_action::login);
    }
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

  void name_refused(std::string_view reason) {
    const auto action = std::exchange(signing_in_, account_action::none);
    say(std::string(action == account_action::login       ? "Sign-in refused: "
                    : action == account_action::register_ ? "Registration refused: "
                                                          : "Name refused: ") +
        std::string(reason));
    ask_for_name();
  }

  // ---- the online list ---------------------------------------------------------

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

  // ---- frames from the server ------------------------------------------------

  void on_hcp2_frame(std::span<const std::byte> bytes) {
    const auto frame = hcp2::parse(bytes);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, hcp2::welcome>) {
            if (state_ != state::greeting) return;
            if (v.version != hcp2::version) {
              say("The server speaks HCP version " + std::to_string(v.version) + ", not 2");
              return quit(1);
            }
            max_frame_ = v.max_frame;
            answer_wait_.cancel();
            start_naming();
          } else if constexpr (std::is_same_v<T, hcp2::name_ok>) {
            name_accepted(v.value);
          } else if constexpr (std::is_same_v<T, hcp2::name_refused>) {
            name_refused(code_text(v.code, v.reason));
          } else if constexpr (std::is_same_v<T, hcp2::users>) {
            replace_users(v.names);
          } else if constexpr (std::is_same_v<T, hcp2::joined>) {
            user_joined(v.value);
          } else if constexpr (std::is_same_v<T, hcp2::left>) {
            user_left(v.value);
          } else if constexpr (std::is_same_v<T, hcp2::message>) {
            on_message(v);
          } else if constexpr (std::is_same_v<T, hcp2::history_end>) {
            on_history_end(v);
          } else if constexpr (std::is_same_v<T, hcp2::sent>) {
            on_sent(v);
          } else if constexpr (std::is_same_v<T, hcp2::delivered>) {
            on_delivered(v);
          } else if constexpr (std::is_same_v<T, hcp2::not_delivered>) {
            on_not_delivered(v);
          } else if constexpr (std::is_same_v<T, hcp2::error>) {
            on_error(v);
          } else if constexpr (std::is_same_v<T, hcp2::roster>) {
            say("Users (" + std::to_string(v.entries.size()) + "): " + roster_text(v.entries));
          } else if constexpr (std::is_same_v<T, hcp2::room_list>) {
            on_room_list(v);
          } else if constexpr (std::is_same_v<T, hcp2::room_members>) {
            if (v.members.empty())
              say("#" + std::string(v.room) + " has no members (there is no such room)");
            else
              say("Members of #" + std::string(v.room) + " (" + std::to_string(v.members.size()) +
                  "): " + roster_text(v.members));
          } else if constexpr (std::is_same_v<T, hcp2::room_joined>) {
            on_room_event(v.room, v.user, true);
          } else if constexpr (std::is_same_v<T, hcp2::room_left>) {
            on_room_event(v.room, v.user, false);
          } else if constexpr (std::is_same_v<T, hcp2::dropped>) {
            say("(the server dropped " + std::to_string(v.count) + " message(s): this client was reading too slowly)");
          } else if constexpr (std::is_same_v<T, hcp2::parse_error>) {
            // Unknown types are room to grow and are skipped, as the spec says.
            if (v.code == hcp2::errc::malformed_frame)
              say("error: malformed frame (type " + std::to_string(v.type) + ") from the server, ignored");
          }
          // PONG needs nothing; client frame types from a server are ignored.
        },
        frame);
  }

  // What an error code means: the server's text if it sent one, else ours.
  static std::string code_text(std::uint16_t code, std::string_view text) {
    if (!text.empty()) return std::string(text);
    if (code >= 100 && code <= 125) return std::string(hcp2::describe(static_cast<hcp2::errc>(code)));
    return "error " + std::to_string(code);
  }

  // ---- messages and history ----------------------------------------------------

  struct shown_message {
    std::string line;
    std::uint64_t id = 0;
    bool confirm = false;  // RECEIVED is owed once it is shown
  };

  static std::string message_text(const hcp2::message& v) {
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

  void on_message(const hcp2::message& v) {
    const bool confirm = v.kind == hcp2::target_kind::user || v.kind == hcp2::target_kind::room;
    if (history_pending_) {
      // Everything before HISTORY_END is the replay: shown under its header.
      history_activity_ = std::chrono::steady_clock::now();
      history_.push_back({clock_time(v.timestamp_us, true) + " " + message_text(v), v.id, confirm});
      if (history_.size() >= max_history_buffer) flush_history();
      return;
    }
    say(options_.timestamps ? clock_time(v.timestamp_us) + " " + message_text(v) : message_text(v));
    if (confirm) confirm_message(v.id);
  }

  // RECEIVED: the sender's receipt, and this account's history cursor.
  void confirm_message(std::uint64_t id) {
    if (closing_) return;
    send_frame(hcp2::received_size(), [&](auto out) { hcp2::write_received(out, id); });
  }

  void begin_history(bool after_login) {
    history_pending_ = true;
    history_after_login_ = after_login;
    history_shown_ = 0;
    history_after_ = 0;
    history_.clear();
    history_activity_ = std::chrono::steady_clock::now();
    watch_history();
  }

  // A server that never ends the history must not hold typed lines back for
  // ever: after answer_wait without a history frame, the client goes on.
  void watch_history() {
    history_wait_.expires_at(history_activity_ + options_.answer_wait);
    history_wait_.async_wait([this](std::error_code ec) {
      if (ec || closing_ || !history_pending_) return;
      if (std::chrono::steady_clock::now() < history_activity_ + options_.answer_wait) return watch_history();
      flush_history();
      say("history: the server did not finish the history; going on without it");
      end_history();
    });
  }

  void flush_history() {
    if (history_.empty()) return;
    const auto n = history_.size();
    say("history: " + std::to_string(n) + (history_shown_ ? " more" : "") + (n == 1 ? " message" : " messages"));
    for (auto& m : history_) {
      say(std::move(m.line));
      if (m.confirm) confirm_message(m.id);
    }
    history_shown_ += n;
    history_.clear();
  }

  void on_history_end(const hcp2::history_end& v) {
    if (!history_pending_) return;  // not asked for
    history_activity_ = std::chrono::steady_clock::now();
    flush_history();
    if (v.more) {
      // The next page; a server whose cursor does not move is not followed.
      if (v.last_id > history_after_) {
        history_after_ = v.last_id;
        send_frame(hcp2::history_request_size(), [&](auto out) { hcp2::write_history_request(out, v.last_id); });
        return;
      }
      say("history: the server offered more but gave no position to continue from; stopping here");
    }
    if (history_shown_ == 0 && history_after_login_) say("history: no new messages");
    end_history();
  }

  void end_history() {
    history_pending_ = false;
    history_wait_.cancel();
    take_input();
  }

  // ---- marks on what we sent -----------------------------------------------------

  void track_send(std::uint32_t ref, outgoing o) {
    if (unsent_.size() >= max_tracked) unsent_.erase(unsent_.begin());
    unsent_.emplace(ref, std::move(o));
  }

  void mark(const outgoing& o, std::string_view what, bool notify) {
    view_.update(o.line, printable(o.echo + " [" + std::string(what) + "]"), notify);
  }

  void on_sent(const hcp2::sent& v) {
    auto it = unsent_.find(v.client_ref);
    if (it == unsent_.end()) return;
    auto o = std::move(it->second);
    unsent_.erase(it);
    if (o.kind == hcp2::target_kind::room) {
      mark(o, "sent", false);  // stored, when the server keeps history, and passed to the room
    } else if (o.kind == hcp2::target_kind::user) {
      if (auto early = early_delivered_.find(v.id); early != early_delivered_.end()) {
        early_delivered_.erase(early);
        mark(o, "delivered", false);
      } else {
        mark(o, "sent", false);
        if (undelivered_.size() >= max_tracked) undelivered_.erase(undelivered_.begin());
        undelivered_.emplace(v.id, std::move(o));
      }
    }
    // (To everyone: no mark, as before; there is no receipt to wait for.)
    if (unsent_.empty()) settle_early_receipts();
  }

  // DELIVERED for an id not known yet: its SENT may still be on the way, or
  // it is for a whisper sent in an earlier session (the recipient was offline).
  void on_delivered(const hcp2::delivered& v) {
    if (auto it = undelivered_.find(v.id); it != undelivered_.end()) {
      mark(it->second, "delivered", false);
      undelivered_.erase(it);
      return;
    }
    if (!unsent_.empty() && early_delivered_.size() < max_tracked) {
      early_delivered_.emplace(v.id, std::string(v.recipient));
      return;
    }
    say("Delivered to " + std::string(v.recipient) + ": a whisper you sent earlier");
  }

  void settle_early_receipts() {
    for (auto& [id, recipient] : early_delivered_) say("Delivered to " + recipient + ": a whisper you sent earlier");
    early_delivered_.clear();
  }

  void on_not_delivered(const hcp2::not_delivered& v) {
    auto why = code_text(v.code, {});
    if (why.starts_with("not delivered: ")) why.erase(0, 15);
    if (auto it = undelivered_.find(v.id); it != undelivered_.end()) {
      mark(it->second, "NOT DELIVERED: " + why, true);
      undelivered_.erase(it);
      return;
    }
    say("Not delivered to " + std::string(v.recipient) + ": " + why);
  }

  void on_error(const hcp2::error& v) {
    const auto why = code_text(v.code, v.text);
    if (v.client_ref != 0)
      if (auto it = unsent_.find(v.client_ref); it != unsent_.end()) {
        mark(it->second, "NOT SENT: " + why + " (error " + std::to_string(v.code) + ")", true);
        unsent_.erase(it);
        if (unsent_.empty()) settle_early_receipts();
        return;
      }
    say("error " + std::to_string(v.code) + ": " + why);
  }

  // ---- users and rooms ------------------------------------------------------------

  static std::string roster_text(const std::vector<hcp2::roster_entry>& entries) {
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

  void on_room_list(const hcp2::room_list& v) {
    if (v.rooms.empty()) return void(say("Rooms: none"));
    std::string line = "Rooms (" + std::to_string(v.rooms.size()) + "): ";
    bool first = true;
    for (const auto& r : v.rooms) {
      if (!first) line += ", ";
      first = false;
      line +=
          "#" + std::string(r.room) + " (" + std::to_string(r.members) + (r.members == 1 ? " member)" : " members)");
    }
    say(line);
  }

  void on_room_event(std::string_view room, std::string_view user, bool joined) {
    if (user == my_name_) {
      if (joined)
        my_rooms_.emplace(room);
      else
        my_rooms_.erase(std::string(room));
      say((joined ? "You joined #" : "You left #") + std::string(room));
      return;
    }
    say("[#" + std::string(room) + "] " + std::string(user) + (joined ? " joined" : " left"));
  }

  void on_hcp1_packet(std::span<const std::byte> bytes) {
    switch (static_cast<hcp1::type>(bytes[0])) {
      case hcp1::type::ack:
        if (auto p = hcp1::parse_name_packet(bytes); p && state_ == state::name_pending) name_accepted(p->name.name);
        break;
      case hcp1::type::nak:
        if (state_ == state::name_pending) name_refused("not accepted by the server");
        break;
      case hcp1::type::update:
        // HCP/1 sends the whole list each time: joins and leaves are the
        // difference from the list before, as the original client shows them.
        if (auto names = hcp1::parse_update(bytes)) {
          if (!have_list_) {
            replace_users(*names);
            break;
          }
          const std::set<std::string> next(names->begin(), names->end());
          const auto before = users_;
          for (const auto& n : before)
            if (!next.contains(n)) user_left(n);
          for (const auto& n : next)
            if (!before.contains(n)) user_joined(n);
        }
        break;
      case hcp1::type::message:
        if (auto m = hcp1::parse_message(bytes)) {
          const auto text = hcp1::strip_padding(m->text);  // as the original client does
          if (m->receiver == "All")
            say(std::string(m->sender) + " says: " + std::string(text));
          else if (!my_name_.empty() && m->receiver == my_name_)
            say(std::string(m->sender) + " whispers to you: " + std::string(text));
        }
        break;
      case hcp1::type::proposal:
        break;  // a client's packet: ignored
    }
  }

  // ---- typed lines -------------------------------------------------------------

  // Handles queued lines while a name or a chat line can be taken; while a
  // proposal is out (or before WELCOME), they wait, so in line mode the next
  // line after a refusal is the next proposal.
  void take_input() {
    const auto ready = [this] {
      return state_ == state::need_name || (state_ == state::chatting && have_list_ && !history_pending_);
    };
    while (!closing_ && !pending_.empty() && ready()) {
      auto line = std::move(pending_.front());
      pending_.pop_front();
      if (state_ == state::need_name)
        on_name_line(line);
      else
        on_chat_line(line);
    }
    if (!closing_ && input_ended_ && pending_.empty() && ready())
      quit(state_ == state::chatting ? 0 : 1);
  }

  void on_name_line(const std::string& line) {
    if (line == "/quit") return quit(1);
    if (line.empty()) return;
    const auto [word, args] = split_command(line);
    if (word == "/login") return sign_in(account_action::login, args);
    if (word == "/register") return sign_in(account_action::register_, args);
    if (word == "/help") return help();
    propose(line);
  }

  // "/word rest": the word and the rest with the spaces around it trimmed.
  static std::pair<std::string_view, std::string_view> split_command(std::string_view line) {
    const auto space = line.find(' ');
    if (space == std::string_view::npos) return {line, {}};
    auto rest = line.substr(space + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
    return {line.substr(0, space), rest};
  }

  // True over HCP/2; over HCP/1 says that `word` is not available there.
  bool hcp2_only(std::string_view word) {
    if (options_.protocol == wire::hcp2) return true;
    say(std::string(word) + " is not available over HCP/1 (connect with --protocol hcp2)");
    return false;
  }

  // A room name as typed: one leading '#' is optional ("/join #general").
  static std::string_view room_name(std::string_view typed) {
    if (typed.starts_with('#')) typed.remove_prefix(1);
    return typed;
  }

  // Says why `room` cannot go on the wire (the server judges the rest).
  bool room_ok(std::string_view room, std::string_view usage) {
    if (room.empty()) return say("Usage: " + std::string(usage)), false;
    if (room.size() > name_field_size)
      return say("Room names are at most " + std::to_string(name_field_size) + " bytes"), false;
    if (!is_valid_name(room)) return say("A room name must be valid UTF-8 without control characters"), false;
    return true;
  }

  void help() {
    const bool v1 = options_.protocol == wire::hcp1;
    const char* only2 = v1 ? "  (HCP/2 only)" : "";
    say("Type a line and press Enter to send it to everyone.");
    say("  @name text               whisper to one user (@All text: to everyone)");
    say("  //text                   send a line that starts with /");
    say("  /who                     show who is online");
    say(std::string("  /users                   all users: accounts online or offline, guests online") + only2);
    say(std::string("  /join ROOM               join a room (made if missing; the # is optional)") + only2);
    say(std::string("  /leave ROOM              leave a room") + only2);
    say(std::string("  /rooms                   list the rooms with their member counts") + only2);
    say(std::string("  /members ROOM            show a room's members") + only2);
    say(std::string("  /msg ROOM text           send to a room you joined") + only2);
    say(std::string("  /register NAME PASSWORD  create an account and sign in (instead of a name)") + only2);
    say(std::string("  /login NAME PASSWORD     sign in to your account (instead of a name)") + only2);
    say("  /help                    show this help");
    say("  /quit                    leave (Ctrl-C too)");
    if (!v1) {
      say("Whispers are marked [sent], then [delivered] once the recipient's client has them.");
      say("PASSWORD is the last word of the line. The UI hides it; in line mode it is read from the input as typed.");
    }
  }

  void on_chat_line(const std::string& line) {
    if (line.empty()) return;
    if (line[0] == '/' && (line.size() < 2 || line[1] != '/')) return command(line);
    if (line[0] == '@') return whisper_line(line);
    send_text("All", line[0] == '/' ? line.substr(1) : line);  // "//text" sends "/text"
  }

  void command(const std::string& line) {
    const auto [word_view, args] = split_command(line);
    const std::string word(word_view);
    if (word == "/quit" || word == "/exit") return quit(0);
    if (word == "/who") {
      if (options_.protocol == wire::hcp2)
        send_frame(hcp2::who_size(), [](auto out) { hcp2::write_who(out); });  // USERS shows the list
      else
        show_users();
      return;
    }
    if (word == "/help") return help();
    if (word == "/login" || word == "/register") {
      if (hcp2_only(word))
        say("You are " + my_name_ + " already: " + word + " comes instead of choosing a name (reconnect to use it)");
      return;
    }
    if (word == "/users") {
      if (hcp2_only(word)) send_frame(hcp2::roster_request_size(), [](auto out) { hcp2::write_roster_request(out); });
      return;
    }
    if (word == "/rooms") {
      if (hcp2_only(word)) send_frame(hcp2::rooms_request_size(), [](auto out) { hcp2::write_rooms_request(out); });
      return;
    }
    if (word == "/join" || word == "/leave" || word == "/members") {
      if (!hcp2_only(word)) return;
      const auto room = room_name(args);
      if (!room_ok(room, word + " ROOM")) return;
      if (word == "/join")
        send_frame(hcp2::join_size(room), [&](auto out) { hcp2::write_join(out, room); });
      else if (word == "/leave")
        send_frame(hcp2::leave_size(room), [&](auto out) { hcp2::write_leave(out, room); });
      else
        send_frame(hcp2::members_request_size(room), [&](auto out) { hcp2::write_members_request(out, room); });
      return;
    }
    if (word == "/msg") {
      if (hcp2_only(word)) room_line(args);
      return;
    }
    say("Unknown command " + word + " (try /help)");
  }

  // "ROOM text". Room names may contain spaces: the longest joined room
  // followed by a space wins; otherwise the room is the first word.
  void room_line(std::string_view args) {
    const auto rest = args.starts_with('#') ? args.substr(1) : args;
    std::string_view room;
    for (const auto& r : my_rooms_)
      if (r.size() > room.size() && rest.size() > r.size() && rest.starts_with(r) && rest[r.size()] == ' ') room = r;
    if (room.empty()) room = rest.substr(0, rest.find(' '));
    std::string_view text = rest.size() > room.size() ? rest.substr(room.size() + 1) : std::string_view{};
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (room.empty() || text.empty()) return say("Usage: /msg ROOM text");
    if (!room_ok(room, "/msg ROOM text")) return;
    send_text(std::string(room), std::string(text), hcp2::target_kind::room);
  }

  // "@name text". Names may contain spaces ("Jon Stewart"), so the longest
  // online name followed by a space wins; otherwise the name is the first word.
  void whisper_line(const std::string& line) {
    const std::string_view rest = std::string_view(line).substr(1);
    std::string_view target;
    for (const auto& n : users_)
      if (n.size() > target.size() && rest.size() > n.size() && rest.starts_with(n) && rest[n.size()] == ' ')
        target = n;
    if (target.empty()) target = rest.substr(0, rest.find(' '));
    std::string_view text = rest.size() > target.size() ? rest.substr(target.size() + 1) : std::string_view{};
    if (target.empty() || text.empty()) return say("Usage: @name text");
    send_text(std::string(target), std::string(text),
              target == "All" ? hcp2::target_kind::all : hcp2::target_kind::user);
  }

  // Sends to "All", one user or a room and echoes it. Over HCP/2 the echo
  // line gets the marks: [sent], then [delivered] for a whisper.
  void send_text(const std::string& to, const std::string& text, hcp2::target_kind kind = hcp2::target_kind::all) {
    const bool all = kind == hcp2::target_kind::all;
    const bool room = kind == hcp2::target_kind::room;
    if (!is_valid_utf8(text)) return say("Not sent: the text is not valid UTF-8");
    if (!all && !room && !is_valid_name(to)) return say("Not sent: '" + to + "' cannot be a user name");
    const std::string echo = all    ? "You say: " + text
                             : room ? "[#" + to + "] You: " + text
                                    : "You whisper to " + to + ": " + text;
    if (options_.protocol == wire::hcp2) {
      const std::string_view target = all ? std::string_view{} : std::string_view(to);
      if (hcp2::send_size(target, text) - 4 > max_frame_)
        return say("Not sent: the text is too long (the server takes at most " +
                   std::to_string(max_frame_ - (hcp2::send_size(target, "") - 4)) + " bytes)");
      auto ref = ++next_ref_;
      if (ref == 0) ref = ++next_ref_;  // 0 means "no SEND" in ERROR
      send_frame(hcp2::send_size(target, text), [&](auto out) { hcp2::write_send(out, ref, kind, target, text); });
      const auto line = numbered_say(echo);
      track_send(ref, {line, printable(echo), to, kind});
      return;
    } else {
      // Our server's default packet limit; the original server reads 4096 bytes at a time.
      constexpr std::size_t max_packet = hcp2::default_max_frame;
      if (hcp1::message_size(text) > max_packet)
        return say("Not sent: the text is too long (at most " +
                   std::to_string(max_packet - hcp1::message_header_size) + " bytes)");
      send_frame(hcp1::message_size(text), [&](auto out) { hcp1::write_message(out, my_name_, to, text); });
    }
    say(echo);
  }

  tcp::socket& socket_;
  view& view_;
  session_options options_;
  std::shared_ptr<howdy::outbox> box_;
  asio::steady_timer quit_timer_;
  asio::steady_timer answer_wait_;  // bounds waits for the server: WELCOME, a name answer, the list after it

  state state_ = state::need_name;
  std::string my_name_;
  std::set<std::string> users_;
  bool have_list_ = false;  // a list was received since the name was accepted: joins/leaves are shown
  std::deque<std::string> pending_;
  bool input_ended_ = false;
  bool closing_ = false;
  bool lost_ = false;
  int exit_status_ = 0;
  std::error_code write_error_;
  std::exception_ptr failure_;
  std::uint32_t next_ref_ = 0;
  account_action signing_in_ = account_action::none;  // a LOGIN or REGISTER is out
  bool sign_in_hint_shown_ = false;
  std::map<std::uint32_t, outgoing> unsent_;              // by client_ref, until SENT or ERROR
  std::map<std::uint64_t, outgoing> undelivered_;         // whispers by id, until DELIVERED or NOT_DELIVERED
  std::map<std::uint64_t, std::string> early_delivered_;  // id -> recipient: DELIVERED before its SENT
  std::set<std::string, std::less<>> my_rooms_;           // rooms joined in this session
  // History replayed after a sign-in: MESSAGE frames before HISTORY_END.
  asio::steady_timer history_wait_;
  bool history_pending_ = false;
  bool history_after_login_ = false;
  std::vector<shown_message> history_;
  std::size_t history_shown_ = 0;
  std::uint64_t history_after_ = 0;  // the last HISTORY after_id asked for
  std::chrono::steady_clock::time_point history_activity_;
  std::uint32_t max_frame_ = hcp2::default_max_frame;
  std::string last_line_;
};

}  // namespace hcp::client
