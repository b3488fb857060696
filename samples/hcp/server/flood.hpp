// server/flood.hpp: flood control shared by the three sessions. A sender's
// chat messages pass a token bucket (--message-rate per second, bursts of
// --message-burst); the excess is refused with an error its protocol can
// say, and a sender still over its rate after --flood-disconnect-after
// seconds is disconnected. Connections per client address are counted at
// accept (--max-connections-per-address). Every limit that triggers is
// logged with the peer and counted in `limit_counters`, logged at shutdown.
#pragma once

#include <howdy/rate_limiter.hpp>

#include <asio/ip/address.hpp>

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

  // `rate` messages a second (0: no limit), bursts of `burst`; a flood of
  // `disconnect_after` (0: never) is disconnected.
  message_bucket(double rate, double burst, std::chrono::milliseconds disconnect_after,
                 clock::time_point now = clock::now())
      : limited_(rate > 0), bucket_(howdy::rate_limit{burst, refill_every(rate)}, now),
        disconnect_after_(disconnect_after) {}

  // For one chat message. `refuse`: over the rate, not delivered; `disconnect`:
  // refused without pause for flood_disconnect_after (a pause of
  // flood_pause ends a flood), so the sender is closed.
  verdict take(clock::time_point now = clock::now()) {
    if (!limited_ || bucket_.try_take(now)) return verdict::accept;
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
  // One message back per this, at `rate` a second.
  static clock::duration refill_every(double rate) {
    if (rate <= 0) return clock::duration::zero();
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate));
  }

  bool limited_;
  howdy::token_bucket bucket_;
  std::chrono::milliseconds disconnect_after_;
  clock::time_point flood_since_{};
  clock::time_point last_refusal_{};
  bool flooding_ = false;
  bool first_of_flood_ = false;
};

// What counts as one client address for --max-connections-per-address: an
// IPv4 address (an IPv4-mapped IPv6 one too), or an IPv6 address's /64 (one
// host usually holds a whole /64, so counting its addresses one by one would
// let it open 2^64 times the limit).
inline std::string client_address_key(const asio::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), static_cast<unsigned char>(0));
  return asio::ip::address_v6(bytes).to_string() + "/64";
}

// Connections open per client address (client_address_key).
class address_counts {
 public:
  using clock = std::chrono::steady_clock;
  enum class verdict { accept, refuse, refuse_quietly };

  explicit address_counts(std::size_t limit) : limit_(limit) {}

  // Counts one more from `address`, unless it has `limit` open already: then
  // `refuse` at most once a second per address (for the log), else
  // `refuse_quietly`, so that a client hammering connect cannot flood the log.
  verdict try_add(const std::string& address, clock::time_point now = clock::now()) {
    std::lock_guard lock(mutex_);
    auto& e = open_[address];
    if (e.open >= limit_) {
      if (e.open == 0) {
        open_.erase(address);
        return verdict::refuse;
      }
      if (now - e.last_logged < std::chrono::seconds(1)) return verdict::refuse_quietly;
      e.last_logged = now;
      return verdict::refuse;
    }
    ++e.open;
    return verdict::accept;
  }
  void remove(const std::string& address) {
    std::lock_guard lock(mutex_);
    if (auto it = open_.find(address); it != open_.end() && --it->second.open == 0) open_.erase(it);
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
  struct entry {
    std::size_t open = 0;
    clock::time_point last_logged{};  // the last refusal that was logged
  };
  std::size_t limit_;
  std::mutex mutex_;
  std::unordered_map<std::string, entry> open_;
};

}  // namespace hcp
