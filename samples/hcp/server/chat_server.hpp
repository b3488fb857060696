// server/chat_server.hpp: the HCP chat server, composed. HCP/1, HCP/2 and the
// seed-002 text protocol share one port; a connection's first byte tells
// which, and its session (hcp1_session.hpp, hcp2_session.hpp,
// text_session.hpp) runs with a framed reader, an outbox and its writer.
// The sessions use the services below, each in its own file:
//   presence  (presence.hpp)  names online, batched JOINED / LEFT, HCP/1's list
//   history   (history.hpp)   message ids and the exactly-once replay order
//   delivery  (delivery.hpp)  messages to all, whispers, receipts
//   rooms     (rooms.hpp)     rooms and room messages
//   accounts  (accounts.hpp)  sign-in, rate limits, password hashing
//   chat_store (store.hpp)    SQLite on its own thread: accounts, rooms, history
// Reading order for a newcomer: config, frames, peer, tick, lists, presence, history,
// delivery, rooms, accounts, store, session, the three sessions, this file.
#pragma once

#include "../wire/detect.hpp"
#include "accounts.hpp"
#include "config.hpp"
#include "delivery.hpp"
#include "flood.hpp"
#include "hcp1_session.hpp"
#include "hcp2_session.hpp"
#include "history.hpp"
#include "presence.hpp"
#include "rooms.hpp"
#include "session.hpp"
#include "store.hpp"
#include "text_session.hpp"
#include "../cli.hpp"

#include <howdy.hpp>

#include <asio/use_future.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>

namespace hcp {

class chat_server {
 public:
  using socket_type = hcp::socket_type;

  chat_server(howdy::io_context_pool& pool, server_config config, std::shared_ptr<spdlog::logger> log)
      : config_(std::move(config)),
        log_(std::move(log)),
        store_(std::in_place, config_.store),
        online_(config_, pool.executors()),
        ids_(config_, store_->max_id()),
        messages_(config_, *log_, *store_, online_, ids_, pool.executors()),
        rooms_(config_, *log_, *store_, online_, ids_, pool.executors()),
        accounts_(config_, *log_, *store_, online_),
        per_address_(config_.max_connections_per_address),
        services_{config_, *log_, *store_, online_, ids_, messages_, rooms_, accounts_, stopping_} {
    // What survives a restart: accounts (their names stay protected) and the
    // rooms their owners are members of; ids continue above every stored one.
    for (auto& account : store_->account_names()) {
      for (auto& room : store_->async_rooms_of(account, asio::use_future).get()) rooms_.restore(room, account);
      accounts_.restore(std::move(account));
    }
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
    online_.silence();
    rooms_.silence();
    accounts_.stop();
    store_.reset();
    log_->info("limits: {} message(s) refused over the rate, {} sender(s) disconnected for flooding, "
               "{} connection(s) refused (per address), {} read pause(s) for the store",
               counters_.rate_limited.load(), counters_.flood_disconnects.load(), counters_.address_refusals.load(),
               counters_.read_pauses.load());
  }

  const limit_counters& counters() const { return counters_; }

  // The session handler for howdy::tcp_server: tells the protocol by the first
  // byte and runs its session.
  asio::awaitable<void> session(socket_type& socket) {
    std::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    // The peer's address until it has a name, then its name: what the log calls it.
    std::string who = ec ? std::string("?") : cli::endpoint_text(remote);
    const std::string address = ec ? std::string("?") : client_address_key(remote.address());
    // Too many from this address: closed before it is read (loopback counts too).
    std::optional<address_counts::slot> slot;
    if (config_.max_connections_per_address > 0) {
      if (const auto verdict = per_address_.try_add(address); verdict != address_counts::verdict::accept) {
        ++counters_.address_refusals;
        if (verdict == address_counts::verdict::refuse)  // at most once a second per address
          log_->warn("{}: connection refused: {} connections from {} already (--max-connections-per-address)", who,
                     config_.max_connections_per_address, address);
        std::error_code ignored;
        socket.close(ignored);
        co_return;
      }
      slot.emplace(&per_address_, address);
    }
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
        auto box = make_outbox(services_, socket, wire::hcp2);
        hcp2_session s(services_, counters_, socket, who, address, box);
        co_await run_session(services_, socket, who, box, s.run());
        break;
      }
      case protocol::hcp1: {
        auto box = make_outbox(services_, socket, wire::hcp1);
        co_await run_session(services_, socket, who, box, hcp1_session(services_, counters_, socket, who, box));
        break;
      }
      case protocol::text: {
        auto box = make_outbox(services_, socket, wire::text);
        co_await run_session(services_, socket, who, box, text_session(services_, counters_, pairing_, socket, who, box));
        break;
      }
    }
    slot.reset();  // before the last line: a client that saw it may connect again
    if (online_.names().size() == 0) log_->info("no user online now");
  }

 private:
  // Declared in the order they need each other; destroyed in reverse.
  server_config config_;
  std::shared_ptr<spdlog::logger> log_;
  std::optional<chat_store> store_;  // reset by close()
  presence online_;
  history ids_;
  delivery messages_;
  rooms rooms_;
  text_pairing pairing_;
  // After presence: its hashing jobs, abandoned at destruction, hold session
  // frames, whose leases need the registry.
  accounts accounts_;
  limit_counters counters_;
  address_counts per_address_;
  std::atomic<bool> stopping_{false};
  services services_;
};

}  // namespace hcp
