// server/config.hpp: what howdy-server's command line sets. Read this first:
// every service in server/ takes its limits from here.
#pragma once

#include "passwords.hpp"
#include "store.hpp"

#include <howdy.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace hcp {

enum class auth_mode { off, optional, required };

inline constexpr std::size_t max_password_length = 1024;  // bytes, for REGISTER and LOGIN

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
  std::size_t min_password_length = 8;  // bytes, for REGISTER (--min-password-length); at most max_password_length
  howdy::rate_limit attempts_per_name{5, std::chrono::seconds(12)};
  howdy::rate_limit attempts_per_address{20, std::chrono::seconds(3)};
  std::size_t max_pending_receipts = 4096;  // unconfirmed whispers tracked per recipient

  // Presence (presence.hpp, rooms.hpp): joins and leaves are batched and
  // published presence_tick after the first of a batch (0: as soon as
  // possible), and the global batches at least presence_tick_per_client
  // times the clients that hear them apart (tick.hpp).
  std::chrono::milliseconds presence_tick{50};
  std::chrono::microseconds presence_tick_per_client{100};
  // HCP/1 clients get the whole list (64 bytes a name): it goes to all of
  // them at most at this many bytes per second in all, or once presence has
  // been quiet for hcp1_list_quiet (a new user still gets it at its tick).
  // 0: every tick.
  std::size_t hcp1_list_rate = std::size_t(128) << 20;
  std::chrono::milliseconds hcp1_list_quiet{1000};

  // Flood control (flood.hpp), on every protocol. A connection's chat
  // messages (HCP/2 SEND, HCP/1 type 5, text SEND) pass a token bucket of
  // message_burst refilled at message_rate a second (0: no limit); the excess
  // is refused (HCP/2 ERROR 127, text ERROR 127, HCP/1 a notice from
  // "Server"), and a sender refused without a 1 s pause for
  // flood_disconnect_after (0: never) is disconnected.
  double message_rate = 1000;
  double message_burst = 5000;
  std::chrono::milliseconds flood_disconnect_after{10'000};
  std::size_t max_connections_per_address = 256;  // more from one address are closed at accept (0: no limit)
};

}  // namespace hcp
