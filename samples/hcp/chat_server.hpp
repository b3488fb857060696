// The HCP chat server: HCP/1, HCP/2 and the seed-002 text protocol on one
// port, built from the library's primitives only. Each connection is one
// session coroutine with a framed reader, an outbox and its writer; names live
// in a name_registry (accounts protect theirs), rooms in a room_directory, and
// broadcasts go through one broadcast_hub per wire format and one per room, so
// a message is encoded once per format whatever the number of recipients.
// Accounts, room memberships and offline history are kept by chat_store
// (SQLite on its own thread); password hashing runs on a separate small pool.
#pragma once

#include "chat_store.hpp"
#include "password.hpp"
#include "protocol.hpp"

#include <howdy.hpp>

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hcp {

enum class auth_mode { off, optional, required };

struct server_config {
  std::uint32_t max_frame = hcp2::default_max_frame;  // HCP/2 length field; HCP/1 packet; text frame
  std::size_t outbox_bytes = 4 * 1024 * 1024;
  howdy::overflow_policy slow_consumer = howdy::overflow_policy::disconnect;
  std::chrono::milliseconds handshake_timeout{10'000};  // from connect to an accepted name
  std::chrono::milliseconds idle_timeout{0};            // 0: idle connections stay
  std::chrono::milliseconds shutdown_grace{3'000};      // to flush outboxes when stopping
  std::string server_info = "howdy-server 0.2";

  auth_mode auth = auth_mode::optional;
  store_options store;                       // --db, --history, retention
  pwhash_cost pwhash = pwhash_cost::interactive;
  howdy::rate_limit attempts_per_name{5, std::chrono::seconds(12)};
  howdy::rate_limit attempts_per_address{20, std::chrono::seconds(3)};
  std::size_t max_pending_receipts = 4096;  // unconfirmed whispers tracked per recipient
};

class chat_server {
 public:
  using socket_type = asio::ip::tcp::socket;

  chat_server(howdy::io_context_pool& pool, server_config config, std::shared_ptr<spdlog::logger> log)
      : config_(std::move(config)),
        log_(std::move(log)),
        store_(std::in_place, config_.store),
        names_(howdy::name_rules{}, {std::string(reserved_names[0]), std::string(reserved_names[1])}),
        rooms_(pool.executors()),
        hcp2_hub_(pool.executors()),
        hcp2_presence_hub_(pool.executors()),
        hcp1_hub_(pool.executors()),
        text_hub_(pool.executors()),
        name_attempts_(config_.attempts_per_name),
        address_attempts_(config_.attempts_per_address) {
    // What survives a restart: accounts (their names stay protected) and the
    // rooms their owners are members of; ids continue above every stored one.
    for (auto& account : store_->account_names()) {
      names_.protect(account);
      for (auto& room : store_->async_rooms_of(account, asio::use_future).get()) {
        bool added = false;
        std::error_code ec;
        rooms_.join(room, account, added, ec);
      }
      accounts_.insert(std::move(account));
    }
    last_id_ = last_stored_id_ = store_->max_id();
    names_.watch([this](const howdy::presence_event& e, const std::shared_ptr<peer>& who) { on_presence(e, who); });
  }

  chat_server(const chat_server&) = delete;
  chat_server& operator=(const chat_server&) = delete;

  // Set when the server is stopping, so sessions can say so before closing.
  void set_stopping() { stopping_ = true; }

  // After the network threads have stopped, before the pool is destroyed:
  // stops the hashing threads and the store (committing what is queued), so no
  // completion is posted to a destroyed io_context, and silences presence, so
  // sessions destroyed with their io_context publish nothing.
  void close() {
    closed_ = true;
    hashing_.reset();
    store_.reset();
  }

  // The session handler for howdy::tcp_server: tells the protocol by the first
  // byte and runs its session.
  asio::awaitable<void> session(socket_type& socket) {
    std::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    // The peer's address until it has a name, then its name: what the log calls it.
    std::string who = ec ? std::string("?") : endpoint_text(remote);
    const std::string address = ec ? std::string("?") : remote.address().to_string();
    log_->info("new client connected: {}", who);

    std::byte first{};
    {
      howdy::watchdog silent(socket.get_executor(), [&] {
        log_->info("{}: sent nothing within the handshake timeout, closing", who);
        std::error_code ignored;
        socket.close(ignored);
      });
      silent.expires_after(config_.handshake_timeout);
      auto [peek_ec, n] = co_await socket.async_receive(asio::buffer(&first, 1), socket_type::message_peek,
                                                        asio::experimental::as_tuple(asio::use_awaitable));
      if (peek_ec || n == 0) {
        log_->info("{} disconnected before sending anything", who);
        co_return;
      }
    }
    switch (detect_protocol(first)) {
      case protocol::hcp2: {
        auto box = make_outbox(socket, wire::hcp2);
        co_await run_session(socket, who, box, hcp2_loop(socket, who, address, box));
        break;
      }
      case protocol::hcp1: {
        auto box = make_outbox(socket, wire::hcp1);
        co_await run_session(socket, who, box, hcp1_loop(socket, who, box));
        break;
      }
      case protocol::text: {
        auto box = make_outbox(socket, wire::text);
        co_await run_session(socket, who, box, text_loop(socket, who, box));
        break;
      }
      default:
        log_->warn("{}: unknown protocol (first byte 0x{:02x}), closing", who, std::to_integer<unsigned>(first));
        break;
    }
    if (names_.size() == 0) log_->info("no user online now");
  }

 private:
  enum class wire { hcp1, hcp2, text };
  static constexpr std::size_t max_storing_per_session = 256;  // a session's messages waiting for the store

  // Where a delivery receipt goes: the sender's outbox (HCP/2: DELIVERED /
  // NOT_DELIVERED; text: SENT / ERROR 102 on its TOSEND connection).
  struct receipt {
    std::uint64_t id;
    std::string sender;
    std::string recipient;
    std::weak_ptr<howdy::outbox> reply_to;
    wire format;
  };

  // What a name leads to: where to queue frames for its owner, in which
  // format, and the whispers it has not confirmed yet.
  struct peer {
    std::shared_ptr<howdy::outbox> box;
    wire format;
    bool registered = false;
    std::weak_ptr<const void> sender;  // text protocol: the TOSEND connection paired with this TORECV (guarded by mutex)

    // Pairs `token`'s TOSEND connection with this TORECV, unless another one is.
    bool pair_sender(const std::shared_ptr<const void>& token) {
      std::lock_guard lock(mutex);
      if (auto current = sender.lock()) return current == token;
      sender = token;
      return true;
    }

    std::mutex mutex;
    std::deque<receipt> unconfirmed;  // oldest first; bounded

    void expect(receipt r, std::size_t limit) {
      std::lock_guard lock(mutex);
      if (unconfirmed.size() >= limit) unconfirmed.pop_front();  // too many unconfirmed: the oldest gets no receipt
      unconfirmed.push_back(std::move(r));
    }
    // The receipt for `id`, or (id 0) the oldest from `sender`.
    std::optional<receipt> confirm(std::uint64_t id, std::string_view sender = {}) {
      std::lock_guard lock(mutex);
      auto it = std::find_if(unconfirmed.begin(), unconfirmed.end(),
                             [&](const receipt& r) { return id ? r.id == id : r.sender == sender; });
      if (it == unconfirmed.end()) return std::nullopt;
      receipt r = std::move(*it);
      unconfirmed.erase(it);
      return r;
    }
    std::optional<receipt> confirm_oldest() {
      std::lock_guard lock(mutex);
      if (unconfirmed.empty()) return std::nullopt;
      receipt r = std::move(unconfirmed.front());
      unconfirmed.pop_front();
      return r;
    }
    // Stored whispers committed-but-not-yet-queued to this peer: a RECEIVED
    // for a later id must not move the history cursor past them.
    std::set<std::uint64_t> arriving;
    void expect_arrival(std::uint64_t id) {
      std::lock_guard lock(mutex);
      arriving.insert(id);
    }
    void arrived(std::uint64_t id) {
      std::lock_guard lock(mutex);
      arriving.erase(id);
    }
    std::uint64_t cursor_limit() {
      std::lock_guard lock(mutex);
      return arriving.empty() ? UINT64_MAX : *arriving.begin() - 1;
    }

    std::deque<receipt> take_unconfirmed() {
      std::lock_guard lock(mutex);
      return std::exchange(unconfirmed, {});
    }
  };
  using registry = howdy::name_registry<std::shared_ptr<peer>>;
  using room_ptr = std::shared_ptr<howdy::room_directory::room>;

  // Encodes one frame into a shared buffer: `write(std::span<std::byte>)`.
  template <class Write>
  static howdy::shared_buffer frame(std::size_t size, Write&& write) {
    return howdy::shared_buffer::make(size, [&](std::span<std::byte> out) { write(out); });
  }
  static howdy::shared_buffer text_frame(std::string_view bytes) { return howdy::shared_buffer::copy_of(bytes); }

  static howdy::shared_buffer error_frame(hcp2::errc code, std::uint32_t ref = 0, std::string_view text = {}) {
    if (text.empty()) text = hcp2::describe(code);
    return frame(hcp2::error_size(text), [&](auto out) { hcp2::write_error(out, code, ref, text); });
  }

  static std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
  }

  static std::uint64_t now_us() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
  }

  // Message ids grow by at least one and track the clock in microseconds, so
  // they keep growing across restarts without storing a counter.
  std::uint64_t next_id() {
    auto last = last_id_.load(std::memory_order_relaxed);
    std::uint64_t id;
    do id = std::max(last + 1, now_us());
    while (!last_id_.compare_exchange_weak(last, id, std::memory_order_relaxed));
    return id;
  }

  bool is_account(std::string_view name) const { return names_.is_protected(name); }

  std::shared_ptr<howdy::outbox> make_outbox(socket_type& socket, wire format) {
    howdy::outbox_options o;
    o.max_bytes = config_.outbox_bytes;
    o.policy = config_.slow_consumer;
    if (format == wire::hcp2)
      o.drop_notice = [](std::uint64_t dropped) {
        const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(dropped, UINT32_MAX));
        return frame(hcp2::dropped_size(), [&](auto out) { hcp2::write_dropped(out, count); });
      };
    return std::make_shared<howdy::outbox>(socket.get_executor(), std::move(o));
  }

  // Joins and leaves, in the registry's order: HCP/2 clients get JOINED/LEFT,
  // HCP/1 clients the whole list, as HCP/1 defines. Runs under the registry's
  // lock, so publishing here keeps that order on every partition.
  void on_presence(const howdy::presence_event& e, const std::shared_ptr<peer>& who) {
    if (closed_) return;
    const bool joined = e.change == howdy::presence::joined;
    if (joined) {
      hcp1_list_.push_back(e.name);
    } else {
      std::erase(hcp1_list_, e.name);
      log_->info("{} is offline now", e.name);
    }
    // A new HCP/2 user learns the list from USERS, not from its own JOINED.
    // Presence has its own hub (same partitions, so it stays in order with
    // messages) because clients may opt out of it.
    hcp2_presence_hub_.publish(
        joined ? frame(hcp2::joined_size(e.name), [&](auto out) { hcp2::write_joined(out, e.name); })
               : frame(hcp2::left_size(e.name), [&](auto out) { hcp2::write_left(out, e.name); }),
        who->box.get());
    if (hcp1_hub_.subscriber_count() > 0) {
      hcp1_hub_.publish(frame(hcp1::update_size(hcp1_list_), [&](auto out) { hcp1::write_update(out, hcp1_list_); }));
      log_->debug("sending the user list ({} names) to every HCP/1 user", hcp1_list_.size());
    }
  }

  // ---- Delivery --------------------------------------------------------------

  // To everyone but the sender, through the hubs: encoded once per format.
  std::uint64_t deliver_to_all(const std::string& sender, const howdy::outbox* sender_box, std::string_view text) {
    const auto id = next_id();
    const auto ts = now_us();
    hcp2_hub_.publish(frame(hcp2::message_size(sender, {}, text),
                            [&](auto out) { hcp2::write_message(out, id, ts, hcp2::target_kind::all, sender, {}, text); }),
                      sender_box);
    if (hcp1_hub_.subscriber_count() > 0)
      hcp1_hub_.publish(
          frame(hcp1::message_size(text), [&](auto out) { hcp1::write_message(out, sender, "All", text); }),
          sender_box);
    if (text_hub_.subscriber_count() > 0) text_hub_.publish(text_frame(text::forward(sender, text)), sender_box);
    log_->info("forwarding a message from {} to all ({} bytes)", sender, text.size());
    return id;
  }

  static howdy::shared_buffer encode_for(wire format, std::uint64_t id, std::uint64_t ts, hcp2::target_kind kind,
                                         std::string_view sender, std::string_view target, std::string_view text) {
    switch (format) {
      case wire::hcp1:
        return frame(hcp1::message_size(text), [&](auto out) { hcp1::write_message(out, sender, target, text); });
      case wire::text: return text_frame(text::forward(sender, text));
      case wire::hcp2: break;
    }
    return frame(hcp2::message_size(sender, target, text),
                 [&](auto out) { hcp2::write_message(out, id, ts, kind, sender, target, text); });
  }

  struct whisper_outcome {
    bool known = false;           // the recipient is online or has an account
    bool stored = false;          // kept for the recipient (an account): `on_stored` will run
    bool awaits_receipt = false;  // the recipient's client will confirm (or it will be NOT_DELIVERED)
    std::uint64_t id = 0;
  };
  // After the commit of a stored whisper: (error, id, whether a receipt will follow).
  using stored_handler = std::function<void(std::error_code, std::uint64_t, bool)>;

  // A whisper. To an account it is stored first and reaches the recipient, if
  // online, once committed; so SENT (the sender's "stored") always precedes
  // DELIVERED. The history lock orders id, storage and the online check
  // against a login replaying the same recipient's history: each message is
  // either in the replay or delivered live, never both.
  whisper_outcome whisper(const std::string& sender, std::string_view target, std::string_view text,
                          std::weak_ptr<howdy::outbox> reply_to, wire reply_format, asio::any_io_executor reply_ex,
                          stored_handler on_stored) {
    whisper_outcome out;
    std::lock_guard lock(history_mutex_);
    auto to = names_.find(target);
    // An offline account can only be reached through its history.
    const bool account = is_account(target);
    if (!to && !(account && config_.store.history)) return out;
    out.known = true;
    out.id = next_id();
    const auto ts = now_us();
    std::shared_ptr<peer> recipient = to ? *to : nullptr;
    out.awaits_receipt = recipient && recipient->format != wire::hcp1;  // HCP/1 clients cannot confirm
    auto deliver = [recipient, r = receipt{out.id, sender, std::string(target), std::move(reply_to), reply_format},
                    f = recipient ? encode_for(recipient->format, out.id, ts, hcp2::target_kind::user, sender, target,
                                               text)
                                  : howdy::shared_buffer{},
                    limit = config_.max_pending_receipts]() mutable {
      if (!recipient) return;
      if (recipient->format != wire::hcp1) recipient->expect(std::move(r), limit);
      recipient->box->post(std::move(f));
    };
    if (account && config_.store.history) {
      if (recipient) recipient->expect_arrival(out.id);
      store_->async_append(
          stored_message{out.id, ts, hcp2::target_kind::user, sender, std::string(target), std::string(text)},
          asio::bind_executor(reply_ex, [deliver = std::move(deliver), on_stored = std::move(on_stored), id = out.id, recipient,
                                         awaits = out.awaits_receipt](std::error_code ec) mutable {
            if (!ec) deliver();
            if (recipient) recipient->arrived(id);
            on_stored(ec, id, awaits);
          }));
      last_stored_id_ = out.id;
      out.stored = true;
    } else {
      deliver();
    }
    log_->info("forwarding a message from {} to {} ({} bytes{})", sender, target, text.size(),
               recipient ? "" : ", stored for later");
    return out;
  }

  // The recipient confirmed (or can no longer confirm) a whisper: tell its sender.
  void report(const receipt& r, bool delivered) {
    auto box = r.reply_to.lock();
    if (!box) return;
    if (r.format == wire::text) {
      box->post(text_frame(delivered ? text::sent(r.recipient) : text::error(102)));
    } else if (delivered) {
      box->post(frame(hcp2::delivered_size(r.recipient), [&](auto out) { hcp2::write_delivered(out, r.id, r.recipient); }));
    } else {
      box->post(frame(hcp2::not_delivered_size(r.recipient), [&](auto out) {
        hcp2::write_not_delivered(out, r.id, hcp2::errc::recipient_left, r.recipient);
      }));
    }
  }

  // A session that ends with whispers unconfirmed: a guest will never confirm
  // them; an account's are stored and come back in its history.
  void end_receipts(peer& p) {
    for (auto& r : p.take_unconfirmed())
      if (!p.registered) report(r, false);
  }

  // Runs the writer beside `read_loop` until both end, then closes the socket.
  asio::awaitable<void> run_session(socket_type& socket, const std::string& who, std::shared_ptr<howdy::outbox> box,
                                    asio::awaitable<void> read_loop) {
    auto write_ec = co_await howdy::run_duplex(socket, *box, std::move(read_loop), config_.shutdown_grace);
    if (write_ec == howdy::error::slow_consumer)
      log_->warn("{}: disconnected: {}", who, write_ec.message());
    else if (write_ec && write_ec != asio::error::operation_aborted && write_ec != asio::error::bad_descriptor)
      log_->info("{}: {}", who, write_ec.message());
    std::error_code ignored;
    socket.shutdown(socket_type::shutdown_both, ignored);
    socket.close(ignored);
  }

  void log_read_end(const std::string& who, std::error_code ec) {
    if (ec == howdy::error::end_of_stream || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
      log_->info("{} disconnected", who);
    else
      log_->warn("{}: closing: {}", who, ec.message());
  }

  // Ends a session whose deadline passed: the reader sees the end of its
  // stream, and what is queued (an HCP/2 error) is still flushed.
  howdy::watchdog session_deadline(socket_type& socket, const std::string& who, std::function<void()> before_close) {
    howdy::watchdog w(socket.get_executor(), [this, &socket, &who, before_close = std::move(before_close)] {
      log_->info("{}: timed out, closing", who);
      if (before_close) before_close();
      std::error_code ignored;
      socket.shutdown(socket_type::shutdown_receive, ignored);
    });
    w.expires_after(config_.handshake_timeout);
    return w;
  }

  static hcp2::errc claim_error(std::error_code ec) {
    if (ec == howdy::error::name_taken) return hcp2::errc::name_taken;
    if (ec == howdy::error::name_reserved) return hcp2::errc::name_reserved;
    if (ec == howdy::error::name_protected) return hcp2::errc::name_registered;
    return hcp2::errc::malformed_username;
  }

  static std::shared_ptr<peer> make_peer(std::shared_ptr<howdy::outbox> box, wire format, bool registered = false) {
    auto p = std::make_shared<peer>();
    p->box = std::move(box);
    p->format = format;
    p->registered = registered;
    return p;
  }

  // ---- HCP/2 -----------------------------------------------------------------

  // One HCP/2 connection's state beyond its reader.
  struct hcp2_state {
    std::shared_ptr<howdy::outbox> box;
    std::string address;
    registry::lease name;
    std::shared_ptr<peer> self;
    howdy::broadcast_hub::subscription all;
    howdy::broadcast_hub::subscription presence;
    std::map<std::string, std::pair<room_ptr, howdy::broadcast_hub::subscription>, std::less<>> rooms;
    bool wants_presence = true;
    std::uint64_t acked = 0;        // highest RECEIVED id (accounts: the history cursor)
    std::uint64_t replay_upto = 0;  // history beyond this id arrives live
    std::uint64_t page_limit = UINT64_MAX;  // while history pages remain: the last id replayed
    // Messages of this session waiting for the store. Bounded: at the bound the
    // session stops reading until commits catch up, so one client cannot fill
    // the store's queue. Completions run on this session's executor.
    struct store_budget {
      explicit store_budget(asio::any_io_executor ex) : wake(std::move(ex)) {}
      std::size_t pending = 0;
      asio::steady_timer wake;
      void done() {
        if (--pending < max_storing_per_session) wake.cancel();
      }
    };
    std::shared_ptr<store_budget> storing;

    bool registered() const { return self && self->registered; }
    void push(howdy::shared_buffer f) const { box->push(std::move(f)); }
    void refuse(hcp2::errc code, std::string_view name, std::string_view reason = {}) const {
      if (reason.empty()) reason = hcp2::describe(code);
      const std::string_view shown = name.size() <= name_field_size ? name : std::string_view{};
      push(frame(hcp2::name_refused_size(shown, reason),
                 [&](auto out) { hcp2::write_name_refused(out, code, shown, reason); }));
    }
  };

  asio::awaitable<void> hcp2_loop(socket_type& socket, std::string& who, std::string address,
                                  std::shared_ptr<howdy::outbox> box) {
    howdy::framed_reader reader(socket, howdy::codec::hcp2{}, {.max_frame_size = config_.max_frame + 4});
    hcp2_state s;
    s.box = box;
    s.address = std::move(address);
    s.storing = std::make_shared<hcp2_state::store_budget>(box->get_executor());
    bool greeted = false;
    bool close_now = false;
    auto deadline = session_deadline(socket, who, [&] {
      s.push(error_frame(s.name ? hcp2::errc::idle_timeout : hcp2::errc::handshake_timeout));
    });

    for (;;) {
      while (s.storing->pending >= max_storing_per_session) {  // backpressure: TCP holds the rest
        s.storing->wake.expires_at(asio::steady_timer::time_point::max());
        co_await s.storing->wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      }
      auto [ec, f] = co_await reader.next();
      if (ec) {
        if (ec == howdy::error::frame_too_large) s.push(error_frame(hcp2::errc::frame_too_large));
        if (ec == howdy::error::malformed_frame) s.push(error_frame(hcp2::errc::malformed_frame));
        log_read_end(s.name ? s.name.name() : who, ec);
        break;
      }
      if (s.name) deadline.expires_after(config_.idle_timeout);
      const auto type = std::to_integer<std::uint8_t>(f.payload[0]);
      if (greeted && !hcp2::is_client_frame_type(type)) {
        s.push(error_frame(hcp2::errc::unknown_frame_type, 0, "not a client frame type"));  // skipped; room to grow
        continue;
      }
      const auto parsed = hcp2::parse(f.bytes);

      if (!greeted) {
        const auto* hello = std::get_if<hcp2::hello>(&parsed);
        if (!hello || hello->version != hcp2::version) {
          log_->warn("{}: expected HCP/2 HELLO version 2, closing", who);
          s.push(error_frame(hcp2::errc::unsupported_version));
          break;
        }
        greeted = true;
        s.wants_presence = (hello->flags & hcp2::hello_no_presence) == 0;
        s.push(frame(hcp2::welcome_size(config_.server_info),
                     [&](auto out) { hcp2::write_welcome(out, config_.max_frame, config_.server_info); }));
        continue;
      }

      if (const auto* bad = std::get_if<hcp2::parse_error>(&parsed)) {
        if (bad->code == hcp2::errc::unknown_frame_type) {
          s.push(error_frame(hcp2::errc::unknown_frame_type));  // room to grow: skip it, stay connected
          continue;
        }
        log_->warn("{}: malformed frame (type 0x{:02x}), closing", who, bad->type);
        s.push(error_frame(hcp2::errc::malformed_frame));
        break;
      }

      // Frames that wait for the store or the password hashing.
      if (const auto* a = std::get_if<hcp2::register_account>(&parsed)) {
        co_await sign_in(s, who, std::string(a->name), std::string(a->password), true);
        if (s.name) deadline.expires_after(config_.idle_timeout);
        continue;
      }
      if (const auto* a = std::get_if<hcp2::login>(&parsed)) {
        co_await sign_in(s, who, std::string(a->name), std::string(a->password), false);
        if (s.name) deadline.expires_after(config_.idle_timeout);
        continue;
      }
      if (const auto* h = std::get_if<hcp2::history_request>(&parsed)) {
        std::vector<howdy::shared_buffer> none;  // a named argument: GCC 12 mishandles braced temporaries in co_await
        co_await send_history(s, h->after_id, std::move(none));
        continue;
      }

      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, hcp2::name>) {
              guest_name(s, who, v.value);
              if (s.name) deadline.expires_after(config_.idle_timeout);
            } else if constexpr (std::is_same_v<T, hcp2::send>) {
              close_now = !hcp2_send(s, v);
            } else if constexpr (std::is_same_v<T, hcp2::received>) {
              on_received(s, v.id);
            } else if constexpr (std::is_same_v<T, hcp2::join>) {
              join_room(s, v.room);
            } else if constexpr (std::is_same_v<T, hcp2::leave>) {
              leave_room(s, v.room);
            } else if constexpr (std::is_same_v<T, hcp2::rooms_request>) {
              send_room_list(s);
            } else if constexpr (std::is_same_v<T, hcp2::members_request>) {
              send_room_members(s, v.room);
            } else if constexpr (std::is_same_v<T, hcp2::roster_request>) {
              send_roster(s);
            } else if constexpr (std::is_same_v<T, hcp2::ping>) {
              s.push(frame(hcp2::pong_size(), [&](auto out) { hcp2::write_pong(out, v.token); }));
            } else if constexpr (std::is_same_v<T, hcp2::who>) {
              send_users_to(*s.box);
            } else if constexpr (std::is_same_v<T, hcp2::bye>) {
              log_->info("{} said goodbye", who);
              close_now = true;
            } else if constexpr (std::is_same_v<T, hcp2::hello>) {
              s.push(error_frame(hcp2::errc::malformed_frame, 0, "HELLO was already received"));
            } else {
              s.push(error_frame(hcp2::errc::unknown_frame_type, 0, "not a client frame"));
            }
          },
          parsed);
      if (close_now) break;
    }

    // Leave: stop receiving broadcasts, leave a guest's rooms (members hear
    // ROOM_LEFT; an account stays a member while offline), settle receipts, free
    // the name (everyone hears LEFT), then flush what is owed and close.
    s.all.reset();
    s.presence.reset();
    for (auto& [room_name, entry] : s.rooms) {
      auto& [room, subscription] = entry;
      subscription.reset();
      if (s.registered() || !s.name) continue;
      std::error_code ignored;
      rooms_.leave(room_name, s.name.name(), ignored);
      room->hub().publish(room_event(false, room_name, s.name.name()));
    }
    s.rooms.clear();
    if (s.self) end_receipts(*s.self);
    s.name.release();
    if (stopping_) s.push(error_frame(hcp2::errc::shutting_down));
  }

  void guest_name(hcp2_state& s, std::string& who, std::string_view wanted) {
    log_->info("a username is received from {}: {}", who, wanted);
    if (s.name) return s.push(error_frame(hcp2::errc::already_named));
    if (config_.auth == auth_mode::required) return s.refuse(hcp2::errc::auth_required, wanted);
    auto self = make_peer(s.box, wire::hcp2);
    std::error_code ec;
    // Subscribe and claim in one step on this executor: no event can slip between them.
    s.all = hcp2_hub_.subscribe(*s.box);
    if (s.wants_presence) s.presence = hcp2_presence_hub_.subscribe(*s.box);
    s.name = names_.claim(wanted, self, ec);
    if (ec) {
      s.all.reset();
      s.presence.reset();
      log_->info("username rejected ({}): {}", ec.message(), wanted);
      return s.refuse(claim_error(ec), wanted, ec.message());
    }
    s.self = std::move(self);
    who = s.name.name();
    log_->info("username accepted: {} (guest)", who);
    s.push(frame(hcp2::name_ok_size(who), [&](auto out) { hcp2::write_name_ok(out, who); }));
    if (s.wants_presence) send_users_to(*s.box);
  }

  // Jobs for the hashing pool. Plain functions, not capturing lambdas: GCC 12
  // frees a coroutine lambda's init-captures twice.
  static asio::awaitable<std::string> hash_job(std::string password, pwhash_cost cost) {
    co_return hash_password(password, cost);
  }
  static asio::awaitable<bool> verify_job(std::string hash, std::string password) {
    co_return verify_password(hash, password);
  }

  // REGISTER (create = true) or LOGIN, then the account's history.
  asio::awaitable<void> sign_in(hcp2_state& s, std::string& who, std::string name, std::string password, bool create) {
    if (s.name) co_return s.push(error_frame(hcp2::errc::already_named));
    if (config_.auth == auth_mode::off) co_return s.refuse(hcp2::errc::auth_disabled, name);
    if (password.empty() || password.size() > 1024) co_return s.refuse(hcp2::errc::invalid_password, name);
    // Both limits are charged on every attempt, so neither a name nor an
    // address can be used to guess passwords quickly. The name's bucket is per
    // address too, so that nobody can lock an account's owner out.
    const bool name_ok = name_attempts_.try_acquire(name + '\0' + s.address);
    const bool address_ok = address_attempts_.try_acquire(s.address);
    if (!name_ok || !address_ok) {
      log_->warn("{}: too many sign-in attempts ({})", who, name_ok ? "from this address" : "for this name");
      co_return s.refuse(hcp2::errc::too_many_attempts, name);
    }

    if (create) {
      if (auto ec = names_.check(name)) co_return s.refuse(claim_error(ec), name, ec.message());
      {
        // Protect the name while hashing, so that no guest takes it meanwhile.
        std::lock_guard lock(accounts_mutex_);
        if (accounts_.contains(name) || registering_.contains(name))
          co_return s.refuse(hcp2::errc::name_registered, name);
        names_.protect(name);
        if (names_.find(name)) {  // a guest has it (checked after protecting: none can take it now)
          names_.unprotect(name);
          co_return s.refuse(hcp2::errc::name_taken, name);
        }
        registering_.insert(name);
      }
      auto [hash_error, hash] = co_await asio::co_spawn(*hashing_, hash_job(std::move(password), config_.pwhash),
                                                        asio::experimental::as_tuple(asio::use_awaitable));
      std::error_code ec;
      if (!hash_error) std::tie(ec) = co_await store_->async_create_account(name, hash, asio::experimental::as_tuple(asio::use_awaitable));
      {
        std::lock_guard lock(accounts_mutex_);
        registering_.erase(name);
        if (!hash_error && !ec) accounts_.insert(name);
        else if (!accounts_.contains(name)) names_.unprotect(name);
      }
      if (hash_error || ec) {
        log_->warn("{}: could not create the account {}: {}", who, name, hash_error ? "password hashing failed" : ec.message());
        co_return s.refuse(ec == hcp2::errc::name_registered ? hcp2::errc::name_registered : hcp2::errc::storage_failed,
                           name, ec == hcp2::errc::name_registered ? std::string_view{} : "could not store the account");
      }
      log_->info("{}: account created: {}", who, name);
    } else {
      auto [ec, hash] = co_await store_->async_password_hash(name, asio::experimental::as_tuple(asio::use_awaitable));
      if (ec == hcp2::errc::unknown_account) co_return s.refuse(hcp2::errc::unknown_account, name);
      if (ec) {
        log_->warn("{}: could not read the account {}: {}", who, name, ec.message());
        co_return s.refuse(hcp2::errc::storage_failed, name, "could not read the account");
      }
      auto [verify_error, ok] = co_await asio::co_spawn(*hashing_, verify_job(std::move(hash), std::move(password)),
                                                        asio::experimental::as_tuple(asio::use_awaitable));
      if (verify_error || !ok) {
        log_->info("{}: wrong password for {}", who, name);
        co_return s.refuse(hcp2::errc::wrong_password, name);
      }
    }
    co_await enter_account(s, who, name);
  }

  // Takes the account's name and replays what it missed. The outbox is held
  // from the claim until the replay is queued, so live messages that arrive
  // meanwhile follow the replay; the history lock makes "stored up to
  // replay_upto" and "delivered live after" one cut, so nothing comes twice.
  asio::awaitable<void> enter_account(hcp2_state& s, std::string& who, const std::string& name) {
    auto self = make_peer(s.box, wire::hcp2, true);
    std::error_code ec;
    {
      std::lock_guard lock(history_mutex_);
      s.box->hold();
      s.all = hcp2_hub_.subscribe(*s.box);
      if (s.wants_presence) s.presence = hcp2_presence_hub_.subscribe(*s.box);
      s.name = names_.claim_protected(name, self, ec);
      if (!ec) {
        for (auto& room_name : rooms_.rooms_of(name))
          if (auto room = rooms_.find(room_name))
            s.rooms.try_emplace(room_name, room, room->hub().subscribe(*s.box));
        s.replay_upto = last_stored_id_;
      }
    }
    if (ec) {
      s.all.reset();
      s.presence.reset();
      s.box->release();
      log_->info("{}: cannot sign in as {}: {}", who, name, ec.message());
      co_return s.refuse(claim_error(ec), name, ec.message());
    }
    s.self = std::move(self);
    who = s.name.name();
    log_->info("{} signed in", who);
    std::vector<howdy::shared_buffer> first;
    first.push_back(frame(hcp2::name_ok_size(who), [&](auto out) { hcp2::write_name_ok(out, who); }));
    if (s.wants_presence) first.push_back(users_frame());
    co_await send_history(s, std::nullopt, std::move(first));  // releases the outbox
  }

  // Stored messages after `after` (nullopt: after the account's cursor), then
  // HISTORY_END, queued after `first`. Guests have no history.
  asio::awaitable<void> send_history(hcp2_state& s, std::optional<std::uint64_t> after,
                                     std::vector<howdy::shared_buffer> first) {
    std::vector<stored_message> stored;
    bool more = false;
    if (s.registered()) {
      std::error_code ec;
      std::tie(ec, stored, more) =
          co_await store_->async_history(s.name.name(), after, history_page, config_.outbox_bytes / 2,
                                        asio::experimental::as_tuple(asio::use_awaitable));
      if (ec) log_->warn("{}: could not read the history: {}", s.name.name(), ec.message());
    }
    std::uint64_t last = 0;
    for (auto& m : stored) {
      if (m.id > s.replay_upto) {  // also arriving live
        more = false;
        break;
      }
      first.push_back(encode_for(wire::hcp2, m.id, m.timestamp_us, m.kind, m.sender, m.target, m.text));
      last = m.id;
      // A replayed whisper is confirmed like a live one.
      if (m.kind == hcp2::target_kind::user)
        if (auto sender = names_.find(m.sender); sender && (*sender)->format == wire::hcp2)  // a text sender had its SENT
          s.self->expect({m.id, m.sender, m.target, (*sender)->box, (*sender)->format}, config_.max_pending_receipts);
    }
    s.page_limit = more ? last : UINT64_MAX;
    first.push_back(frame(hcp2::history_end_size(), [&](auto out) { hcp2::write_history_end(out, last, more); }));
    if (!stored.empty()) log_->info("{}: replaying {} stored message(s)", s.name.name(), first.size() - 1);
    if (s.box->held())
      s.box->release(std::move(first));
    else
      for (auto& f : first) s.push(std::move(f));
  }

  // Returns false when the frame is malformed and the connection must close.
  bool hcp2_send(hcp2_state& s, const hcp2::send& v) {
    const auto ref = v.client_ref;
    auto malformed = [&](std::string_view why) {
      s.push(error_frame(hcp2::errc::malformed_frame, ref, why));
      return false;
    };
    if (v.kind != hcp2::target_kind::all && v.kind != hcp2::target_kind::user && v.kind != hcp2::target_kind::room)
      return malformed("unknown target kind");
    if (v.kind == hcp2::target_kind::all && !v.target.empty()) return malformed("a SEND to all has no target name");
    if (v.text.empty() || !is_valid_utf8(v.text)) return malformed("text must be non-empty UTF-8");
    if (!s.name) return s.push(error_frame(hcp2::errc::not_registered, ref)), true;
    const std::string& me = s.name.name();
    auto sent = [ref](std::uint64_t id) {
      return frame(hcp2::sent_size(), [&](auto out) { hcp2::write_sent(out, ref, id); });
    };

    if (v.kind == hcp2::target_kind::all) {
      s.push(sent(deliver_to_all(me, s.box.get(), v.text)));
      return true;
    }
    if (v.kind == hcp2::target_kind::room) return send_to_room(s, v), true;

    auto out = whisper(me, v.target, v.text, s.box, wire::hcp2, s.box->get_executor(),
                       [box = s.box, ref, sent, storing = s.storing](std::error_code ec, std::uint64_t id, bool) {
                         storing->done();
                         box->push(ec ? error_frame(hcp2::errc::storage_failed, ref) : sent(id));
                       });
    if (!out.known) s.push(error_frame(hcp2::errc::unknown_recipient, ref));
    else if (!out.stored) s.push(sent(out.id));
    else ++s.storing->pending;
    return true;
  }

  // One hub per room: the message is encoded once for all its online members.
  // With history on it is stored too, and SENT follows the commit.
  void send_to_room(hcp2_state& s, const hcp2::send& v) {
    const auto ref = v.client_ref;
    const std::string& me = s.name.name();
    auto room = rooms_.find(v.target);
    if (!room || !room->has_member(me)) return s.push(error_frame(hcp2::errc::not_in_room, ref));
    std::uint64_t id;
    {
      std::lock_guard lock(history_mutex_);
      id = next_id();
      const auto ts = now_us();
      if (config_.store.history) {
        store_->async_append(
            stored_message{id, ts, hcp2::target_kind::room, me, room->name(), std::string(v.text)},
            asio::bind_executor(s.box->get_executor(), [box = s.box, ref, id, storing = s.storing](std::error_code ec) {
              storing->done();
              box->push(ec ? error_frame(hcp2::errc::storage_failed, ref,
                                         "delivered to the online members, but could not be stored")
                           : frame(hcp2::sent_size(), [&](auto out) { hcp2::write_sent(out, ref, id); }));
            }));
        last_stored_id_ = id;
        ++s.storing->pending;
      }
      room->hub().publish(encode_for(wire::hcp2, id, ts, hcp2::target_kind::room, me, room->name(), v.text),
                          s.box.get());
    }
    log_->debug("forwarding a message from {} to room {} ({} bytes)", me, room->name(), v.text.size());
    if (!config_.store.history) s.push(frame(hcp2::sent_size(), [&](auto out) { hcp2::write_sent(out, ref, id); }));
  }

  void on_received(hcp2_state& s, std::uint64_t id) {
    if (!s.self) return;
    if (auto r = s.self->confirm(id)) report(*r, true);
    if (!s.registered() || id > last_id_.load(std::memory_order_relaxed)) return;
    // The cursor means "everything up to here was received": it stops short of
    // whispers still on their way and of history pages not yet fetched.
    const auto cursor = std::min({id, s.self->cursor_limit(), s.page_limit});
    if (cursor > s.acked) {
      s.acked = cursor;
      store_->set_cursor(s.name.name(), cursor);
    }
  }

  static howdy::shared_buffer room_event(bool joined, std::string_view room, std::string_view user) {
    return joined ? frame(hcp2::room_joined_size(room, user), [&](auto out) { hcp2::write_room_joined(out, room, user); })
                  : frame(hcp2::room_left_size(room, user), [&](auto out) { hcp2::write_room_left(out, room, user); });
  }

  static hcp2::errc room_error(std::error_code ec) {
    if (ec == howdy::error::room_limit) return hcp2::errc::room_limit;
    if (ec == howdy::error::not_a_member) return hcp2::errc::not_in_room;
    return hcp2::errc::invalid_room;
  }

  void join_room(hcp2_state& s, std::string_view wanted) {
    if (!s.name) return s.push(error_frame(hcp2::errc::not_registered));
    const std::string& me = s.name.name();
    if (auto it = s.rooms.find(wanted); it != s.rooms.end()) return s.push(room_event(true, wanted, me));
    bool added = false;
    std::error_code ec;
    auto room = rooms_.join(wanted, me, added, ec);
    if (ec) return s.push(error_frame(room_error(ec)));
    std::lock_guard lock(history_mutex_);
    s.rooms.try_emplace(room->name(), room, room->hub().subscribe(*s.box));
    // Messages after this point are the account's to receive, online or not.
    if (s.registered()) store_->join_room(room->name(), me, last_stored_id_);
    // The joiner's copy goes straight to its outbox, like LEAVE's: a BYE right
    // after JOIN must not outrun the hub.
    s.push(room_event(true, room->name(), me));
    room->hub().publish(room_event(true, room->name(), me), s.box.get());
    log_->info("{} joined room {}", me, room->name());
  }

  void leave_room(hcp2_state& s, std::string_view wanted) {
    auto it = s.name ? s.rooms.find(wanted) : s.rooms.end();
    if (it == s.rooms.end()) return s.push(error_frame(hcp2::errc::not_in_room));
    const std::string& me = s.name.name();
    auto room = it->second.first;
    s.rooms.erase(it);  // unsubscribes
    std::error_code ignored;
    rooms_.leave(room->name(), me, ignored);
    if (s.registered()) store_->leave_room(room->name(), me);
    s.push(room_event(false, room->name(), me));
    room->hub().publish(room_event(false, room->name(), me));
    log_->info("{} left room {}", me, room->name());
  }

  std::uint8_t status_of(std::string_view name) const {
    return (names_.find(name) ? hcp2::status_online : 0) | (is_account(name) ? hcp2::status_registered : 0);
  }

  // How many of `entries` fit one frame after `fixed` bytes, each taking
  // `per_entry` bytes plus its name: long lists are cut to the max frame.
  template <class Entries, class Name>
  std::size_t fitting(const Entries& entries, std::size_t fixed, std::size_t per_entry, Name name) const {
    std::size_t size = fixed, n = 0;
    for (; n < entries.size() && n < UINT16_MAX; ++n) {
      size += per_entry + name(entries[n]).size();
      if (size > config_.max_frame) break;
    }
    return n;
  }

  void send_room_list(hcp2_state& s) {
    auto listing = rooms_.list();
    listing.resize(fitting(listing, 1 + 2, 1 + 4, [](auto& r) -> std::string_view { return r.name; }));
    std::vector<hcp2::room_entry> entries;
    for (auto& r : listing) entries.push_back({r.name, static_cast<std::uint32_t>(std::min<std::size_t>(r.members, UINT32_MAX))});
    s.push(frame(hcp2::room_list_size(entries), [&](auto out) { hcp2::write_room_list(out, entries); }));
  }

  void send_room_members(hcp2_state& s, std::string_view wanted) {
    auto room = rooms_.find(wanted);
    std::vector<std::string> members = room ? room->members() : std::vector<std::string>{};
    members.resize(fitting(members, 1 + 1 + wanted.size() + 2, 2, [](auto& m) -> std::string_view { return m; }));
    std::vector<hcp2::roster_entry> entries;
    for (auto& m : members) entries.push_back({status_of(m), m});
    s.push(frame(hcp2::room_members_size(wanted, entries),
                 [&](auto out) { hcp2::write_room_members(out, wanted, entries); }));
  }

  // Accounts online or not, and guests while online.
  void send_roster(hcp2_state& s) {
    std::vector<std::string> names = names_.snapshot().names;
    {
      std::lock_guard lock(accounts_mutex_);
      for (auto& a : accounts_)
        if (!names_.find(a)) names.push_back(a);
    }
    names.resize(fitting(names, 1 + 2, 2, [](auto& n) -> std::string_view { return n; }));
    std::vector<hcp2::roster_entry> entries;
    for (auto& n : names) entries.push_back({status_of(n), n});
    s.push(frame(hcp2::roster_size(entries), [&](auto out) { hcp2::write_roster(out, entries); }));
  }

  howdy::shared_buffer users_frame() const {
    const auto list = names_.snapshot().names;
    return frame(hcp2::users_size(list), [&](auto out) { hcp2::write_users(out, list); });
  }
  void send_users_to(howdy::outbox& box) { box.push(users_frame()); }

  // ---- HCP/1 -----------------------------------------------------------------

  asio::awaitable<void> hcp1_loop(socket_type& socket, std::string& who, std::shared_ptr<howdy::outbox> box) {
    howdy::framed_reader reader(socket, howdy::codec::hcp1{}, {.max_frame_size = config_.max_frame});
    registry::lease name;
    howdy::broadcast_hub::subscription subscription;
    auto deadline = session_deadline(socket, who, nullptr);  // HCP/1 has no way to say why

    for (;;) {
      auto [ec, f] = co_await reader.next();
      if (ec) {
        log_read_end(name ? name.name() : who, ec);
        break;
      }
      if (name) deadline.expires_after(config_.idle_timeout);
      const auto type = static_cast<hcp1::type>(f.bytes[0]);

      if (type == hcp1::type::proposal) {
        const auto packet = hcp1::parse_name_packet(f.bytes);
        const auto field = packet->name;
        log_->info("a username is received from {}: {}", who, field.name);
        // A nak echoes the proposed field, as the original server does.
        auto nak = [&] {
          box->push(howdy::shared_buffer::make(hcp1::nak_size(), [&](std::span<std::byte> out) {
            std::copy(f.bytes.begin(), f.bytes.end(), out.begin());
            out[0] = std::byte(hcp1::type::nak);
          }));
        };
        if (name) {
          log_->info("{} already has a name; refusing {}", name.name(), field.name);
          nak();
          continue;
        }
        std::error_code claim_ec;
        if (!field.valid) {
          claim_ec = howdy::error::name_invalid;
        } else if (config_.auth == auth_mode::required) {
          claim_ec = howdy::error::name_protected;  // HCP/1 has no way to sign in
        } else {
          subscription = hcp1_hub_.subscribe(*box);
          name = names_.claim(field.name, make_peer(box, wire::hcp1), claim_ec);
        }
        if (claim_ec) {
          subscription.reset();
          log_->info("username rejected ({}): {}", claim_ec.message(), field.name);
          nak();
          continue;
        }
        // The ack goes out now; the list update the claim published follows it.
        box->push(frame(hcp1::ack_size(), [&](auto out) { hcp1::write_ack(out, name.name()); }));
        who = name.name();
        log_->info("username accepted: {}; sending the ack and the user list", who);
        deadline.expires_after(config_.idle_timeout);
        continue;
      }

      if (type == hcp1::type::message) {
        const auto m = hcp1::parse_message(f.bytes);
        if (!name) {
          log_->warn("{}: message from a connection without a name: not delivered", who);
          continue;
        }
        if (!m || m->sender != name.name()) {
          log_->warn("{}: message with sender '{}' is not that connection's name: not delivered", who,
                     m ? m->sender : std::string_view{});
          continue;
        }
        if (m->receiver == "All") {
          deliver_to_all(name.name(), box.get(), m->text);
        } else if (!whisper(name.name(), m->receiver, m->text, {}, wire::hcp1, box->get_executor(),
                            [](std::error_code, std::uint64_t, bool) {})
                        .known) {
          log_->info("{}: invalid receiver name '{}': not delivered", who, m->receiver);
        }
        continue;
      }
      // Types 2-4 are the server's: discarded, as the original server does.
      log_->debug("{}: discarding a packet of type {}", who, static_cast<int>(type));
    }

    subscription.reset();
    name.release();
  }

  // ---- The seed-002 text protocol ---------------------------------------------
  //
  // Two connections per user: TORECV holds the name in the registry (it is
  // where FORWARDs go), TOSEND sends as that name once both are registered.

  asio::awaitable<void> text_loop(socket_type& socket, std::string& who, std::shared_ptr<howdy::outbox> box) {
    howdy::framed_reader reader(socket, howdy::codec::header_body("\n\n", "Content-length"),
                                {.max_frame_size = config_.max_frame});
    registry::lease name;     // TORECV: the name it receives for
    std::string sender_name;  // TOSEND: the name it sends as
    std::weak_ptr<peer> paired;  // TOSEND: that name's TORECV
    const auto token = std::make_shared<const int>(0);  // TOSEND: who this connection is, for pairing
    std::shared_ptr<peer> self;
    howdy::broadcast_hub::subscription all;
    auto deadline = session_deadline(socket, who, nullptr);
    auto say = [&](std::string_view line) { box->push(text_frame(line)); };

    for (;;) {
      auto [ec, f] = co_await reader.next();
      if (ec) {
        if (ec == howdy::error::malformed_frame || ec == howdy::error::frame_too_large) say(text::error(103));
        log_read_end(name ? name.name() : who, ec);
        break;
      }
      if (name || !sender_name.empty()) deadline.expires_after(config_.idle_timeout);
      const auto header_size = static_cast<std::size_t>(f.payload.data() - f.bytes.data()) - 2;  // before "\n\n"
      const std::string_view header(reinterpret_cast<const char*>(f.bytes.data()), header_size);
      const std::string_view body(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
      const auto cmd = text::parse_command(header);

      if (cmd.kind == text::command_kind::register_ && !name && sender_name.empty()) {
        if (!text::is_valid_name(cmd.arg)) {
          say(text::error(100));
          continue;
        }
        if (config_.auth == auth_mode::required) {
          say(text::error(118));
          continue;
        }
        if (cmd.direction == text::direction::torecv) {
          auto me = make_peer(box, wire::text);
          std::error_code claim_ec;
          all = text_hub_.subscribe(*box);
          name = names_.claim(cmd.arg, me, claim_ec);
          if (claim_ec) {
            all.reset();
            log_->info("{}: username rejected ({}): {}", who, claim_ec.message(), cmd.arg);
            say(text::error(static_cast<int>(claim_error(claim_ec))));
            continue;
          }
          {
            std::lock_guard lock(text_mutex_);
            if (auto it = waiting_senders_.find(name.name()); it != waiting_senders_.end()) {
              if (auto sender = it->second.lock()) me->pair_sender(sender);
              waiting_senders_.erase(it);
            }
          }
          self = std::move(me);
          who = name.name();
          say(text::registered(text::direction::torecv, who));
        } else {
          std::error_code check_ec = names_.check(cmd.arg);
          if (!check_ec && is_account(cmd.arg)) check_ec = howdy::error::name_protected;
          // Held already: only by this user's own TORECV, not yet paired with a sender.
          if (auto owner = names_.find(cmd.arg); !check_ec && owner) {
            if ((*owner)->format != wire::text || !(*owner)->pair_sender(token))
              check_ec = howdy::error::name_taken;
            else
              paired = *owner;
          } else if (!check_ec) {  // TORECV comes next: it pairs with this connection
            std::lock_guard lock(text_mutex_);
            std::erase_if(waiting_senders_, [](auto& w) { return w.second.expired(); });
            auto& waiting = waiting_senders_[std::string(cmd.arg)];
            if (waiting.lock()) check_ec = howdy::error::name_taken;
            else waiting = token;
          }
          if (check_ec) {
            say(text::error(static_cast<int>(claim_error(check_ec))));
            continue;
          }
          sender_name = std::string(cmd.arg);
          who = sender_name + " (sending)";
          say(text::registered(text::direction::tosend, sender_name));
        }
        log_->info("{} registered a text-protocol connection", who);
        deadline.expires_after(config_.idle_timeout);
        continue;
      }

      if (cmd.kind == text::command_kind::send && !sender_name.empty()) {
        // Both connections must be registered: the name's holder is this
        // user's TORECV, paired with this connection and no other.
        auto receiver = paired.lock();
        if (!receiver) {
          auto owner = names_.find(sender_name);
          if (owner && (*owner)->format == wire::text && (*owner)->pair_sender(token)) paired = receiver = *owner;
        }
        if (!receiver || names_.find(sender_name) != receiver) {
          say(text::error(101));
          continue;
        }
        if (!cmd.content_length) {  // cannot know where the next message starts
          say(text::error(103));
          break;
        }
        if (body.empty() || !is_valid_utf8(body)) {
          say(text::error(102));
          continue;
        }
        if (text::is_everyone(cmd.arg)) {
          deliver_to_all(sender_name, receiver->box.get(), body);
          say(text::sent(cmd.arg));
          continue;
        }
        const std::string target(cmd.arg);
        auto out = whisper(sender_name, target, body, box, wire::text, box->get_executor(),
                           [box, target](std::error_code ec, std::uint64_t, bool awaits_receipt) {
                             if (ec) box->push(text_frame(text::error(102)));
                             else if (!awaits_receipt) box->push(text_frame(text::sent(target)));
                           });
        if (!out.known) say(text::error(102));
        else if (!out.stored && !out.awaits_receipt) say(text::sent(target));
        continue;
      }

      if (cmd.kind == text::command_kind::received && self) {
        if (auto r = self->confirm(0, cmd.arg)) report(*r, true);
        continue;
      }
      if (cmd.kind == text::command_kind::error && self) {  // the receiver could not read a FORWARD
        if (auto r = self->confirm_oldest()) report(*r, false);
        continue;
      }
      if (!name && sender_name.empty()) {
        say(text::error(101));
        continue;
      }
      log_->warn("{}: unexpected text-protocol command, closing", who);
      say(text::error(103));
      break;
    }

    all.reset();
    if (self) end_receipts(*self);
    name.release();
  }

  static constexpr std::size_t history_page = 1000;  // messages per replay or HISTORY reply

  server_config config_;
  std::shared_ptr<spdlog::logger> log_;
  std::optional<chat_store> store_;  // reset by close()
  registry names_;
  howdy::room_directory rooms_;
  howdy::broadcast_hub hcp2_hub_;           // messages to everyone
  howdy::broadcast_hub hcp2_presence_hub_;  // JOINED / LEFT, for those who want them
  howdy::broadcast_hub hcp1_hub_;
  howdy::broadcast_hub text_hub_;           // seed-002 clients' receiving connections
  howdy::rate_limiter name_attempts_;
  howdy::rate_limiter address_attempts_;
  std::mutex accounts_mutex_;
  std::set<std::string, std::less<>> accounts_;     // for ROSTER; names_ protects the same names
  std::set<std::string, std::less<>> registering_;  // accounts being created
  std::vector<std::string> hcp1_list_;           // in join order; guarded by the registry's lock
  std::mutex text_mutex_;
  std::map<std::string, std::weak_ptr<const void>, std::less<>> waiting_senders_;  // TOSEND before its TORECV
  std::mutex history_mutex_;                     // orders stored ids, storage and delivery against logins
  std::uint64_t last_stored_id_ = 0;             // guarded by history_mutex_
  std::atomic<std::uint64_t> last_id_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> closed_{false};
  // argon2id: slow on purpose, never on a network thread. Last, so that it goes
  // first: jobs it abandons hold session frames, whose leases need the registry.
  std::optional<asio::thread_pool> hashing_{std::in_place, 2};
};

}  // namespace hcp
