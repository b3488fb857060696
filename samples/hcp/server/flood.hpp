// server/flood.hpp: flood control shared by the three sessions. A sender's
// chat messages pass a token bucket (--message-rate per second, bursts of
// --message-burst); the excess is refused with an error its protocol can
// say, and a sender still over its rate after --flood-disconnect-after
// seconds is disconnected. Connections per client address are counted at
// accept (--max-connections-per-address). Every limit that triggers is
// logged with the peer and counted in `limit_counters`, logged at shutdown.
#pragma once

#include "config.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace hcp {

// How often each limit triggered since the server started (all threads).
struct limit_counters {
  std::atomic<std::uint64_t> rate_limited{0};       // chat messages refused by the rate limit
  std::atomic<std::uint64_t> flood_disconnects{0};  // senders disconnected for flooding
  std::atomic<std::uint64_t> address_refusals{0};   // connections refused: too many from one address
  std::atomic<std::uint64_t> read_pauses{0};        // a sender not read while its messages waited for the store
};

// One connection's message rate: a token bucket of message_burst tokens,
// refilled at message_rate per second. Used on the session's executor only.
class message_bucket {
 public:
  using clock = std::chrono::steady_clock;
  enum class verdict { accept, refuse, disconnect };

  explicit message_bucket(const server_config& config)
      : rate_(config.message_rate), burst_(config.message_burst), tokens_(config.message_burst),
        disconnect_after_(config.flood_disconnect_after), updated_(clock::now()) {}

  // For one chat message. `refuse`: over the rate, not delivered; `disconnect`:
  // refused without pause for flood_disconnect_after (a pause of
  // flood_pause ends a flood), so the sender is closed.
  verdict take(clock::time_point now = clock::now()) {
    if (rate_ <= 0) return verdict::accept;  // no limit
    if (now > updated_) {
      tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - updated_).count() * rate_);
      updated_ = now;
    }
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return verdict::accept;
    }
    first_of_flood_ = !flooding_ || now - last_refusal_ >= flood_pause;
    if (first_of_flood_) flood_since_ = now;
    flooding_ = true;
    last_refusal_ = now;
    if (disconnect_after_.count() > 0 && now - flood_since_ >= disconnect_after_) return verdict::disconnect;
    return verdict::refuse;
  }

  // After a refusal: whether it began a flood (HCP/1 is told once per flood).
  bool first_of_flood() const { return first_of_flood_; }

  static constexpr std::chrono::seconds flood_pause{1};

 private:
  double rate_;
  double burst_;
  double tokens_;
  std::chrono::milliseconds disconnect_after_;
  clock::time_point updated_;
  clock::time_point flood_since_{};
  clock::time_point last_refusal_{};
  bool flooding_ = false;
  bool first_of_flood_ = false;
};

// Connections open per client address (IPv4, or IPv6 as written).
class address_counts {
 public:
  explicit address_counts(std::size_t limit) : limit_(limit) {}

  // Counts one more from `address`, unless it has `limit` open already.
  bool try_add(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto& n = open_[address];
    if (n >= limit_) {
      if (n == 0) open_.erase(address);
      return false;
    }
    ++n;
    return true;
  }
  void remove(const std::string& address) {
    std::lock_guard lock(mutex_);
    if (auto it = open_.find(address); it != open_.end() && --it->second == 0) open_.erase(it);
  }

  // Removes its count when destroyed (the session ended).
  class slot {
   public:
    slot(address_counts* owner, std::string address) : owner_(owner), address_(std::move(address)) {}
    slot(const slot&) = delete;
    slot& operator=(const slot&) = delete;
    ~slot() {
      if (owner_) owner_->remove(address_);
    }

   private:
    address_counts* owner_;
    std::string address_;
  };

 private:
  std::size_t limit_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> open_;
};

}  // namespace hcp
