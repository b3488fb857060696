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
  // One event line (already printable: see client_text.hpp).
  virtual void show(std::string_view line) = 0;
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
        answer_wait_(socket.get_executor()) {
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

  void say(std::string line) {
    last_line_ = printable(line);
    view_.show(last_line_);
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
  void expect_answer() {
    answer_wait_.expires_after(options_.answer_wait);
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
    take_input();
  }

  void propose(const std::string& name) {
    if (name.size() > name_field_size) {
      say("Name refused: names are at most " + std::to_string(name_field_size) + " bytes (this one has " +
          std::to_string(name.size()) + ")");
      return ask_for_name();
    }
    if (!is_valid_name(name)) {
      say("Name refused: a name must be valid UTF-8 without control characters");
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

  void name_accepted(std::string_view name) {
    my_name_ = name;
    state_ = state::chatting;
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
    say("Name refused: " + std::string(reason));
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
            name_refused(v.reason.empty() ? std::string_view("refused by the server") : v.reason);
          } else if constexpr (std::is_same_v<T, hcp2::users>) {
            replace_users(v.names);
          } else if constexpr (std::is_same_v<T, hcp2::joined>) {
            user_joined(v.value);
          } else if constexpr (std::is_same_v<T, hcp2::left>) {
            user_left(v.value);
          } else if constexpr (std::is_same_v<T, hcp2::message>) {
            if (v.kind == hcp2::target_kind::all)
              say(std::string(v.sender) + " says: " + std::string(v.text));
            else
              say(std::string(v.sender) + " whispers to you: " + std::string(v.text));
          } else if constexpr (std::is_same_v<T, hcp2::error>) {
            say("error " + std::to_string(v.code) + ": " + std::string(v.text));
          } else if constexpr (std::is_same_v<T, hcp2::dropped>) {
            say("(the server dropped " + std::to_string(v.count) + " message(s): this client was reading too slowly)");
          } else if constexpr (std::is_same_v<T, hcp2::parse_error>) {
            // Unknown types are room to grow and are skipped, as the spec says.
            if (v.code == hcp2::errc::malformed_frame)
              say("error: malformed frame (type " + std::to_string(v.type) + ") from the server, ignored");
          }
          // SENT and PONG need nothing; client frame types from a server are ignored.
        },
        frame);
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
    const auto ready = [this] { return state_ == state::need_name || (state_ == state::chatting && have_list_); };
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
    propose(line);
  }

  void on_chat_line(const std::string& line) {
    if (line.empty()) return;
    if (line[0] == '/' && (line.size() < 2 || line[1] != '/')) return command(line);
    if (line[0] == '@') return whisper_line(line);
    send_text("All", line[0] == '/' ? line.substr(1) : line);  // "//text" sends "/text"
  }

  void command(const std::string& line) {
    const auto word = line.substr(0, line.find(' '));
    if (word == "/quit" || word == "/exit") return quit(0);
    if (word == "/who") {
      if (options_.protocol == wire::hcp2)
        send_frame(hcp2::who_size(), [](auto out) { hcp2::write_who(out); });  // USERS shows the list
      else
        show_users();
      return;
    }
    if (word == "/help") {
      say("Type a line and press Enter to send it to everyone.");
      say("  @name text   whisper to one user (@All text: to everyone)");
      say("  //text       send a line that starts with /");
      say("  /who         show who is online");
      say("  /help        show this help");
      say("  /quit        leave (Ctrl-C too)");
      return;
    }
    say("Unknown command " + word + " (try /help)");
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
    send_text(std::string(target), std::string(text));
  }

  // Sends to "All" or to one user and echoes it.
  void send_text(const std::string& to, const std::string& text) {
    const bool all = to == "All";
    if (!is_valid_utf8(text)) return say("Not sent: the text is not valid UTF-8");
    if (!all && !is_valid_name(to)) return say("Not sent: '" + to + "' cannot be a user name");
    if (options_.protocol == wire::hcp2) {
      const std::string_view target = all ? std::string_view{} : std::string_view(to);
      if (hcp2::send_size(target, text) - 4 > max_frame_)
        return say("Not sent: the text is too long (the server takes at most " +
                   std::to_string(max_frame_ - (hcp2::send_size(target, "") - 4)) + " bytes)");
      const auto kind = all ? hcp2::target_kind::all : hcp2::target_kind::user;
      const auto ref = ++next_ref_;
      send_frame(hcp2::send_size(target, text),
                 [&](auto out) { hcp2::write_send(out, ref, kind, target, text); });
    } else {
      // Our server's default packet limit; the original server reads 4096 bytes at a time.
      constexpr std::size_t max_packet = hcp2::default_max_frame;
      if (hcp1::message_size(text) > max_packet)
        return say("Not sent: the text is too long (at most " +
                   std::to_string(max_packet - hcp1::message_header_size) + " bytes)");
      send_frame(hcp1::message_size(text), [&](auto out) { hcp1::write_message(out, my_name_, to, text); });
    }
    say(all ? "You say: " + text : "You whisper to " + to + ": " + text);
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
  std::uint32_t max_frame_ = hcp2::default_max_frame;
  std::string last_line_;
};

}  // namespace hcp::client
