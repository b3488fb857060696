// server/rooms.hpp: rooms. The directory (howdy::room_directory) knows the
// members; each room has its own hub, so a room message is encoded once for
// all its online members. With history on, an account stays a member while
// offline (the store keeps its membership and, from its joining on, the
// room's messages for its replay); a guest leaves its rooms when it leaves.
// JOIN is answered with ROOM_JOINED and the room's members (ROOM_MEMBERS);
// the other members hear joins and leaves batched per room per tick
// (tick.hpp): one buffer of ROOM_JOINED / ROOM_LEFT frames, encoded once,
// each name with its state at the tick's end. Ticks are spaced by the
// members the last one reached, as presence's are by the clients.
#pragma once

#include "config.hpp"
#include "delivery.hpp"
#include "frames.hpp"
#include "history.hpp"
#include "lists.hpp"
#include "presence.hpp"
#include "store.hpp"
#include "tick.hpp"

#include <howdy.hpp>

#include <asio/bind_executor.hpp>
#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <unordered_map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hcp {

class rooms {
 public:
  using room_ptr = std::shared_ptr<howdy::room_directory::room>;
  // One session's rooms, each with its subscription to the room's hub.
  using memberships = std::map<std::string, std::pair<room_ptr, howdy::broadcast_hub::subscription>, std::less<>>;

  // Who asks: the session's name, outbox, and whether it is an account.
  struct member {
    const std::string& name;
    const std::shared_ptr<howdy::outbox>& box;
    bool registered;
    memberships& joined;
  };

  rooms(const server_config& config, spdlog::logger& log, chat_store& store, presence& online, history& ids,
        const std::vector<asio::any_io_executor>& executors)
      : config_(config),
        log_(log),
        store_(store),
        online_(online),
        ids_(ids),
        directory_(executors),
        ticks_(executors.front(), config.presence_tick, [this](std::vector<change>& events) { flush(events); }, {},
               [this] { return tick_for_reach(); }) {}

  rooms(const rooms&) = delete;
  rooms& operator=(const rooms&) = delete;

  // After the network threads stopped: no more batches.
  void silence() { ticks_.stop(); }

  // At startup: an account's stored membership.
  void restore(const std::string& room, const std::string& account) {
    bool added = false;
    std::error_code ec;
    directory_.join(room, account, added, ec);
  }

  std::vector<std::string> rooms_of(std::string_view user) const { return directory_.rooms_of(user); }

  // At sign-in, inside the login's cut (history.hpp): subscribes to `names`.
  void subscribe_all(member m, const std::vector<std::string>& names) {
    for (auto& room_name : names)
      if (auto room = directory_.find(room_name)) m.joined.try_emplace(room_name, room, room->hub().subscribe(*m.box));
  }

  void join(member m, std::string_view wanted) {
    if (auto it = m.joined.find(wanted); it != m.joined.end()) {
      m.box->push(room_event(true, wanted, m.name));
      return send_members(*m.box, wanted);
    }
    bool added = false;
    std::error_code ec;
    auto room = directory_.join(wanted, m.name, added, ec);
    if (ec) return void(m.box->push(error_frame(room_error(ec))));
    ids_.cut_one(history::room_source(room->name()), [&] {
      m.joined.try_emplace(room->name(), room, room->hub().subscribe(*m.box));
      // Messages after this cut are the account's to receive, online or not.
      if (m.registered) store_.join_room(room->name(), m.name, ids_.last_id());
      // The joiner's answer goes straight to its outbox, like LEAVE's: a BYE
      // right after JOIN must not outrun the tick.
      m.box->push(room_event(true, room->name(), m.name));
    });
    // Subscribed first: the batches from now on complete this list.
    send_members(*m.box, room->name());
    ticks_.add({room, m.name, true});
    log_.info("{} joined room {}", m.name, room->name());
  }

  void leave(member m, std::string_view wanted) {
    auto it = m.joined.find(wanted);
    if (it == m.joined.end()) return void(m.box->push(error_frame(hcp2::errc::not_in_room)));
    auto room = it->second.first;
    m.joined.erase(it);  // unsubscribes
    std::error_code ignored;
    directory_.leave(room->name(), m.name, ignored);
    if (m.registered) store_.leave_room(room->name(), m.name);
    m.box->push(room_event(false, room->name(), m.name));
    ticks_.add({room, m.name, false});
    log_.info("{} left room {}", m.name, room->name());
  }

