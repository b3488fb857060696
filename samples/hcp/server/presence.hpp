// server/presence.hpp: who is online. Owns the name registry (one name, one
// live session; accounts' names are protected while they are offline) and
// tells every client about joins and leaves, coalesced on a short tick
// (--presence-tick-ms, growing by 100 us per client that hears presence, so
// that presence stays a bounded share of the server's time; tick.hpp):
// a join or a leave only appends to the
// pending list, and once per tick the presence service encodes what changed
// once per wire form and publishes it:
//   - HCP/2 clients that announced presence batches (HELLO flag 0x2): one
//     buffer of PRESENCE frames, each name with its state at the tick's end;
//   - the other HCP/2 clients with presence: the same as JOINED / LEFT frames
//     back to back in one buffer (one push per client per tick either way);
//   - HCP/1 clients: the whole list, as HCP/1 defines, published as the
//     latest state under one key, so a slow reader gets the latest list and
//     never a backlog. The list goes to every HCP/1 client at most at
//     --hcp1-list-rate bytes per second in all, or once presence has been
//     quiet for a second; a new HCP/1 user gets it at its tick. HCP/1 has
//     one hub for its lists and its messages.
// The list itself is kept here in join order (a list and an index: O(1) per
// join or leave) and encoded once per tick: the USERS pages that new HCP/2
// users and WHO get (docs/protocol.md 2.14 says why a snapshot from the last
// tick plus the batches that follow it is exact).
#pragma once

#include "config.hpp"
#include "frames.hpp"
#include "lists.hpp"
#include "names.hpp"
#include "peer.hpp"
#include "tick.hpp"

#include <howdy.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace hcp {

// The outbox key under which HCP/1's list is the latest state.
inline constexpr howdy::state_key hcp1_list_key = 1;

class presence {
 public:
  presence(const server_config& config, const std::vector<asio::any_io_executor>& executors)
      : config_(config),
        names_(people_name_rules(), {std::string(reserved_names[0]), std::string(reserved_names[1])}),
        batch_hub_(executors),
        legacy_hub_(executors),
        hcp1_hub_(executors),
        ticks_(
            executors.front(), config.presence_tick, [this](std::vector<change>& events) { flush(events); },
            [this] { hcp1_update(true); }, [this] { return tick_for_clients(); }) {
    auto empty = std::make_shared<users_snapshot>();
    empty->last = users_pages(std::vector<std::string_view>{}, config_.max_frame).back();
    snapshot_ = std::move(empty);
    names_.watch([this](const howdy::presence_event& e, const std::shared_ptr<peer>& who) { on_event(e, who); });
  }

  presence(const presence&) = delete;
  presence& operator=(const presence&) = delete;

  registry& names() { return names_; }
  const registry& names() const { return names_; }
  bool is_account(std::string_view name) const { return names_.is_protected(name); }

  // Presence batches for an HCP/2 client that wants them: PRESENCE frames
  // (`batches`) or JOINED / LEFT.
  howdy::broadcast_hub& hcp2_hub(bool batches) { return batches ? batch_hub_ : legacy_hub_; }
  // Everything HCP/1 clients get: the user list and messages to all.
  howdy::broadcast_hub& hcp1_hub() { return hcp1_hub_; }

  // After the network threads stopped: sessions destroyed with their
  // io_context release their names, and nobody is left to hear it.
  void silence() {
    silenced_ = true;
    ticks_.stop();
  }

  // USERS, paged: the list of the last tick, less who left and plus who
  // joined since (in join order), so it names everyone whose NAME_OK (or
  // HCP/1 ack) came before. The batches that follow agree with it: each
  // names a user's state at its tick's end, and applying it again changes
  // nothing (docs/protocol.md 2.14).
  std::vector<howdy::shared_buffer> users_frames() const {
    std::shared_ptr<const users_snapshot> s;
    std::vector<std::string> added, removed;
    {
      std::lock_guard lock(snapshot_mutex_);
      s = snapshot_;
      for (auto& [name, r] : removed_)
        if (r.joined <= s->sequence) removed.push_back(name);  // in this snapshot, but gone
      if (removed.empty()) {
        // The usual case, encoded here: only the last page changes.
        std::vector<howdy::shared_buffer> out(s->parts);
        if (added_.empty()) {
          out.push_back(s->last);
          return out;
        }
        std::vector<std::string_view> last(s->names.begin() + static_cast<std::ptrdiff_t>(s->last_first), s->names.end());
        for (auto& a : added_) last.push_back(a.name);
        for (auto& f : users_pages(last, config_.max_frame)) out.push_back(std::move(f));
        return out;
      }
      for (auto& a : added_) added.push_back(a.name);
    }
    // Someone left since the tick: the pages are made again.
    std::vector<std::string_view> names;
    const std::unordered_set<std::string_view> gone(removed.begin(), removed.end());
    for (auto& n : s->names)
      if (!gone.contains(n)) names.push_back(n);
    for (auto& a : added) names.push_back(a);
    return users_pages(names, config_.max_frame);
  }

