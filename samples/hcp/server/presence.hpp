// server/presence.hpp: who is online. Owns the name registry (one name, one
// live session; accounts' names are protected while they are offline) and
// tells every client about joins and leaves in the registry's one order:
// HCP/2 clients get JOINED / LEFT through their own hub (clients may opt out
// of presence), HCP/1 clients the whole list, as HCP/1 defines. HCP/1 has one
// hub for its list updates and its messages, so both reach it in order.
#pragma once

#include "frames.hpp"
#include "peer.hpp"

#include <howdy.hpp>

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

namespace hcp {

class presence {
 public:
  explicit presence(const std::vector<asio::any_io_executor>& executors)
      : names_(howdy::name_rules{}, {std::string(reserved_names[0]), std::string(reserved_names[1])}),
        hcp2_hub_(executors),
        hcp1_hub_(executors) {
    names_.watch([this](const howdy::presence_event& e, const std::shared_ptr<peer>& who) { on_event(e, who); });
  }

  presence(const presence&) = delete;
  presence& operator=(const presence&) = delete;

  registry& names() { return names_; }
  const registry& names() const { return names_; }
  bool is_account(std::string_view name) const { return names_.is_protected(name); }

  // JOINED / LEFT for an HCP/2 client that wants them.
  howdy::broadcast_hub& hcp2_hub() { return hcp2_hub_; }
  // Everything HCP/1 clients get: the user list and messages to all.
  howdy::broadcast_hub& hcp1_hub() { return hcp1_hub_; }

  // After the network threads stopped: sessions destroyed with their
  // io_context release their names, and nobody is left to hear it.
  void silence() { silenced_ = true; }

  howdy::shared_buffer users_frame() const {
    const auto list = names_.snapshot().names;
    return frame(hcp2::users_size(list), [&](auto out) { hcp2::write_users(out, list); });
  }

  std::uint8_t status_of(std::string_view name) const {
    return (names_.find(name) ? hcp2::status_online : 0) | (is_account(name) ? hcp2::status_registered : 0);
  }

 private:
  // Runs under the registry's lock, so publishing here keeps the registry's
  // order on every partition. Nothing here logs: the sessions log a join or
  // a leave after their claim or release, outside this lock.
  void on_event(const howdy::presence_event& e, const std::shared_ptr<peer>& who) {
    if (silenced_) return;
    const bool joined = e.change == howdy::presence::joined;
    if (joined) hcp1_list_.push_back(e.name);
    else std::erase(hcp1_list_, e.name);
    // A new HCP/2 user learns the list from USERS, not from its own JOINED.
    hcp2_hub_.publish(joined ? frame(hcp2::joined_size(e.name), [&](auto out) { hcp2::write_joined(out, e.name); })
                             : frame(hcp2::left_size(e.name), [&](auto out) { hcp2::write_left(out, e.name); }),
                      who->box.get());
    if (hcp1_hub_.subscriber_count() > 0)
      hcp1_hub_.publish(frame(hcp1::update_size(hcp1_list_), [&](auto out) { hcp1::write_update(out, hcp1_list_); }));
  }

  registry names_;
  howdy::broadcast_hub hcp2_hub_;
  howdy::broadcast_hub hcp1_hub_;
  std::vector<std::string> hcp1_list_;  // in join order; guarded by the registry's lock
  std::atomic<bool> silenced_{false};
};

}  // namespace hcp
