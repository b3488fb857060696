// server/history.hpp: message ids, and the order that makes offline history
// exactly-once. Every stored message (a whisper to an account, a room
// message) gets its id here, and an account's login takes its "cut" here:
// what it replays from the store and what it receives live.
//
// The invariant (what the integration tests check as "exactly once"):
//   every message to an account's sources (its own whispers, each room it is
//   a member of) is either in the replay of a login (id <= replay_upto) or
//   delivered live to that login's session (id > replay_upto), never both,
//   never neither.
// How it holds, without one global lock:
//  - Each source has a stripe (a mutex picked by hashing the source's name;
//    stripes are shared by unrelated sources, which costs only contention).
//    A message takes its stripe's lock, then its id (from one atomic counter,
//    so ids grow in real time), submits itself to the store and hands itself
//    to the recipients it finds (online check, hub publish), then unlocks.
//  - A login locks the stripes of all its sources at once (in stripe order,
//    so two logins cannot deadlock), claims its name and subscribes to its
//    rooms, and reads replay_upto = the last id given out. Then it unlocks
//    and submits its history query.
//  - A message of one of those sources either took its id before the cut:
//    id <= replay_upto, already submitted, so committed before the query runs
//    (the store's worker is FIFO) and in the replay; it found no live session.
//    Or after: id > replay_upto, and it finds the claim / the subscription, so
//    it is delivered live and the replay skips it. Ids after the cut are all
//    greater than every id before it, so the replay stops at the first one
//    beyond replay_upto, and live messages (queued behind the replay: the
//    outbox is held) all have greater ids than replayed ones.
//  - Taking the cuts one source at a time would also keep each message
//    exactly-once at the login, but not the cursor: a replayed message of a
//    later-cut source could have a greater id than a live one of an earlier
//    source still queued behind the replay, and a RECEIVED for it would move
//    the cursor past a message the client may never get.
// The cursor ("everything up to here was received") therefore stops short of
// ids still in flight: stored whispers not yet queued to the recipient
// (peer::cursor_limit), history pages not yet fetched (page_limit), and ids
// taken but not yet handed over under some stripe (floor, below).
#pragma once

#include "config.hpp"
#include "store.hpp"

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace hcp {

class history {
  struct alignas(64) stripe {  // one cache line each: stripes do not slow each other down
    std::mutex mutex;
    // 0: nothing in flight; else at most the id being handed over, set before
    // that id is taken, so a RECEIVED for any later id sees it.
    std::atomic<std::uint64_t> floor{0};
  };
  static constexpr std::size_t stripe_count = 64;

 public:
  static constexpr std::size_t page_size = 1000;  // messages per replay or HISTORY reply

  // `first_id`: ids continue above it (the store's greatest).
  history(const server_config& config, std::uint64_t first_id) : config_(config), last_id_(first_id) {}

  history(const history&) = delete;
  history& operator=(const history&) = delete;

  // Message ids grow by at least one and track the clock in microseconds, so
  // they keep growing across restarts without storing a counter.
  std::uint64_t next_id() {
    auto last = last_id_.load();
    std::uint64_t id;
    do id = std::max(last + 1, now_us());
    while (!last_id_.compare_exchange_weak(last, id));
    return id;
  }
  std::uint64_t last_id() const { return last_id_.load(); }

  // One message of one source: holds the source's stripe from before its id
  // is taken until it is handed over (stored, queued, published).
  class sending {
   public:
    sending(history& h, std::string_view source) : stripe_(h.stripe_of(source)), lock_(stripe_.mutex) {
      stripe_.floor.store(h.last_id_.load() + 1);
      id_ = h.next_id();
    }
    ~sending() { stripe_.floor.store(0); }
    sending(const sending&) = delete;
    sending& operator=(const sending&) = delete;
    std::uint64_t id() const { return id_; }

   private:
    stripe& stripe_;
    std::lock_guard<std::mutex> lock_;
    std::uint64_t id_ = 0;
  };

  // The sources' names: an account ("u" + name) and a room ("r" + name)
  // never share a key.
  static std::string user_source(std::string_view user) { return "u" + std::string(user); }
  static std::string room_source(std::string_view room) { return "r" + std::string(room); }

  // The cut: runs `fn` with the stripes of all `sources` locked, and returns
  // the last id given out at that moment (the login's replay_upto).
  template <class Fn>
  std::uint64_t cut(const std::vector<std::string>& sources, Fn&& fn) {
    std::vector<std::size_t> picked;
    for (auto& s : sources) picked.push_back(index_of(s));
    std::sort(picked.begin(), picked.end());
    picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
    std::vector<std::unique_lock<std::mutex>> locks;
    locks.reserve(picked.size());
    for (auto i : picked) locks.emplace_back(stripes_[i].mutex);
    fn();
    return last_id_.load();
  }

  // Runs `fn` with one source's stripe locked: for ROOM JOIN, whose
  // membership starts after last_id() read inside `fn`.
  template <class Fn>
  void cut_one(std::string_view source, Fn&& fn) {
    std::lock_guard lock(stripe_of(source).mutex);
    fn();
  }

  // Where an account's cursor may move when its client confirms `id`: not
  // past an id still in flight (see the top of this file).
  std::uint64_t cursor_bound(std::uint64_t id) const {
    for (auto& s : stripes_)
      if (const auto f = s.floor.load()) id = std::min(id, f - 1);
    return id;
  }

  // Stored messages for `user` after `after` (nullopt: its cursor), none
  // beyond `upto`. more: another page may follow.
  asio::awaitable<std::tuple<std::error_code, std::vector<stored_message>, bool>> page(
      chat_store& store, std::string user, std::optional<std::uint64_t> after, std::uint64_t upto) {
    auto [ec, stored, more] = co_await store.async_history(std::move(user), after, page_size, config_.outbox_bytes / 2,
                                                           asio::experimental::as_tuple(asio::use_awaitable));
    // Sorted by id: everything after the first beyond the cut came after the
    // cut too, and arrives live.
    auto beyond = std::find_if(stored.begin(), stored.end(), [&](const stored_message& m) { return m.id > upto; });
    if (beyond != stored.end()) {
      stored.erase(beyond, stored.end());
      more = false;
    }
    co_return std::tuple{ec, std::move(stored), more};
  }

 private:
  std::size_t index_of(std::string_view source) const { return std::hash<std::string_view>{}(source) % stripe_count; }
  stripe& stripe_of(std::string_view source) { return stripes_[index_of(source)]; }

  const server_config& config_;
  std::atomic<std::uint64_t> last_id_;
  std::array<stripe, stripe_count> stripes_;
};

}  // namespace hcp
