// Publish once, deliver to every subscriber. Subscribers are partitioned by the
// executor (thread or strand) that owns their connection; a publish hands the
// shared frame to each partition once, and the partition appends it to its own
// outboxes on its own executor: one hand-off per partition, no lock across
// writes, and the publisher never waits for a subscriber. A subscriber gets
// exactly the frames published after its subscribe() returned, even those whose
// hand-off reaches its partition later; so "subscribe, then read what was
// stored up to now" misses nothing and gets nothing twice. publish_state()
// delivers the latest state under a key, with the same numbering: each
// subscriber's outbox keeps at most one unsent frame per key, replaced in
// place (outbox.hpp), so a slow subscriber gets the newest, never a backlog of
// stale ones. Write boundaries are per subscriber: outbox::push(frame,
// write_boundary::after) on its own outbox.
#pragma once

#include <howdy/outbox.hpp>
#include <howdy/shared_buffer.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/post.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace howdy {

class broadcast_hub {
  struct slot;

 public:
  // `partitions`: the executors that own subscriber connections, e.g. one per
  // io_context of an io_context_pool, or one strand per worker thread.
  explicit broadcast_hub(std::vector<asio::any_io_executor> partitions) {
    if (partitions.empty()) throw std::invalid_argument("broadcast_hub needs at least one partition");
    for (auto& ex : partitions) partitions_.push_back(std::make_shared<partition>(std::move(ex)));
  }

  broadcast_hub(const broadcast_hub&) = delete;
  broadcast_hub& operator=(const broadcast_hub&) = delete;

  // Membership of one outbox; leaving is destroying it (or reset()), on the
  // outbox's executor.
  class subscription {
   public:
    subscription() = default;
    subscription(subscription&&) noexcept = default;
    subscription& operator=(subscription&& other) noexcept {
      reset();
      slot_ = std::move(other.slot_);
      return *this;
    }
    ~subscription() { reset(); }

    void reset() {
      if (slot_) slot_->hub->leave(*slot_);
      slot_.reset();
    }
    explicit operator bool() const noexcept { return slot_ != nullptr; }

   private:
    friend class broadcast_hub;
    explicit subscription(std::unique_ptr<slot> s) : slot_(std::move(s)) {}
    std::unique_ptr<slot> slot_;
  };

  // Joins `box` to the hub: it gets the frames published from now on. Call on
  // the outbox's executor, which must be one of the hub's partitions.
  [[nodiscard]] subscription subscribe(outbox& box) {
    for (std::size_t p = 0; p < partitions_.size(); ++p) {
      auto& part = *partitions_[p];
      if (part.ex != box.get_executor()) continue;
      const auto since = published_.load(std::memory_order_relaxed);
      auto s = std::make_unique<slot>(slot{this, &box, p, part.members.size(), since});
      part.members.push_back(s.get());
      subscribers_.fetch_add(1, std::memory_order_relaxed);
      return subscription(std::move(s));
    }
    throw std::invalid_argument("broadcast_hub::subscribe: the outbox's executor is not a partition of this hub");
  }

  // Delivers `frame` to every subscriber but `except`. Thread-safe; never
  // waits. Frames from one publisher reach every subscriber in publish order.
  void publish(shared_buffer frame, const outbox* except = nullptr) {
    deliver(std::move(frame), except, [](outbox& box, const shared_buffer& f) { box.push(f); });
  }

  // Delivers `frame` as the latest state under `key` (outbox::push_state): a
  // subscriber that has not yet been sent the previous state under `key` gets
  // only this one, in the previous one's place. Otherwise as publish().
  void publish_state(state_key key, shared_buffer frame, const outbox* except = nullptr) {
    deliver(std::move(frame), except, [key](outbox& box, const shared_buffer& f) { box.push_state(key, f); });
  }

  std::size_t subscriber_count() const noexcept { return subscribers_.load(std::memory_order_relaxed); }
  std::size_t partition_count() const noexcept { return partitions_.size(); }

 private:
  template <class Push>
  void deliver(shared_buffer frame, const outbox* except, Push push) {
    if (subscriber_count() == 0) return;
    // Publishes are numbered; a slot subscribed after this number was taken
    // (by a publish that happened before its subscribe) skips it. One atomic
    // counter keeps that order: it needs no fence.
    const auto number = published_.fetch_add(1, std::memory_order_relaxed) + 1;
    for (auto& part : partitions_) {
      // The handler shares the partition: a hub may be destroyed (a room
      // emptied) while its deliveries are still queued.
      asio::post(part->ex, [p = part, frame, except, number, push] {
        for (slot* s : p->members)
          if (s->since < number && s->box != except) push(*s->box, frame);
      });
    }
  }

  struct slot {
    broadcast_hub* hub;
    outbox* box;
    std::size_t partition;
    std::size_t index;    // position in the partition's member list
    std::uint64_t since;  // publishes numbered up to this one came before the subscribe
  };

  struct partition {
    explicit partition(asio::any_io_executor e) : ex(std::move(e)) {}
    asio::any_io_executor ex;
    std::vector<slot*> members;  // touched only on ex
  };

  void leave(slot& s) {
    auto& members = partitions_[s.partition]->members;
    members[s.index] = members.back();
    members[s.index]->index = s.index;
    members.pop_back();
    subscribers_.fetch_sub(1, std::memory_order_relaxed);
  }

  std::vector<std::shared_ptr<partition>> partitions_;
  std::atomic<std::size_t> subscribers_{0};
  std::atomic<std::uint64_t> published_{0};  // publishes numbered so far
};

}  // namespace howdy
