// server/hcp2_session.hpp: one HCP/2 connection. HELLO / WELCOME, then a
// guest NAME or an account's REGISTER / LOGIN (whose history is replayed
// before anything live), then SENDs to all, to a user or to a room, RECEIVED
// (receipts and the history cursor), rooms, lists, PING and BYE.
#pragma once

#include "flood.hpp"
#include "session.hpp"

#include <howdy.hpp>
#include <howdy/utf8.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace hcp {

class hcp2_session {
 public:
  hcp2_session(services& sv, limit_counters& counters, socket_type& socket, std::string& who, std::string address,
               std::shared_ptr<howdy::outbox> box)
      : sv_(sv),
        counters_(counters),
        socket_(socket),
        who_(who),
        address_(std::move(address)),
        box_(std::move(box)),
        storing_(std::make_shared<store_budget>(box_->get_executor())) {}

  asio::awaitable<void> run() {
    hcp2::stream_codec codec;
    howdy::framed_reader reader(socket_, codec, {.max_frame_size = sv_.config.max_frame + hcp2::length_field_size});
    bool greeted = false;
    bool close_now = false;
    auto deadline = session_deadline(sv_, socket_, who_, [&] {
      push(error_frame(name_ ? hcp2::errc::idle_timeout : hcp2::errc::handshake_timeout));
    });

    for (;;) {
      co_await wait_for_store(sv_, counters_, *storing_, who_);
      auto [ec, f] = co_await reader.next();
      if (ec) {
        if (ec == howdy::error::frame_too_large) push(error_frame(hcp2::errc::frame_too_large));
        if (ec == howdy::error::malformed_frame) push(error_frame(hcp2::errc::malformed_frame));
        log_read_end(sv_, name_ ? name_.name() : who_, ec);
        break;
      }
      if (name_) deadline.expires_after(sv_.config.idle_timeout);
      const auto type = std::to_integer<std::uint8_t>(f.payload[0]);
      if (greeted && !hcp2::is_client_frame_type(type)) {
        push(error_frame(hcp2::errc::unknown_frame_type, 0, "not a client frame type"));  // skipped; room to grow
        continue;
      }
      const auto parsed = hcp2::parse(f.bytes);

      if (!greeted) {
        const auto* hello = std::get_if<hcp2::hello>(&parsed);
        if (!hello || hello->version != hcp2::version) {
          sv_.log.warn("{}: expected HCP/2 HELLO version 2, closing", who_);
          push(error_frame(hcp2::errc::unsupported_version));
          break;
        }
        greeted = true;
        wants_presence_ = (hello->flags & hcp2::hello_no_presence) == 0;
        wants_batches_ = (hello->flags & hcp2::hello_presence_batches) != 0;
        push(frame(hcp2::welcome_size(sv_.config.server_info),
                   [&](auto out) { hcp2::write_welcome(out, sv_.config.max_frame, sv_.config.server_info); }));
        continue;
      }

      if (const auto* bad = std::get_if<hcp2::parse_error>(&parsed)) {
        if (bad->code == hcp2::errc::unknown_frame_type) {
          push(error_frame(hcp2::errc::unknown_frame_type));  // room to grow: skip it, stay connected
          continue;
        }
        sv_.log.warn("{}: malformed frame (type 0x{:02x}), closing", who_, bad->type);
        push(error_frame(hcp2::errc::malformed_frame));
        break;
      }

      // Frames that wait for the store or the password hashing.
      if (const auto* a = std::get_if<hcp2::register_account>(&parsed)) {
        co_await sign_in(std::string(a->name), std::string(a->password), true);
        if (name_) deadline.expires_after(sv_.config.idle_timeout);
        continue;
      }
      if (const auto* a = std::get_if<hcp2::login>(&parsed)) {
        co_await sign_in(std::string(a->name), std::string(a->password), false);
        if (name_) deadline.expires_after(sv_.config.idle_timeout);
        continue;
      }
      if (const auto* h = std::get_if<hcp2::history_request>(&parsed)) {
        std::vector<howdy::shared_buffer> none;  // a named argument: GCC 12 mishandles braced temporaries in co_await
        co_await send_history(h->after_id, std::move(none));
        continue;
      }

      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, hcp2::name>) {
              guest_name(v.value);
              if (name_) deadline.expires_after(sv_.config.idle_timeout);
            } else if constexpr (std::is_same_v<T, hcp2::send>) {
              close_now = !send(v);
            } else if constexpr (std::is_same_v<T, hcp2::received>) {
              on_received(v.id);
            } else if constexpr (std::is_same_v<T, hcp2::join>) {
              if (!name_) push(error_frame(hcp2::errc::not_registered));
              else sv_.rooms.join(member(), v.room);
            } else if constexpr (std::is_same_v<T, hcp2::leave>) {
              if (!name_) push(error_frame(hcp2::errc::not_in_room));
              else sv_.rooms.leave(member(), v.room);
            } else if constexpr (std::is_same_v<T, hcp2::rooms_request>) {
              sv_.rooms.send_list(*box_);
            } else if constexpr (std::is_same_v<T, hcp2::members_request>) {
              sv_.rooms.send_members(*box_, v.room);
            } else if constexpr (std::is_same_v<T, hcp2::roster_request>) {
              send_roster();
            } else if constexpr (std::is_same_v<T, hcp2::ping>) {
              push(frame(hcp2::pong_size(), [&](auto out) { hcp2::write_pong(out, v.token); }));
            } else if constexpr (std::is_same_v<T, hcp2::who>) {
              for (auto& page : sv_.online.users_frames()) push(std::move(page));
            } else if constexpr (std::is_same_v<T, hcp2::bye>) {
              sv_.log.info("{} said goodbye", who_);
              close_now = true;
            } else if constexpr (std::is_same_v<T, hcp2::hello>) {
              push(error_frame(hcp2::errc::malformed_frame, 0, "HELLO was already received"));
            } else {
              push(error_frame(hcp2::errc::unknown_frame_type, 0, "not a client frame"));
            }
          },
          parsed);
      if (close_now) break;
    }

    // Leave: stop receiving broadcasts, leave a guest's rooms (members hear
    // ROOM_LEFT; an account stays a member while offline), settle receipts, free
    // the name (everyone hears LEFT), then flush what is owed and close.
    all_.reset();
    presence_.reset();
    sv_.rooms.leave_all(member());
    if (self_) sv_.messages.end_receipts(*self_);
    if (name_) {
      const std::string left = name_.name();
      name_.release();
      log_offline(sv_, left);
    }
    if (sv_.stopping) push(error_frame(hcp2::errc::shutting_down));
  }

 private:
  bool registered() const { return self_ && self_->registered; }
  void push(howdy::shared_buffer f) const { box_->push(std::move(f)); }
  void refuse(hcp2::errc code, std::string_view name, std::string_view reason = {}) const {
    if (reason.empty()) reason = hcp2::describe(code);
    const std::string_view shown = name.size() <= name_field_size ? name : std::string_view{};
    push(frame(hcp2::name_refused_size(shown, reason), [&](auto out) { hcp2::write_name_refused(out, code, shown, reason); }));
  }
  rooms::member member() { return {name_ ? name_.name() : no_name_, box_, registered(), rooms_}; }

  // Subscribes to messages to all (and presence) and claims: in one step on
  // this executor, so no event slips between them. An account also takes its
  // history cut (history.hpp) and holds the outbox until its replay is queued.
  std::error_code take_name(const std::string& wanted, bool account) {
    auto self = peer::make(box_, wire::hcp2, account);
    std::error_code ec;
    auto claim = [&] {
      all_ = sv_.messages.hcp2_hub().subscribe(*box_);
      if (wants_presence_) presence_ = sv_.online.hcp2_hub(wants_batches_).subscribe(*box_);
      name_ = account ? sv_.online.names().claim_protected(wanted, self, ec) : sv_.online.names().claim(wanted, self, ec);
    };
    if (!account) {
      claim();
    } else {
      // An offline account's rooms cannot change: read them before the cut.
      const auto room_names = sv_.rooms.rooms_of(wanted);
      std::vector<std::string> sources{history::user_source(wanted)};
      for (auto& r : room_names) sources.push_back(history::room_source(r));
      box_->hold();
      replay_upto_ = sv_.ids.cut(sources, [&] {
        claim();
        if (!ec) sv_.rooms.subscribe_all(member(), room_names);
      });
    }
    if (ec) {
      all_.reset();
      presence_.reset();
      if (account) box_->release();
      return ec;
    }
    self_ = std::move(self);
    who_ = name_.name();
    return {};
  }

  void guest_name(std::string_view wanted) {
    sv_.log.info("a username is received from {}: {}", who_, wanted);
    if (name_) return push(error_frame(hcp2::errc::already_named));
    if (sv_.config.auth == auth_mode::required) return refuse(hcp2::errc::auth_required, wanted);
    if (auto problem = name_problem(wanted)) {
      sv_.log.info("username rejected ({}): {}", *problem, wanted);
      return refuse(hcp2::errc::malformed_username, wanted, *problem);
    }
    if (auto ec = take_name(std::string(wanted), false)) {
      sv_.log.info("username rejected ({}): {}", ec.message(), wanted);
      return refuse(claim_error(ec), wanted, claim_reason(ec));
    }
    sv_.log.info("username accepted: {} (guest)", who_);
    push(frame(hcp2::name_ok_size(who_), [&](auto out) { hcp2::write_name_ok(out, who_); }));
    if (wants_presence_)
      for (auto& page : sv_.online.users_frames()) push(std::move(page));
  }

  // REGISTER (create = true) or LOGIN, then the account's history.
  asio::awaitable<void> sign_in(std::string name, std::string password, bool create) {
    if (name_) co_return push(error_frame(hcp2::errc::already_named));
    if (sv_.config.auth == auth_mode::off) co_return refuse(hcp2::errc::auth_disabled, name);
    if (!create) name = sv_.accounts.account_name(name);  // LOGIN DAVE: the account dave
    if (auto refused = co_await sv_.accounts.sign_in(address_, who_, name, std::move(password), create))
      co_return refuse(refused->code, name, refused->reason);
    if (auto ec = take_name(name, true)) {
      sv_.log.info("{}: cannot sign in as {}: {}", who_, name, ec.message());
      // The account's own name is held: by its owner, on another connection.
      if (ec == howdy::error::name_taken) co_return refuse(hcp2::errc::signed_in_elsewhere, name);
      co_return refuse(claim_error(ec), name, claim_reason(ec));
    }
    sv_.log.info("{} signed in", who_);
    std::vector<howdy::shared_buffer> first;
    first.push_back(frame(hcp2::name_ok_size(who_), [&](auto out) { hcp2::write_name_ok(out, who_); }));
    if (wants_presence_)
      for (auto& page : sv_.online.users_frames()) first.push_back(std::move(page));
    co_await send_history(std::nullopt, std::move(first));  // releases the outbox
  }

  // Stored messages after `after` (nullopt: after the account's cursor), then
  // HISTORY_END, queued after `first`. Guests have no history.
  asio::awaitable<void> send_history(std::optional<std::uint64_t> after, std::vector<howdy::shared_buffer> first) {
    std::vector<stored_message> stored;
    bool more = false;
    if (registered()) {
      std::error_code ec;
      std::tie(ec, stored, more) = co_await sv_.ids.page(sv_.store, name_.name(), after, replay_upto_);
      if (ec) sv_.log.warn("{}: could not read the history: {}", name_.name(), ec.message());
    }
    std::uint64_t last = 0;
    for (auto& m : stored) {
      first.push_back(encode_for(wire::hcp2, m.id, m.timestamp_us, m.kind, m.sender, m.target, m.text));
      last = m.id;
      // A replayed whisper is confirmed like a live one.
      if (m.kind == hcp2::target_kind::user)
        if (auto sender = sv_.online.names().find(m.sender); sender && (*sender)->format == wire::hcp2)  // a text sender had its SENT
          self_->expect({m.id, m.sender, m.target, (*sender)->box, (*sender)->format}, sv_.config.max_pending_receipts);
    }
    page_limit_ = more ? last : UINT64_MAX;
    first.push_back(frame(hcp2::history_end_size(), [&](auto out) { hcp2::write_history_end(out, last, more); }));
    if (!stored.empty()) sv_.log.info("{}: replaying {} stored message(s)", name_.name(), stored.size());
    if (box_->held())
      box_->release(std::move(first));
    else
      for (auto& f : first) push(std::move(f));
  }

  // Returns false when the frame is malformed, or the sender floods, and the connection must close.
  bool send(const hcp2::send& v) {
    const auto ref = v.client_ref;
    auto malformed = [&](std::string_view why) {
      push(error_frame(hcp2::errc::malformed_frame, ref, why));
      return false;
    };
    if (v.kind != hcp2::target_kind::all && v.kind != hcp2::target_kind::user && v.kind != hcp2::target_kind::room)
      return malformed("unknown target kind");
    if (v.kind == hcp2::target_kind::all && !v.target.empty()) return malformed("a SEND to all has no target name");
    if (v.text.empty() || !howdy::is_valid_utf8(v.text)) return malformed("text must be non-empty UTF-8");
    if (!name_) return push(error_frame(hcp2::errc::not_registered, ref)), true;
    const std::string& me = name_.name();
    if (const auto verdict = check_message_rate(sv_, counters_, bucket_, who_);
        verdict == message_bucket::verdict::refuse) {
      return push(error_frame(hcp2::errc::rate_limited, ref)), true;
    } else if (verdict == message_bucket::verdict::disconnect) {
      push(error_frame(hcp2::errc::rate_limited, ref, "too many messages for too long: disconnected for flooding"));
      return false;
    }

    if (v.kind == hcp2::target_kind::all) {
      push(sent_frame(ref, sv_.messages.to_all(me, box_.get(), v.text)));
      return true;
    }
    if (v.kind == hcp2::target_kind::room) return sv_.rooms.send(member(), v, storing_), true;

    auto out = sv_.messages.whisper(me, v.target, v.text, box_, wire::hcp2, box_->get_executor(),
                                    [box = box_, ref, storing = storing_](std::error_code ec, std::uint64_t id, bool) {
                                      storing->done();
                                      box->push(ec ? error_frame(hcp2::errc::storage_failed, ref) : sent_frame(ref, id));
                                    });
    if (!out.known) push(error_frame(hcp2::errc::unknown_recipient, ref));
    else if (!out.stored) push(sent_frame(ref, out.id));
    else ++storing_->pending;
    return true;
  }

  void on_received(std::uint64_t id) {
    if (!self_) return;
    if (auto r = self_->confirm(id)) sv_.messages.report(*r, true);
    if (!registered() || id > sv_.ids.last_id()) return;
    // The cursor means "everything up to here was received": it stops short of
    // ids still in flight and of history pages not yet fetched (history.hpp).
    const auto cursor = std::min({sv_.ids.cursor_bound(id), self_->cursor_limit(), page_limit_});
    if (cursor > acked_) {
      acked_ = cursor;
      sv_.store.set_cursor(name_.name(), cursor);
    }
  }

  // Accounts online or not, and guests while online; paged (lists.hpp).
  void send_roster() {
    std::vector<std::string> names = sv_.online.names().snapshot().names;
    for (auto& a : sv_.accounts.offline()) names.push_back(std::move(a));
    std::vector<hcp2::roster_entry> entries;
    entries.reserve(names.size());
    for (auto& n : names) entries.push_back({sv_.online.status_of(n), n});
    for (auto& page : roster_pages(entries, sv_.config.max_frame)) push(std::move(page));
  }

  services& sv_;
  limit_counters& counters_;
  message_bucket bucket_{sv_.config.message_rate, sv_.config.message_burst, sv_.config.flood_disconnect_after};
  socket_type& socket_;
  std::string& who_;  // what the log calls this connection
  const std::string address_;
  const std::shared_ptr<howdy::outbox> box_;
  const std::shared_ptr<store_budget> storing_;
  const std::string no_name_;
  registry::lease name_;
  std::shared_ptr<peer> self_;
  howdy::broadcast_hub::subscription all_;
  howdy::broadcast_hub::subscription presence_;
  rooms::memberships rooms_;
  bool wants_presence_ = true;
  bool wants_batches_ = false;  // HELLO flag 0x2: PRESENCE frames instead of JOINED / LEFT
  std::uint64_t acked_ = 0;                // highest RECEIVED id (accounts: the history cursor)
  std::uint64_t replay_upto_ = 0;          // history beyond this id arrives live
  std::uint64_t page_limit_ = UINT64_MAX;  // while history pages remain: the last id replayed
};

}  // namespace hcp
