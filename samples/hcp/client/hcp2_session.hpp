// howdy-client: the session over HCP/2. HELLO and WELCOME, names or an
// account (LOGIN / REGISTER), the history replayed after a sign-in, rooms,
// and the marks on what we sent: [sent] on SENT, [delivered] on DELIVERED.
// In the terminal UI also a current room (plain text goes to it: /join,
// /switch, /part) with unread counts for the others, refusals and errors as
// sentences (codes with --verbose), and marks that say why a [sent] will not
// become [delivered]: a room (no receipts), an offline account (delivered at
// its next sign-in), no receipt after a few seconds (HCP/1 clients send none;
// the server does not tell the recipient's protocol). Line mode is as it was.
#pragma once

#include "../wire/hcp2.hpp"
#include "hcp2_text.hpp"
#include "session.hpp"

#include <chrono>
#include <deque>
#include <map>
#include <span>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace hcp::client {

class hcp2_session final : public session {
 public:
  hcp2_session(tcp::socket socket, view& out, session_options options)
      : session(std::move(socket), out, std::move(options), wire::hcp2, {}),
        receipt_timer_(conn_.get_executor()),
        history_wait_(conn_.get_executor()) {}

  // Why `password` cannot be sent (empty if it can; the server judges the rest).
  static std::string password_problem(std::string_view password) {
    if (!hcp2::is_valid_password(password))
      return "a password is 1 to " + std::to_string(hcp2::max_password_size) + " bytes";
    return {};
  }

 private:
  enum class account_action { none, login, register_ };

  // A message we sent: the echo line shown for it, waiting for SENT (by
  // client_ref) and, for a whisper, DELIVERED or NOT_DELIVERED (by id).
  struct outgoing {
    std::uint64_t line = 0;
    std::string echo;    // the echo line without a mark
    std::string target;  // the recipient or the room; empty for everyone
    hcp2::target_kind kind = hcp2::target_kind::all;
  };

  struct shown_message {
    std::string line;
    std::uint64_t id = 0;
    bool confirm = false;  // RECEIVED is owed once it is shown
    std::uint64_t timestamp_us = 0;
  };

  // How long a whisper to an online user waits for its DELIVERED before the
  // terminal UI says why none may come.
  static constexpr std::chrono::seconds receipt_patience{3};

  static constexpr std::size_t max_tracked = 10000;        // bounds the maps below
  static constexpr std::size_t max_history_buffer = 5000;  // history lines held before they are shown

  template <class Write>
  void send_frame(std::size_t size, Write&& write) {
    conn_.send(size, std::forward<Write>(write));
  }

  // ---- session -------------------------------------------------------------------

  void greet() override {
    state_ = state::greeting;
    // Presence batches: one PRESENCE frame per server tick instead of JOINED / LEFT.
    send_frame(hcp2::hello_size(),
               [](auto out) { hcp2::write_hello(out, hcp2::version, hcp2::hello_presence_batches); });
    expect_answer();
  }

  asio::awaitable<void> exchange() override {
    co_await conn_.run(
        hcp2::stream_codec{}, options_.max_frame, [this](std::span<const std::byte> bytes) { on_frame(bytes); },
        [this](std::error_code ec, std::exception_ptr failure) { connection_ended(ec, failure); });
  }

  void send_name(const std::string& name) override {
    send_frame(hcp2::name_size(name), [&](auto out) { hcp2::write_name(out, name); });
  }

  void send_bye() override {
    send_frame(hcp2::bye_size(), [](auto out) { hcp2::write_bye(out); });
  }

  void who() override {
    send_frame(hcp2::who_size(), [](auto out) { hcp2::write_who(out); });  // USERS shows the list
  }

  bool input_held() const override { return history_pending_; }

  void asking_for_name() override {
    if (sign_in_hint_shown_) return;
    sign_in_hint_shown_ = true;
    say("Type a name to chat as a guest, or sign in: /login NAME PASSWORD, /register NAME PASSWORD");
  }

  void cancel_timers() override {
    session::cancel_timers();
    history_wait_.cancel();
    receipt_timer_.cancel();
  }