  std::uint8_t status_of(std::string_view name) const {
    return (names_.find(name) ? hcp2::status_online : 0) | (is_account(name) ? hcp2::status_registered : 0);
  }

  // status_of for a whole list (a room's members), in one registry lookup.
  std::vector<hcp2::roster_entry> roster_of(const std::vector<std::string>& names) const {
    std::vector<hcp2::roster_entry> entries;
    entries.reserve(names.size());
    names_.find_each(names, [&](const std::string& name, const auto* owner, bool account) {
      entries.push_back({std::uint8_t((owner ? hcp2::status_online : 0) | (account ? hcp2::status_registered : 0)), name});
    });
    return entries;
  }

 private:
  struct change {
    std::string name;
    bool online;
    std::weak_ptr<howdy::outbox> hcp1_joiner;  // an HCP/1 user that joined: owed its first list
    std::uint64_t sequence;
  };

  struct users_snapshot {
    std::vector<std::string> names;           // online, in join order
    std::vector<howdy::shared_buffer> parts;  // USERS_PART pages
    howdy::shared_buffer last;                // the final USERS page
    std::size_t last_first = 0;               // the first name on it
    std::uint64_t sequence = 0;               // registry events up to this one are in
  };

  // Since the snapshot's tick (guarded by snapshot_mutex_).
  struct joined_since {
    std::string name;
    std::uint64_t sequence;
  };
  struct left_since {
    std::uint64_t sequence;  // of the leave
    std::uint64_t joined;    // of its join if that came after the snapshot then (else 0)
  };

  // Runs under the registry's lock, in the registry's order: only appends.
  // Nothing here logs: the sessions log a join or a leave after their claim
  // or release, outside this lock.
  void on_event(const howdy::presence_event& e, const std::shared_ptr<peer>& who) {
    if (silenced_) return;
    const bool joined = e.change == howdy::presence::joined;
    std::weak_ptr<howdy::outbox> hcp1_joiner;
    if (joined && who->format == wire::hcp1) hcp1_joiner = who->box;
    {
      std::lock_guard lock(snapshot_mutex_);
      if (joined) {
        added_.push_back({e.name, e.sequence});
      } else {
        std::uint64_t joined_at = 0;
        auto it = std::find_if(added_.rbegin(), added_.rend(), [&](auto& a) { return a.name == e.name; });
        if (it != added_.rend()) {
          joined_at = it->sequence;
          added_.erase(std::next(it).base());
        }
        // Taken out of every snapshot from `joined` on that lacks the leave
        // (the earliest such join if it came and went more than once).
        auto [r, fresh] = removed_.try_emplace(e.name, left_since{e.sequence, joined_at});
        if (!fresh) r->second = {e.sequence, std::min(r->second.joined, joined_at)};
      }
    }
    ticks_.add({e.name, joined, std::move(hcp1_joiner), e.sequence});
  }

