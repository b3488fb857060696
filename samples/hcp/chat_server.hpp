// The HCP chat server: HCP/1 and HCP/2 clients on one port, built from the
// library's primitives only. Each connection is one session coroutine with a
// framed reader, an outbox and its writer; names live in a name_registry and
// broadcasts go through one broadcast_hub per wire format, so a message is
// encoded once per format whatever the number of recipients.
#pragma once

#include "protocol.hpp"

#include <howdy.hpp>

#include <asio/ip/tcp.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hcp {

struct server_config {
  std::uint32_t max_frame = hcp2::default_max_frame;  // HCP/2 length field; HCP/1 packet size
  std::size_t outbox_bytes = 4 * 1024 * 1024;
  howdy::overflow_policy slow_consumer = howdy::overflow_policy::disconnect;
  std::chrono::milliseconds handshake_timeout{10'000};  // from connect to an accepted name
  std::chrono::milliseconds idle_timeout{0};            // 0: idle connections stay
  std::chrono::milliseconds shutdown_grace{3'000};      // to flush outboxes when stopping
  std::string server_info = "howdy-server 0.1";
};

class chat_server {
 public:
  using socket_type = asio::ip::tcp::socket;

  chat_server(howdy::io_context_pool& pool, server_config config, std::shared_ptr<spdlog::logger> log)
      : config_(std::move(config)),
        log_(std::move(log)),
        names_(howdy::name_rules{}, {std::string(reserved_names[0]), std::string(reserved_names[1])}),
        hcp2_hub_(pool.executors()),
        hcp2_presence_hub_(pool.executors()),
        hcp1_hub_(pool.executors()) {
    names_.watch([this](const howdy::presence_event& e, const std::shared_ptr<peer>& who) { on_presence(e, who); });
  }

  chat_server(const chat_server&) = delete;
  chat_server& operator=(const chat_server&) = delete;

  // Set when the server is stopping, so sessions can say so before closing.
  void set_stopping() { stopping_ = true; }


  // The session handler for howdy::tcp_server: tells the protocol by the first
  // byte and runs its session.
  asio::awaitable<void> session(socket_type& socket) {
    std::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    // The peer's address until it has a name, then its name: what the log calls it.
    std::string who = ec ? std::string("?") : endpoint_text(peer);
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
      case protocol::hcp2: co_await hcp2_session(socket, who); break;
      case protocol::hcp1: co_await hcp1_session(socket, who); break;
      default:
        log_->warn("{}: unknown protocol (first byte 0x{:02x}), closing", who, std::to_integer<unsigned>(first));
        break;
    }
    if (names_.size() == 0) log_->info("no user online now");
  }

 private:
  enum class wire { hcp1, hcp2 };

  // What a name leads to: where to queue frames for its owner, and in which format.
  struct peer {
    std::shared_ptr<howdy::outbox> box;
    wire format;
  };
  using registry = howdy::name_registry<std::shared_ptr<peer>>;

  // Encodes one frame into a shared buffer: `write(std::span<std::byte>)`.
  template <class Write>
  static howdy::shared_buffer frame(std::size_t size, Write&& write) {
    return howdy::shared_buffer::make(size, [&](std::span<std::byte> out) { write(out); });
  }

  static std::string endpoint_text(const asio::ip::tcp::endpoint& ep) {
    const auto a = ep.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
  }

  static std::uint64_t now_us() {
    using namespace std::chrono;
    return static_cast<std::uint64_t>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count());
  }

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
    hcp2_presence_hub_.publish(joined ? frame(hcp2::joined_size(e.name), [&](auto out) { hcp2::write_joined(out, e.name); })
                             : frame(hcp2::left_size(e.name), [&](auto out) { hcp2::write_left(out, e.name); }),
                      who->box.get());
    if (hcp1_hub_.subscriber_count() > 0) {
      hcp1_hub_.publish(frame(hcp1::update_size(hcp1_list_), [&](auto out) { hcp1::write_update(out, hcp1_list_); }));
      log_->debug("sending the user list ({} names) to every HCP/1 user", hcp1_list_.size());
    }
  }

  // Delivers a chat message: to everyone else through the hubs (encoded once
  // per format), or to one user. Returns false when the recipient is unknown.
  bool deliver(const std::string& sender, const howdy::outbox* sender_box, hcp2::target_kind kind,
               std::string_view target, std::string_view text, std::uint64_t id) {
    const auto ts = now_us();
    auto hcp2_frame = [&] {
      return frame(hcp2::message_size(sender, target, text),
                   [&](auto out) { hcp2::write_message(out, id, ts, kind, sender, target, text); });
    };
    const std::string_view hcp1_receiver = kind == hcp2::target_kind::all ? std::string_view("All") : target;
    auto hcp1_frame = [&] {
      return frame(hcp1::message_size(text), [&](auto out) { hcp1::write_message(out, sender, hcp1_receiver, text); });
    };

    if (kind == hcp2::target_kind::all) {
      hcp2_hub_.publish(hcp2_frame(), sender_box);
      if (hcp1_hub_.subscriber_count() > 0) hcp1_hub_.publish(hcp1_frame(), sender_box);
      log_->info("forwarding a message from {} to all ({} bytes)", sender, text.size());
      return true;
    }
    auto to = names_.find(target);
    if (!to) return false;
    (*to)->box->post((*to)->format == wire::hcp2 ? hcp2_frame() : hcp1_frame());
    log_->info("forwarding a message from {} to {} ({} bytes)", sender, target, text.size());
    return true;
  }

  // Runs the writer beside `read_loop` until both end, then closes the socket.
  asio::awaitable<void> run_with_writer(socket_type& socket, howdy::outbox& box, asio::awaitable<void> read_loop,
                                        const std::string& who) {
    auto write_ec = co_await howdy::run_duplex(socket, box, std::move(read_loop), config_.shutdown_grace);
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

  // ---- HCP/2 ---------------------------------------------------------------

  asio::awaitable<void> hcp2_session(socket_type& socket, std::string& who) {
    auto box = make_outbox(socket, wire::hcp2);
    co_await run_with_writer(socket, *box, hcp2_reader(socket, who, box), who);
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

  asio::awaitable<void> hcp2_reader(socket_type& socket, std::string& who, std::shared_ptr<howdy::outbox> box) {
    howdy::framed_reader reader(socket, howdy::codec::hcp2{}, {.max_frame_size = config_.max_frame + 4});
    registry::lease name;
    howdy::broadcast_hub::subscription subscription;
    howdy::broadcast_hub::subscription presence;
    bool greeted = false;
    bool wants_presence = true;
    bool close_now = false;

    auto send = [&](std::size_t size, auto write) { box->push(frame(size, write)); };
    auto send_error = [&](hcp2::errc code, std::uint32_t ref = 0, std::string_view text = {}) {
      if (text.empty()) text = hcp2::describe(code);
      send(hcp2::error_size(text), [&](auto out) { hcp2::write_error(out, code, ref, text); });
    };
    auto deadline = session_deadline(socket, who, [&] {
      send_error(name ? hcp2::errc::idle_timeout : hcp2::errc::handshake_timeout);
    });

    for (;;) {
      auto [ec, f] = co_await reader.next();
      if (ec) {
        if (ec == howdy::error::frame_too_large) send_error(hcp2::errc::frame_too_large);
        if (ec == howdy::error::malformed_frame) send_error(hcp2::errc::malformed_frame);
        log_read_end(name ? name.name() : who, ec);
        break;
      }
      if (name) deadline.expires_after(config_.idle_timeout);
      const auto type = std::to_integer<std::uint8_t>(f.payload[0]);
      if (greeted && !hcp2::is_client_frame_type(type)) {
        send_error(hcp2::errc::unknown_frame_type, 0, "not a client frame type");  // skipped; room to grow
        continue;
      }
      const auto parsed = hcp2::parse(f.bytes);

      if (!greeted) {
        const auto* hello = std::get_if<hcp2::hello>(&parsed);
        if (!hello || hello->version != hcp2::version) {
          log_->warn("{}: expected HCP/2 HELLO version 2, closing", who);
          send_error(hcp2::errc::unsupported_version);
          break;
        }
        greeted = true;
        wants_presence = (hello->flags & hcp2::hello_no_presence) == 0;
        send(hcp2::welcome_size(config_.server_info),
             [&](auto out) { hcp2::write_welcome(out, config_.max_frame, config_.server_info); });
        continue;
      }

      if (const auto* bad = std::get_if<hcp2::parse_error>(&parsed)) {
        if (bad->code == hcp2::errc::unknown_frame_type) {
          send_error(hcp2::errc::unknown_frame_type);  // room to grow: skip it, stay connected
          continue;
        }
        log_->warn("{}: malformed frame (type 0x{:02x}), closing", who, bad->type);
        send_error(hcp2::errc::malformed_frame);
        break;
      }

      if (const auto* n = std::get_if<hcp2::name>(&parsed)) {
        log_->info("a username is received from {}: {}", who, n->value);
        if (name) {
          send_error(hcp2::errc::already_named);
          continue;
        }
        std::error_code claim_ec;
        // Subscribe and claim in one step on this executor: no event can slip between them.
        subscription = hcp2_hub_.subscribe(*box);
        if (wants_presence) presence = hcp2_presence_hub_.subscribe(*box);
        name = names_.claim(n->value, std::make_shared<peer>(peer{box, wire::hcp2}), claim_ec);
        if (claim_ec) {
          subscription.reset();
          presence.reset();
          const auto code = claim_ec == howdy::error::name_taken      ? hcp2::errc::name_taken
                            : claim_ec == howdy::error::name_reserved ? hcp2::errc::name_reserved
                                                                      : hcp2::errc::malformed_username;
          log_->info("username rejected ({}): {}", claim_ec.message(), n->value);
          const std::string_view shown = n->value.size() <= name_field_size ? n->value : std::string_view{};
          send(hcp2::name_refused_size(shown, claim_ec.message()),
               [&](auto out) { hcp2::write_name_refused(out, code, shown, claim_ec.message()); });
          continue;
        }
        log_->info("username accepted: {} from {}", name.name(), who);
        who = name.name();
        send(hcp2::name_ok_size(name.name()), [&](auto out) { hcp2::write_name_ok(out, name.name()); });
        if (wants_presence) send_users_to(*box);
        deadline.expires_after(config_.idle_timeout);
        continue;
      }

      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, hcp2::send>) {
              // A SEND that cannot be well formed closes the connection, as any malformed frame does.
              auto malformed = [&](std::string_view why) {
                send_error(hcp2::errc::malformed_frame, v.client_ref, why);
                close_now = true;
              };
              if (!name) return send_error(hcp2::errc::not_registered, v.client_ref);
              if (v.kind == hcp2::target_kind::room)
                return send_error(hcp2::errc::unknown_recipient, v.client_ref, "rooms are not supported yet");
              if (v.kind != hcp2::target_kind::all && v.kind != hcp2::target_kind::user)
                return malformed("unknown target kind");
              if (v.kind == hcp2::target_kind::all && !v.target.empty())
                return malformed("a SEND to all has no target name");
              if (v.text.empty() || !is_valid_utf8(v.text)) return malformed("text must be non-empty UTF-8");
              const auto id = next_id_.fetch_add(1, std::memory_order_relaxed) + 1;
              const auto target = v.kind == hcp2::target_kind::all ? std::string_view{} : v.target;
              if (!deliver(name.name(), box.get(), v.kind, target, v.text, id))
                return send_error(hcp2::errc::unknown_recipient, v.client_ref);
              send(hcp2::sent_size(), [&](auto out) { hcp2::write_sent(out, v.client_ref, id); });
            } else if constexpr (std::is_same_v<T, hcp2::ping>) {
              send(hcp2::pong_size(), [&](auto out) { hcp2::write_pong(out, v.token); });
            } else if constexpr (std::is_same_v<T, hcp2::who>) {
              send_users_to(*box);
            } else if constexpr (std::is_same_v<T, hcp2::bye>) {
              log_->info("{} said goodbye", who);
              close_now = true;
            } else if constexpr (std::is_same_v<T, hcp2::hello>) {
              send_error(hcp2::errc::malformed_frame, 0, "HELLO was already received");
            } else {
              send_error(hcp2::errc::unknown_frame_type, 0, "not a client frame");
            }
          },
          parsed);
      if (close_now) break;
    }

    // Leave: free the name (everyone hears LEFT), stop receiving broadcasts,
    // then flush what is owed and close.
    subscription.reset();
    presence.reset();
    name.release();
    if (stopping_) send_error(hcp2::errc::shutting_down);
  }

  void send_users_to(howdy::outbox& box) {
    const auto list = names_.snapshot().names;
    box.push(frame(hcp2::users_size(list), [&](auto out) { hcp2::write_users(out, list); }));
  }

  // ---- HCP/1 ---------------------------------------------------------------

  asio::awaitable<void> hcp1_session(socket_type& socket, std::string& who) {
    auto box = make_outbox(socket, wire::hcp1);
    co_await run_with_writer(socket, *box, hcp1_reader(socket, who, box), who);
  }

  asio::awaitable<void> hcp1_reader(socket_type& socket, std::string& who, std::shared_ptr<howdy::outbox> box) {
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
        } else {
          subscription = hcp1_hub_.subscribe(*box);
          name = names_.claim(field.name, std::make_shared<peer>(peer{box, wire::hcp1}), claim_ec);
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
        const bool to_all = m->receiver == "All";
        const auto id = next_id_.fetch_add(1, std::memory_order_relaxed) + 1;
        if (!deliver(name.name(), box.get(), to_all ? hcp2::target_kind::all : hcp2::target_kind::user,
                     to_all ? std::string_view{} : m->receiver, m->text, id))
          log_->info("{}: invalid receiver name '{}': not delivered", who, m->receiver);
        continue;
      }
      // Types 2-4 are the server's: discarded, as the original server does.
      log_->debug("{}: discarding a packet of type {}", who, static_cast<int>(type));
    }

    subscription.reset();
    name.release();
  }

  server_config config_;
  std::shared_ptr<spdlog::logger> log_;
  registry names_;
  howdy::broadcast_hub hcp2_hub_;           // messages to everyone
  howdy::broadcast_hub hcp2_presence_hub_;  // JOINED / LEFT, for those who want them
  howdy::broadcast_hub hcp1_hub_;
  std::vector<std::string> hcp1_list_;  // in join order; guarded by the registry's lock
  std::atomic<std::uint64_t> next_id_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace hcp
