// server/peer.hpp: what a name in the registry leads to. A peer is one online
// user: the outbox its frames go to, its wire format, and the bookkeeping
// of whispers to it (receipts owed to their senders, stored whispers still on
// their way). Sessions create peers; delivery and history read them.
#pragma once

#include "frames.hpp"

#include <howdy.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace hcp {

// Where a delivery receipt goes: the sender's outbox (HCP/2: DELIVERED /
// NOT_DELIVERED; text: SENT / ERROR 102 on its TOSEND connection).
struct receipt {
  std::uint64_t id;
  std::string sender;
  std::string recipient;
  std::weak_ptr<howdy::outbox> reply_to;
  wire format;
};

struct peer {
  std::shared_ptr<howdy::outbox> box;
  wire format;
  bool registered = false;
  std::weak_ptr<const void> sender;  // text protocol: the TOSEND connection paired with this TORECV (guarded by mutex)

  static std::shared_ptr<peer> make(std::shared_ptr<howdy::outbox> box, wire format, bool registered = false) {
    auto p = std::make_shared<peer>();
    p->box = std::move(box);
    p->format = format;
    p->registered = registered;
    return p;
  }

  // Pairs `token`'s TOSEND connection with this TORECV, unless another one is.
  bool pair_sender(const std::shared_ptr<const void>& token) {
    std::lock_guard lock(mutex);
    if (auto current = sender.lock()) return current == token;
    sender = token;
    return true;
  }

  void expect(receipt r, std::size_t limit) {
    std::lock_guard lock(mutex);
    if (unconfirmed.size() >= limit) unconfirmed.pop_front();  // too many unconfirmed: the oldest gets no receipt
    unconfirmed.push_back(std::move(r));
  }
  // The receipt for `id`, or (id 0) the oldest from `sender`.
  std::optional<receipt> confirm(std::uint64_t id, std::string_view from = {}) {
    std::lock_guard lock(mutex);
    auto it = std::find_if(unconfirmed.begin(), unconfirmed.end(),
                           [&](const receipt& r) { return id ? r.id == id : r.sender == from; });
    if (it == unconfirmed.end()) return std::nullopt;
    receipt r = std::move(*it);
    unconfirmed.erase(it);
    return r;
  }
  std::optional<receipt> confirm_oldest() {
    std::lock_guard lock(mutex);
    if (unconfirmed.empty()) return std::nullopt;
    receipt r = std::move(unconfirmed.front());
    unconfirmed.pop_front();
    return r;
  }
  std::deque<receipt> take_unconfirmed() {
    std::lock_guard lock(mutex);
    return std::exchange(unconfirmed, {});
  }

  // Stored whispers committed-but-not-yet-queued to this peer: a RECEIVED
  // for a later id must not move the history cursor past them.
  void expect_arrival(std::uint64_t id) {
    std::lock_guard lock(mutex);
    arriving.insert(id);
  }
  void arrived(std::uint64_t id) {
    std::lock_guard lock(mutex);
    arriving.erase(id);
  }
  std::uint64_t cursor_limit() {
    std::lock_guard lock(mutex);
    return arriving.empty() ? UINT64_MAX : *arriving.begin() - 1;
  }

 private:
  std::mutex mutex;
  std::deque<receipt> unconfirmed;  // oldest first; bounded
  std::set<std::uint64_t> arriving;
};

using registry = howdy::name_registry<std::shared_ptr<peer>>;

}  // namespace hcp
