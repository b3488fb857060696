// server/session.hpp: what the three protocol sessions share. `services` is
// everything a session may use, by reference (chat_server.hpp owns them);
// the helpers make a session's outbox, run its writer beside its reader,
// bound its handshake and idle time, and log how it ended.
#pragma once

#include "accounts.hpp"
#include "config.hpp"
#include "delivery.hpp"
#include "flood.hpp"
#include "frames.hpp"
#include "history.hpp"
#include "presence.hpp"
#include "rooms.hpp"
#include "store.hpp"

#include <howdy.hpp>

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace hcp {

using socket_type = asio::ip::tcp::socket;

struct services {
  const server_config& config;
  spdlog::logger& log;
  chat_store& store;
  presence& online;
  history& ids;
  delivery& messages;
  hcp::rooms& rooms;
  hcp::accounts& accounts;
  const std::atomic<bool>& stopping;  // the server is shutting down: sessions say so before closing
};

inline std::shared_ptr<howdy::outbox> make_outbox(const services& sv, socket_type& socket, wire format) {
  howdy::outbox_options o;
  o.max_bytes = sv.config.outbox_bytes;
  o.policy = sv.config.slow_consumer;
  if (format == wire::hcp2)
    o.drop_notice = [](std::uint64_t dropped) {
      const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(dropped, UINT32_MAX));
      return frame(hcp2::dropped_size(), [&](auto out) { hcp2::write_dropped(out, count); });
    };
  return std::make_shared<howdy::outbox>(socket.get_executor(), std::move(o));
}

// Runs the writer beside `read_loop` until both end, then closes the socket.
inline asio::awaitable<void> run_session(const services& sv, socket_type& socket, const std::string& who,
                                         std::shared_ptr<howdy::outbox> box, asio::awaitable<void> read_loop) {
  auto write_ec = co_await howdy::run_duplex(socket, *box, std::move(read_loop), sv.config.shutdown_grace);
  if (write_ec == howdy::error::slow_consumer)
    sv.log.warn("{}: disconnected: {}", who, write_ec.message());
  else if (write_ec && write_ec != asio::error::operation_aborted && write_ec != asio::error::bad_descriptor)
    sv.log.info("{}: {}", who, write_ec.message());
  std::error_code ignored;
  socket.shutdown(socket_type::shutdown_both, ignored);
  socket.close(ignored);
}

inline void log_read_end(const services& sv, const std::string& who, std::error_code ec) {
  if (ec == howdy::error::end_of_stream || ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor)
    sv.log.info("{} disconnected", who);
  else if (ec == howdy::condition::peer_gone)  // a reset or a cut frame: routine when clients vanish
    sv.log.info("{} disconnected: {}", who, ec.message());
  else
    sv.log.warn("{}: closing: {}", who, ec.message());
}

// Read backpressure, the same on every protocol: while `storing` is full (the
// sender's messages wait for the store) the session does not read; TCP holds
// the rest.
inline asio::awaitable<void> wait_for_store(const services& sv, limit_counters& counters, store_budget& storing,
                                            const std::string& who) {
  if (!storing.full()) co_return;
  ++counters.read_pauses;
  sv.log.debug("{}: not read while {} message(s) wait for the store", who, storing.pending);
  while (storing.full()) {
    storing.wake.expires_at(asio::steady_timer::time_point::max());
    co_await storing.wake.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
}

// A chat message against the sender's rate (flood.hpp): counts and logs what
// the verdict means (a refusal once per flood); the session answers it in its
// own protocol.
inline message_bucket::verdict check_message_rate(const services& sv, limit_counters& counters,
                                                  message_bucket& bucket, const std::string& who) {
  const auto verdict = bucket.take();
  if (verdict == message_bucket::verdict::refuse) {
    ++counters.rate_limited;
    if (bucket.first_of_flood())
      sv.log.warn("{}: over the message rate ({}/s, bursts of {}): messages refused", who, sv.config.message_rate,
                  sv.config.message_burst);
  } else if (verdict == message_bucket::verdict::disconnect) {
    ++counters.flood_disconnects;
    sv.log.warn("{}: disconnected: flooding (over the message rate for {} ms)", who,
                sv.config.flood_disconnect_after.count());
  }
  return verdict;
}

// After a session released its name (outside the registry's lock).
inline void log_offline(const services& sv, const std::string& name) {
  sv.log.info("{} is offline now", name);
}

// Ends a session whose deadline passed: the reader sees the end of its
// stream, and what is queued (an HCP/2 error) is still flushed.
inline howdy::watchdog session_deadline(const services& sv, socket_type& socket, const std::string& who,
                                        std::function<void()> before_close) {
  howdy::watchdog w(socket.get_executor(), [&sv, &socket, &who, before_close = std::move(before_close)] {
    sv.log.info("{}: timed out, closing", who);
    if (before_close) before_close();
    std::error_code ignored;
    socket.shutdown(socket_type::shutdown_receive, ignored);
  });
  w.expires_after(sv.config.handshake_timeout);
  return w;
}

}  // namespace hcp