  // "/login NAME PASSWORD" or "/register NAME PASSWORD", typed while a name is
  // asked for. The password is never shown; it is kept (in memory only) when
  // keep_password asks for it, to sign in again after a lost connection.
  void sign_in(std::string_view word, std::string_view args) override {
    const auto action = word == "/login" ? account_action::login : account_action::register_;
    const auto [name, password] = split_name_password(args);
    if (name.empty() || password.empty()) return say("Usage: " + std::string(word) + " NAME PASSWORD");
    if (auto problem = name_problem(name); !problem.empty()) return say("Cannot sign in: " + problem);
    if (auto problem = password_problem(password); !problem.empty()) return say("Cannot sign in: " + problem);
    state_ = state::name_pending;
    signing_in_ = action;
    if (options_.keep_password) password_ = std::string(password);
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

  void name_taken() override {
    const auto action = std::exchange(signing_in_, account_action::none);
    if (action == account_action::register_) say("Account " + my_name_ + " created");
    if (action != account_action::none) {
      say("Signed in as " + my_name_);
      // The server follows with the online list, the history, then HISTORY_END.
      begin_history(action == account_action::login);
    } else {
      password_.reset();
    }
    const auto current = std::exchange(options_.current_room, {});
    for (const auto& room : std::exchange(options_.rejoin_rooms, {}))
      if (room.size() <= name_field_size && is_valid_name(room)) {
        send_frame(hcp2::join_size(room), [&](auto out) { hcp2::write_join(out, room); });
        if (room == current && options_.terminal) switch_to_ = room;  // current again once joined
      }
  }

  identity who_i_am() const override { return {my_name_, password_}; }
  std::vector<std::string> rooms() const override { return {my_rooms_.begin(), my_rooms_.end()}; }
  std::string current_room() const override { return current_room_; }

  void refused(std::uint16_t code, std::string_view reason) {
    last_error_ = code;
    password_.reset();
    const auto action = std::exchange(signing_in_, account_action::none);
    // The terminal UI: a sentence of ours for what people meet ("signed in
    // elsewhere" is not "taken"), the code only with --verbose.
    const auto why = options_.terminal ? human_refusal(code, reason, options_.verbose) : std::string(reason);
    name_refused(std::string(action == account_action::login       ? "Sign-in refused: "
                             : action == account_action::register_ ? "Registration refused: "
                                                                   : "Name refused: ") +
                 why);
  }

  bool other_command(std::string_view word, std::string_view args) override {
    if (word == "/login" || word == "/register") {
      say("You are " + my_name_ + " already: " + std::string(word) +
          " comes instead of choosing a name (reconnect to use it)");
    } else if (word == "/users") {
      send_frame(hcp2::roster_request_size(), [](auto out) { hcp2::write_roster_request(out); });
    } else if (word == "/rooms") {
      send_frame(hcp2::rooms_request_size(), [](auto out) { hcp2::write_rooms_request(out); });
    } else if (options_.terminal && (word == "/switch" || (word == "/join" && args.empty()))) {
      switch_room(room_name(args));
    } else if (options_.terminal && (word == "/leave" || word == "/part") && args.empty()) {
      if (current_room_.empty())
        return say("Usage: " + std::string(word) + " ROOM (you are talking to everyone now)"), true;
      const auto room = current_room_;
      send_frame(hcp2::leave_size(room), [&](auto out) { hcp2::write_leave(out, room); });
    } else if (word == "/join" || word == "/leave" || word == "/part" || word == "/members") {
      const auto room = room_name(args);
      if (!room_ok(room, std::string(word) + " ROOM")) return true;
      if (word == "/join" && options_.terminal && my_rooms_.contains(room))
        switch_room(room);  // a member already: only made current
      else if (word == "/join") {
        send_frame(hcp2::join_size(room), [&](auto out) { hcp2::write_join(out, room); });
        if (options_.terminal) switch_to_ = std::string(room);  // current once joined
      } else if (word != "/members")
        send_frame(hcp2::leave_size(room), [&](auto out) { hcp2::write_leave(out, room); });
      else
        send_frame(hcp2::members_request_size(room), [&](auto out) { hcp2::write_members_request(out, room); });
    } else if (word == "/msg") {
      room_line(args);
    } else {
      return false;
    }
    return true;
  }

  // "ROOM text". Room names may contain spaces: the longest joined room
  // followed by a space wins; otherwise the room is the first word.
  void room_line(std::string_view args) {
    auto [room, text] = split_addressed(args.starts_with('#') ? args.substr(1) : args, my_rooms_);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (room.empty() || text.empty()) return say("Usage: /msg ROOM text");
    if (!room_ok(room, "/msg ROOM text")) return;
    send_text(std::string(room), std::string(text), audience::room);
  }

  // Says why `room` cannot go on the wire (the server judges the rest).
  bool room_ok(std::string_view room, std::string_view usage) {
    if (room.empty()) return say("Usage: " + std::string(usage)), false;
    if (room.size() > name_field_size)
      return say("Room names are at most " + std::to_string(name_field_size) + " bytes"), false;
    if (!is_valid_name(room)) return say("A room name must be valid UTF-8 without control characters"), false;
    return true;
  }

  // SEND, echoed with a mark to come: [sent], then [delivered] for a whisper.
  void post_text(const std::string& to, const std::string& text, audience who, const std::string& echo) override {
    const auto kind = who == audience::all    ? hcp2::target_kind::all
                      : who == audience::room ? hcp2::target_kind::room
                                              : hcp2::target_kind::user;
    const std::string_view target = who == audience::all ? std::string_view{} : std::string_view(to);
    if (hcp2::send_size(target, text) - hcp2::length_field_size > max_frame_)
      return say("Not sent: the text is too long (the server takes at most " +
                 std::to_string(max_frame_ - (hcp2::send_size(target, "") - hcp2::length_field_size)) + " bytes)");
    auto ref = ++next_ref_;
    if (ref == 0) ref = ++next_ref_;  // 0 means "no SEND" in ERROR
    send_frame(hcp2::send_size(target, text), [&](auto out) { hcp2::write_send(out, ref, kind, target, text); });
    const auto line = numbered_say(echo);
    track_send(ref, {line, printable(echo), to, kind});
  }

  // ---- frames from the server ------------------------------------------------

  void on_frame(std::span<const std::byte> bytes) {
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
            if (options_.name && options_.password) {
              // An account, typed before connecting or kept to sign in again.
              const auto name = *std::exchange(options_.name, std::nullopt);
              const auto password = *std::exchange(options_.password, std::nullopt);
              return sign_in(options_.create ? "/register" : "/login", name + " " + password);
            }
            start_naming();
          } else if constexpr (std::is_same_v<T, hcp2::name_ok>) {
            name_accepted(v.value);
          } else if constexpr (std::is_same_v<T, hcp2::name_refused>) {
            refused(v.code, code_text(v.code, v.reason));
          } else if constexpr (std::is_same_v<T, hcp2::users>) {
            replace_users(users_pages_.complete<hcp2::users_part>(v.names, [](auto& p) { return p.names; }));
          } else if constexpr (std::is_same_v<T, hcp2::users_part> || std::is_same_v<T, hcp2::roster_part> ||
                               std::is_same_v<T, hcp2::room_members_part> ||
                               std::is_same_v<T, hcp2::room_list_part>) {
            part_of(v).add(bytes);
          } else if constexpr (std::is_same_v<T, hcp2::presence>) {
            // Each name's state at the end of the server's tick; our own
            // name is ours to know (NAME_OK), and a repeat changes nothing.
            for (const auto& e : v.entries) {
              if (e.name == my_name_) continue;
              if (e.status & hcp2::status_online)
                user_joined(e.name);
              else
                user_left(e.name);
            }
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
            const auto all = roster_pages_.complete<hcp2::roster_part>(v.entries, [](auto& p) { return p.entries; });
            say("Users (" + std::to_string(all.size()) + "): " + roster_text(all));
          } else if constexpr (std::is_same_v<T, hcp2::room_list>) {
            say(room_list_text(
                {room_list_pages_.complete<hcp2::room_list_part>(v.rooms, [](auto& p) { return p.rooms; })}));
          } else if constexpr (std::is_same_v<T, hcp2::room_members>) {
            say(room_members_text(
                {v.room, members_pages_.complete<hcp2::room_members_part>(v.members, [&](auto& p) {
                   return p.room == v.room ? p.members : decltype(p.members){};
                 })}));
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

  void on_room_event(std::string_view room, std::string_view user, bool joined) {
    if (user == my_name_) {
      // The answer to our JOIN / LEAVE; the room's batch may repeat it.
      if (joined == my_rooms_.contains(room)) return;
      if (joined)
        my_rooms_.emplace(room);
      else
        my_rooms_.erase(std::string(room));
      say((joined ? "You joined #" : "You left #") + std::string(room));
      if (joined && switch_to_ == room) {
        switch_to_.clear();
        switch_room(room);
      } else if (!joined) {
        unread_.erase(std::string(room));
        if (current_room_ == room) switch_room({});
      }
      rooms_changed();
      return;
    }
    say("[#" + std::string(room) + "] " + std::string(user) + (joined ? " joined" : " left"));
  }

  // ---- the current room (terminal UI) ---------------------------------------------

  // Makes `room` (a joined one; "" for everyone) where plain text goes.
  void switch_room(std::string_view room) {
    if (!room.empty() && !my_rooms_.contains(room))
      return say("You are not in #" + std::string(room) + " (/join " + std::string(room) + " first)");
    const bool same = room == current_room_;
    current_room_ = std::string(room);
    unread_.erase(current_room_);
    if (room.empty())
      say(same ? "You are talking to everyone" : "Now talking to everyone");
    else
      say((same ? "You are talking in #" : "Now talking in #") + current_room_ + " (/switch alone: back to everyone)");
    if (same) return;
    rooms_changed();
  }

  void rooms_changed() {
    if (!options_.terminal) return;
    std::vector<view::room_unread> list;
    for (const auto& r : my_rooms_) {
      const auto it = unread_.find(r);
      list.emplace_back(r, it == unread_.end() ? 0 : it->second);
    }
    view_.rooms_changed(current_room_, list);
  }

  // ---- messages and history ----------------------------------------------------

  void on_message(const hcp2::message& v) {
    const bool confirm = v.kind == hcp2::target_kind::user || v.kind == hcp2::target_kind::room;
    if (history_pending_) {
      // Everything before HISTORY_END is the replay: shown under its header,
      // at its own time (line mode: the time, and the date if not today, in front).
      history_activity_ = std::chrono::steady_clock::now();
      history_.push_back({options_.timestamps ? shown_text(v)
                                              : clock_time(v.timestamp_us, true) + " " + message_text(v),
                          v.id, confirm, v.timestamp_us});
      if (history_.size() >= max_history_buffer) flush_history();
      return;
    }
    say_at(shown_text(v), v.timestamp_us);
    if (v.kind == hcp2::target_kind::room && options_.terminal && v.target != current_room_ &&
        my_rooms_.contains(v.target)) {
      ++unread_[std::string(v.target)];
      rooms_changed();
    }
    if (confirm) confirm_message(v.id);
  }

  // message_text, with "/me waves" as "* Amy waves" in the terminal UI.
  std::string shown_text(const hcp2::message& v) const {
    auto usual = message_text(v);
    if (v.kind == hcp2::target_kind::user) return usual;
    auto line = message_line(v.sender, v.text, usual);
    if (line == usual || v.kind == hcp2::target_kind::all) return line;
    return "[#" + std::string(v.target) + "] " + line;
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
      if (options_.timestamps)
        say_at(std::move(m.line), m.timestamp_us);
      else
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
    // The terminal UI says why a [sent] will not become [delivered] (line
    // mode's marks stay as they were: scripts read them).
    const bool say_why = options_.terminal;
    if (o.kind == hcp2::target_kind::room) {
      // Stored, when the server keeps history, and passed to the room; rooms have no receipts.
      mark(o, say_why ? "sent \u2014 rooms have no receipts" : "sent", false);
    } else if (o.kind == hcp2::target_kind::user) {
      if (auto early = early_delivered_.find(v.id); early != early_delivered_.end()) {
        early_delivered_.erase(early);
        mark(o, "delivered", false);
      } else {
        // Not online (the server took it: an account): stored for its next sign-in.
        const bool offline = say_why && !users_.contains(o.target);
        mark(o, offline ? "sent \u2014 " + o.target + " is offline: delivered when they sign in" : "sent", false);
        if (say_why && !offline) expect_receipt(v.id);
        if (undelivered_.size() >= max_tracked) undelivered_.erase(undelivered_.begin());
        undelivered_.emplace(v.id, std::move(o));
      }
    }
    // (To everyone: no mark, as before; there is no receipt to wait for.)
    if (unsent_.empty()) settle_early_receipts();
  }

  // A whisper to an online user: its DELIVERED comes at once from an HCP/2
  // or text client; an HCP/1 client never sends one (the server cannot tell
  // us the recipient's protocol), so after receipt_patience the mark says so.
  void expect_receipt(std::uint64_t id) {
    if (receipt_checks_.size() >= max_tracked) receipt_checks_.pop_front();
    receipt_checks_.push_back({id, std::chrono::steady_clock::now() + receipt_patience});
    if (receipt_checks_.size() == 1) watch_receipts();
  }

  void watch_receipts() {
    if (receipt_checks_.empty()) return;
    receipt_timer_.expires_at(receipt_checks_.front().second);
    receipt_timer_.async_wait([this](std::error_code ec) {
      if (ec || closing_) return;
      const auto now = std::chrono::steady_clock::now();
      while (!receipt_checks_.empty() && receipt_checks_.front().second <= now) {
        const auto id = receipt_checks_.front().first;
        receipt_checks_.pop_front();
        if (auto it = undelivered_.find(id); it != undelivered_.end())
          mark(it->second, "sent \u2014 no receipt after " + std::to_string(receipt_patience.count()) +
                               " s; HCP/1 clients never send one", false);
      }
      watch_receipts();
    });
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

  // Line mode shows "error N: text" as it always did (scripts read the
  // codes); the UI a sentence, with the code only with --verbose.
  void on_error(const hcp2::error& v) {
    last_error_ = v.code;
    const bool line_mode = !options_.terminal;
    const auto why = line_mode ? code_text(v.code, v.text) : human_error(v.code, v.text, options_.verbose);
    if (v.client_ref != 0)
      if (auto it = unsent_.find(v.client_ref); it != unsent_.end()) {
        mark(it->second, "NOT SENT: " + why + (line_mode ? " (error " + std::to_string(v.code) + ")" : ""), true);
        unsent_.erase(it);
        if (unsent_.empty()) settle_early_receipts();
        return;
      }
    say(line_mode ? "error " + std::to_string(v.code) + ": " + why : why);
  }

  std::uint32_t max_frame_ = hcp2::default_max_frame;  // the server's, from WELCOME
  account_action signing_in_ = account_action::none;   // a LOGIN or REGISTER is out
  bool sign_in_hint_shown_ = false;
  std::optional<std::string> password_;  // the account's, with keep_password, to sign in again
  std::uint32_t next_ref_ = 0;
  std::map<std::uint32_t, outgoing> unsent_;              // by client_ref, until SENT or ERROR
  std::map<std::uint64_t, outgoing> undelivered_;         // whispers by id, until DELIVERED or NOT_DELIVERED
  std::map<std::uint64_t, std::string> early_delivered_;  // id -> recipient: DELIVERED before its SENT
  std::set<std::string, std::less<>> my_rooms_;           // rooms joined in this session
  // The terminal UI's current room ("" for everyone), the room a /join will
  // make current once joined, and the messages each other room had since.
  std::string current_room_;
  std::string switch_to_;
  std::map<std::string, std::size_t, std::less<>> unread_;
  asio::steady_timer receipt_timer_;
  std::deque<std::pair<std::uint64_t, std::chrono::steady_clock::time_point>> receipt_checks_;  // whisper ids

  // The pages of a long list (USERS_PART ... USERS and the like), kept as
  // frames until the final one, then read back as one list.
  class list_pages {
   public:
    static constexpr std::size_t max_bytes = 64 * 1024 * 1024;  // bounds a server that never ends a list

    void add(std::span<const std::byte> frame) {
      if (bytes_ + frame.size() > max_bytes) return;
      bytes_ += frame.size();
      frames_.emplace_back(reinterpret_cast<const char*>(frame.data()), frame.size());
    }

    // The parts' entries, then `last`'s; the parts are forgotten after
    // (the views stay valid until the next add()).
    template <class Part, class Last, class Entries>
    Last complete(const Last& last, Entries entries) {
      Last all;
      held_.swap(frames_);
      frames_.clear();
      bytes_ = 0;
      for (auto& f : held_) {
        const auto parsed = hcp2::parse({reinterpret_cast<const std::byte*>(f.data()), f.size()});
        if (const auto* p = std::get_if<Part>(&parsed)) {
          auto more = entries(*p);
          all.insert(all.end(), more.begin(), more.end());
        }
      }
      all.insert(all.end(), last.begin(), last.end());
      return all;
    }

   private:
    std::vector<std::string> frames_;
    std::vector<std::string> held_;  // the frames the last complete() read
    std::size_t bytes_ = 0;
  };

  list_pages& part_of(const hcp2::users_part&) { return users_pages_; }
  list_pages& part_of(const hcp2::roster_part&) { return roster_pages_; }
  list_pages& part_of(const hcp2::room_members_part&) { return members_pages_; }
  list_pages& part_of(const hcp2::room_list_part&) { return room_list_pages_; }

  list_pages users_pages_;
  list_pages roster_pages_;
  list_pages members_pages_;
  list_pages room_list_pages_;
  // History replayed after a sign-in: MESSAGE frames before HISTORY_END.
  asio::steady_timer history_wait_;
  bool history_pending_ = false;
  bool history_after_login_ = false;
  std::vector<shown_message> history_;
  std::size_t history_shown_ = 0;
  std::uint64_t history_after_ = 0;  // the last HISTORY after_id asked for
  std::chrono::steady_clock::time_point history_activity_;
};

}  // namespace hcp::client