  // The session ends: it stops receiving; a guest also leaves (members hear
  // ROOM_LEFT); an account stays a member while offline.
  void leave_all(member m) {
    for (auto& [room_name, entry] : m.joined) {
      auto& [room, subscription] = entry;
      subscription.reset();
      if (m.registered || m.name.empty()) continue;
      std::error_code ignored;
      directory_.leave(room_name, m.name, ignored);
      ticks_.add({room, m.name, false});
    }
    m.joined.clear();
  }

  // A message to a room. With history on it is stored too, and SENT follows
  // the commit (on the session's executor, charged to `budget`).
  void send(member m, const hcp2::send& v, const std::shared_ptr<store_budget>& budget) {
    const auto ref = v.client_ref;
    auto room = directory_.find(v.target);
    if (!room || !room->has_member(m.name)) return void(m.box->push(error_frame(hcp2::errc::not_in_room, ref)));
    std::uint64_t id;
    {
      // The room's stripe orders this against its members' logins (history.hpp).
      history::sending sending(ids_, history::room_source(room->name()));
      id = sending.id();
      const auto ts = now_us();
      if (config_.store.history) {
        store_.async_append(
            stored_message{id, ts, hcp2::target_kind::room, m.name, room->name(), std::string(v.text)},
            asio::bind_executor(m.box->get_executor(), [box = m.box, ref, id, budget](std::error_code ec) {
              budget->done();
              box->push(ec ? error_frame(hcp2::errc::storage_failed, ref,
                                         "delivered to the online members, but could not be stored")
                           : sent_frame(ref, id));
            }));
        ++budget->pending;
      }
      room->hub().publish(encode_for(wire::hcp2, id, ts, hcp2::target_kind::room, m.name, room->name(), v.text),
                          m.box.get());
    }
    log_.debug("forwarding a message from {} to room {} ({} bytes)", m.name, room->name(), v.text.size());
    if (!config_.store.history) m.box->push(sent_frame(ref, id));
  }

  // ROOM_LIST and ROOM_MEMBERS, paged (lists.hpp).
  void send_list(howdy::outbox& box) const {
    auto listing = directory_.list();
    std::vector<hcp2::room_entry> entries;
    entries.reserve(listing.size());
    for (auto& r : listing)
      entries.push_back({r.name, static_cast<std::uint32_t>(std::min<std::size_t>(r.members, UINT32_MAX))});
    for (auto& page : room_list_pages(entries, config_.max_frame)) box.push(std::move(page));
  }

  void send_members(howdy::outbox& box, std::string_view wanted) const {
    auto room = directory_.find(wanted);
    std::vector<std::string> members = room ? room->members() : std::vector<std::string>{};
    const auto entries = online_.roster_of(members);
    for (auto& page : room_members_pages(wanted, entries, config_.max_frame)) box.push(std::move(page));
  }

 private:
  static hcp2::errc room_error(std::error_code ec) {
    if (ec == howdy::error::room_limit) return hcp2::errc::room_limit;
    if (ec == howdy::error::not_a_member) return hcp2::errc::not_in_room;
    return hcp2::errc::invalid_room;
  }

  // A join or a leave, for the room's next batch.
  struct change {
    room_ptr room;
    std::string user;
    bool joined;
  };

  // Once per tick: per room, each name's last state, one buffer for all members.
  void flush(std::vector<change>& events) {
    struct batch {
      room_ptr room;
      final_states changes;  // names point into `events`
    };
    std::vector<batch> batches;
    std::unordered_map<const void*, std::size_t> room_position;
    for (auto& c : events) {
      auto [r, fresh] = room_position.try_emplace(c.room.get(), batches.size());
      if (fresh) batches.push_back({c.room, {}});
      batches[r->second].changes.set(c.user, c.joined);
    }
    last_reach_ = 0;
    for (auto& b : batches)
      if (const auto members = b.room->hub().subscriber_count(); members > 0) {
        b.room->hub().publish(room_batch(b.room->name(), b.changes.entries()));
        last_reach_ += members;
      }
  }

  // A flush costs a push and a write per member it reaches: the next one
  // waits presence_tick_per_client for each (as presence.hpp's ticks).
  std::chrono::milliseconds tick_for_reach() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(config_.presence_tick_per_client *
                                                                 static_cast<std::int64_t>(last_reach_));
  }

  const server_config& config_;
  spdlog::logger& log_;
  chat_store& store_;
  presence& online_;
  history& ids_;
  howdy::room_directory directory_;
  std::size_t last_reach_ = 0;  // on the tick's executor: members the last flush reached
  tick_batch<change> ticks_;    // last: destroyed (stopped) first
};

}  // namespace hcp
