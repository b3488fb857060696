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

}  // namespace hcp