  // Once per tick, on the tick's executor, with the tick's events in order.
  void flush(std::vector<change>& events) {
    final_states changes;  // names point into `events`
    for (auto& c : events) {
      if (c.online) {
        if (!index_.contains(c.name)) {
          order_.push_back(c.name);
          index_.emplace(order_.back(), std::prev(order_.end()));
        }
      } else if (auto it = index_.find(c.name); it != index_.end()) {
        const auto node = it->second;
        index_.erase(it);
        order_.erase(node);
      }
      changes.set(c.name, c.online);
      if (!c.hcp1_joiner.expired()) hcp1_joiners_.push_back(std::move(c.hcp1_joiner));
    }

    // The new snapshot first, then the batch: whoever subscribes and then
    // reads the snapshot gets either this batch or a snapshot with it in.
    auto snap = std::make_shared<users_snapshot>();
    snap->sequence = events.back().sequence;
    snap->names.assign(order_.begin(), order_.end());
    snap->parts = users_pages(snap->names, config_.max_frame, &snap->last_first);
    snap->last = std::move(snap->parts.back());
    snap->parts.pop_back();
    {
      std::lock_guard lock(snapshot_mutex_);
      const auto upto = snap->sequence;
      snapshot_ = std::move(snap);
      // What the new snapshot has in, the lists since it no longer need.
      while (!added_.empty() && added_.front().sequence <= upto) added_.pop_front();
      std::erase_if(removed_, [&](const auto& kv) { return kv.second.sequence <= upto; });
    }
    if (batch_hub_.subscriber_count() > 0) batch_hub_.publish(presence_batch(changes.entries(), config_.max_frame));
    if (legacy_hub_.subscriber_count() > 0) legacy_hub_.publish(joined_left_batch(changes.entries()));
    hcp1_dirty_ = true;
    hcp1_update(false);
  }

  // HCP/1's list, when it changed: to everyone (at the paced rate, or once
  // presence is quiet), or else to the users that joined since.
  void hcp1_update(bool quiet) {
    if (!hcp1_dirty_) return;
    const auto subscribers = hcp1_hub_.subscriber_count();
    if (subscribers == 0) {
      hcp1_dirty_ = false;
      hcp1_joiners_.clear();
      return;
    }
    auto list = frame(hcp1::update_size(order_), [&](auto out) { hcp1::write_update(out, order_); });
    const auto now = std::chrono::steady_clock::now();
    const bool paced = config_.hcp1_list_rate > 0 && config_.presence_tick.count() > 0;
    if (!paced || quiet || now >= hcp1_next_) {
      if (paced) {
        const double seconds = double(list.size()) * double(subscribers) / double(config_.hcp1_list_rate);
        hcp1_next_ = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(seconds));
      }
      hcp1_hub_.publish_state(hcp1_list_key, std::move(list));
      hcp1_dirty_ = false;
      hcp1_joiners_.clear();
      return;
    }
    for (auto& joiner : hcp1_joiners_)
      if (auto box = joiner.lock()) box->post_state(hcp1_list_key, list);
    hcp1_joiners_.clear();
    // Everyone gets it when the pace allows, or once presence is quiet.
    ticks_.check_quiet(std::min<std::chrono::steady_clock::duration>(hcp1_next_ - now, config_.hcp1_list_quiet));
  }

  // The tick grows with the clients that every tick reaches (each costs a
  // push and a write per tick), so that presence keeps to a bounded share of
  // the server's time however many are online.
  std::chrono::milliseconds tick_for_clients() const {
    const auto clients =
        batch_hub_.subscriber_count() + legacy_hub_.subscriber_count() + hcp1_hub_.subscriber_count();
    return std::chrono::duration_cast<std::chrono::milliseconds>(config_.presence_tick_per_client *
                                                                 static_cast<std::int64_t>(clients));
  }

  const server_config& config_;
  registry names_;
  howdy::broadcast_hub batch_hub_;
  howdy::broadcast_hub legacy_hub_;
  howdy::broadcast_hub hcp1_hub_;
  std::atomic<bool> silenced_{false};

  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const users_snapshot> snapshot_;  // guarded by snapshot_mutex_
  std::deque<joined_since> added_;                   // in join order
  std::unordered_map<std::string, left_since> removed_;

  // On the tick's executor only:
  std::list<std::string> order_;  // online names in join order
  std::unordered_map<std::string_view, std::list<std::string>::iterator> index_;  // keys point into order_
  bool hcp1_dirty_ = false;       // HCP/1's list changed since it was last sent to everyone
  std::vector<std::weak_ptr<howdy::outbox>> hcp1_joiners_;
  std::chrono::steady_clock::time_point hcp1_next_{};  // the paced list's next time

  tick_batch<change> ticks_;  // last: destroyed (stopped) first
};

}  // namespace hcp
