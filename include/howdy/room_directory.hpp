// Named rooms: each has its own broadcast_hub (a message to the room is
// encoded once and fanned out like any broadcast) and a member set kept in
// join order. Membership is by user name, not by connection, so a member may
// be offline; subscribing the online members' outboxes to the hub is the
// caller's part.
#pragma once

#include <algorithm>
#include <asio/any_io_executor.hpp>
#include <cstdint>
#include <functional>
#include <howdy/broadcast_hub.hpp>
#include <howdy/detail/string_hash.hpp>
#include <howdy/error.hpp>
#include <howdy/name_registry.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace howdy {

struct room_options {
  name_rules rules{};  // for room names; compared exactly (rules.case_insensitive is not applied)
  std::size_t max_rooms = 10000;
  std::size_t max_rooms_per_member = 64;
};

class room_directory {
  using string_hash = detail::string_hash;
  // Only the directory makes rooms (make_shared needs a public constructor).
  class passkey {
    friend class room_directory;
    explicit passkey() = default;
  };

 public:
  // Shared-ptr owned; thread-safe. Keep the pointer while any subscription to
  // its hub lives: the room leaves the directory when its last member leaves,
  // and a later join creates a new room (with a new hub) under the same name.
  class room {
   public:
    room(passkey, std::string name, std::vector<asio::any_io_executor> partitions)
        : name_(std::move(name)), hub_(std::move(partitions)) {}

    room(const room&) = delete;
    room& operator=(const room&) = delete;

    const std::string& name() const noexcept { return name_; }

    // Subscribe online members' outboxes here (on each outbox's executor).
    broadcast_hub& hub() noexcept { return hub_; }

    // In join order.
    std::vector<std::string> members() const {
      std::lock_guard lock(mutex_);
      std::vector<std::string> out;
      out.reserve(order_.size());
      for (const auto& [seq, user] : order_) out.push_back(user);
      return out;
    }

    bool has_member(std::string_view user) const {
      std::lock_guard lock(mutex_);
      return index_.find(user) != index_.end();
    }

    std::size_t size() const {
      std::lock_guard lock(mutex_);
      return index_.size();
    }

   private:
    friend class room_directory;

    // Both under the room's mutex, and called under the directory's (which
    // alone decides membership), so a check then an add cannot race.
    bool add(std::string_view user) {
      std::lock_guard lock(mutex_);
      auto [it, inserted] = index_.try_emplace(std::string(user), next_);
      if (!inserted) return false;
      order_.emplace(next_++, it->first);
      return true;
    }
    bool remove(std::string_view user) {
      std::lock_guard lock(mutex_);
      auto it = index_.find(user);
      if (it == index_.end()) return false;
      order_.erase(it->second);
      index_.erase(it);
      return true;
    }

    const std::string name_;
    broadcast_hub hub_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::uint64_t, string_hash, std::equal_to<>> index_;  // user -> join number
    std::map<std::uint64_t, std::string> order_;                                          // join number -> user
    std::uint64_t next_ = 0;
  };

  struct listing {
    std::string name;
    std::size_t members;
  };

  // `partitions`: as for broadcast_hub; every room's hub uses them.
  explicit room_directory(std::vector<asio::any_io_executor> partitions, room_options o = {})
      : partitions_(std::move(partitions)), options_(std::move(o)) {
    if (partitions_.empty()) throw std::invalid_argument("room_directory needs at least one partition");
  }

  room_directory(const room_directory&) = delete;
  room_directory& operator=(const room_directory&) = delete;

  // Adds `user` to `room_name`, creating the room if missing. Joining twice is
  // not an error: `added` tells whether the user is new to the room. ec:
  // error::name_invalid (the room name breaks the rules), error::room_limit
  // (max_rooms, or max_rooms_per_member for this user); nullptr then.
  std::shared_ptr<room> join(std::string_view room_name, std::string_view user, bool& added, std::error_code& ec) {
    added = false;
    if (!options_.rules.accepts(room_name)) {
      ec = error::name_invalid;
      return nullptr;
    }
    ec.clear();
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room_name);
    if (it != rooms_.end() && it->second->has_member(user)) return it->second;
    auto& mine = member_rooms_[std::string(user)];
    if (mine.size() >= options_.max_rooms_per_member || (it == rooms_.end() && rooms_.size() >= options_.max_rooms)) {
      if (mine.empty()) member_rooms_.erase(std::string(user));
      ec = error::room_limit;
      return nullptr;
    }
    if (it == rooms_.end()) {
      auto created = std::make_shared<room>(passkey{}, std::string(room_name), partitions_);
      it = rooms_.emplace(std::string(room_name), std::move(created)).first;
    }
    it->second->add(user);
    mine.push_back(it->first);
    added = true;
    return it->second;
  }

  // Removes `user` from `room_name`; the room leaves the directory with its
  // last member. Returns the room (the caller may still tell its hub). ec:
  // error::not_a_member (also when there is no such room); nullptr then.
  std::shared_ptr<room> leave(std::string_view room_name, std::string_view user, std::error_code& ec) {
    ec.clear();
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room_name);
    auto mine = member_rooms_.find(user);
    if (it == rooms_.end() || mine == member_rooms_.end() || !it->second->remove(user)) {
      ec = error::not_a_member;
      return nullptr;
    }
    auto& names = mine->second;
    names.erase(std::find(names.begin(), names.end(), room_name));
    if (names.empty()) member_rooms_.erase(mine);
    auto r = it->second;
    if (r->size() == 0) rooms_.erase(it);
    return r;
  }

  std::shared_ptr<room> find(std::string_view room_name) const {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room_name);
    return it == rooms_.end() ? nullptr : it->second;
  }

  // The rooms `user` is in, in join order.
  std::vector<std::string> rooms_of(std::string_view user) const {
    std::lock_guard lock(mutex_);
    auto it = member_rooms_.find(user);
    return it == member_rooms_.end() ? std::vector<std::string>{} : it->second;
  }

  // Every room with its member count, sorted by name (byte order).
  std::vector<listing> list() const {
    std::lock_guard lock(mutex_);
    std::vector<listing> out;
    out.reserve(rooms_.size());
    for (const auto& [name, r] : rooms_) out.push_back({name, r->size()});
    return out;
  }

  const room_options& options() const noexcept { return options_; }

 private:
  const std::vector<asio::any_io_executor> partitions_;
  const room_options options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<room>, std::less<>> rooms_;  // sorted, for list()
  std::unordered_map<std::string, std::vector<std::string>, string_hash, std::equal_to<>>
      member_rooms_;  // in join order
};

}  // namespace howdy
