// server/text_session.hpp: one connection of the seed-002 text protocol.
// Two connections per user: TORECV holds the name in the registry (it is
// where FORWARDs go), TOSEND sends as that name once both are registered.
// Either may come first; `text_pairing` matches a TOSEND with the TORECV
// that comes after it.
#pragma once

#include "flood.hpp"
#include "session.hpp"

#include <howdy.hpp>
#include <howdy/utf8.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace hcp {

// TOSEND connections waiting for their TORECV.
class text_pairing {
 public:
  // A TORECV took `name`: pairs it with the TOSEND waiting for it, if any.
  void pair_waiting(const std::string& name, peer& receiver) {
    std::lock_guard lock(mutex_);
    if (auto it = waiting_.find(name); it != waiting_.end()) {
      if (auto sender = it->second.lock()) receiver.pair_sender(sender);
      waiting_.erase(it);
    }
  }
  // A TOSEND for a name nobody holds yet: waits for its TORECV, unless
  // another TOSEND waits already.
  bool wait(std::string_view name, const std::shared_ptr<const void>& token) {
    std::lock_guard lock(mutex_);
    std::erase_if(waiting_, [](auto& w) { return w.second.expired(); });
    auto& waiting = waiting_[std::string(name)];
    if (waiting.lock()) return false;
    waiting = token;
    return true;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::weak_ptr<const void>, std::less<>> waiting_;
};

inline asio::awaitable<void> text_session(services& sv, limit_counters& counters, text_pairing& pairing,
                                          socket_type& socket, std::string& who, std::shared_ptr<howdy::outbox> box) {
  howdy::framed_reader reader(socket, howdy::codec::header_body("\n\n", "Content-length"),
                              {.max_frame_size = sv.config.max_frame});
  auto& names = sv.online.names();
  registry::lease name;        // TORECV: the name it receives for
  std::string sender_name;     // TOSEND: the name it sends as
  std::weak_ptr<peer> paired;  // TOSEND: that name's TORECV
  const auto token = std::make_shared<const int>(0);  // TOSEND: who this connection is, for pairing
  std::shared_ptr<peer> self;
  howdy::broadcast_hub::subscription all;
  auto say = [&](std::string_view line) { box->push(text_frame(line)); };
  // Seed 002: until this connection has registered, anything it sends is
  // answered with ERROR 101, even bytes that never make a whole frame (cut by
  // the peer's EOF or by the handshake timeout, malformed, or too large).
  const auto registered = [&] { return name || !sender_name.empty(); };
  auto deadline = session_deadline(sv, socket, who, nullptr);
  message_bucket bucket(sv.config.message_rate, sv.config.message_burst, sv.config.flood_disconnect_after);
  const auto storing = std::make_shared<store_budget>(box->get_executor());

  for (;;) {
    co_await wait_for_store(sv, counters, *storing, who);
    auto [ec, f] = co_await reader.next();
    if (ec) {
      const bool unframed = ec == howdy::error::malformed_frame || ec == howdy::error::frame_too_large;
      if (!registered() && (unframed || ec == howdy::error::truncated_frame)) say(text::error(101));
      else if (unframed) say(text::error(103));
      log_read_end(sv, name ? name.name() : who, ec);
      break;
    }
    if (registered()) deadline.expires_after(sv.config.idle_timeout);
    const auto header_size = static_cast<std::size_t>(f.payload.data() - f.bytes.data()) - 2;  // before "\n\n"
    const std::string_view header(reinterpret_cast<const char*>(f.bytes.data()), header_size);
    const std::string_view body(reinterpret_cast<const char*>(f.payload.data()), f.payload.size());
    const auto cmd = text::parse_command(header);

    if (cmd.kind == text::command_kind::register_ && !name && sender_name.empty()) {
      if (!text::is_valid_name(cmd.arg) || name_problem(cmd.arg)) {  // the people rules too (names.hpp)
        say(text::error(100));
        continue;
      }
      if (sv.config.auth == auth_mode::required) {
        say(text::error(118));
        continue;
      }
      if (cmd.direction == text::direction::torecv) {
        auto me = peer::make(box, wire::text);
        std::error_code claim_ec;
        all = sv.messages.text_hub().subscribe(*box);
        name = names.claim(cmd.arg, me, claim_ec);
        if (claim_ec) {
          all.reset();
          sv.log.info("{}: username rejected ({}): {}", who, claim_ec.message(), cmd.arg);
          say(text::error(static_cast<int>(claim_error(claim_ec))));
          continue;
        }
        pairing.pair_waiting(name.name(), *me);
        self = std::move(me);
        who = name.name();
        say(text::registered(text::direction::torecv, who));
      } else {
        std::error_code check_ec = names.check(cmd.arg);
        if (!check_ec && names.protected_like(cmd.arg)) check_ec = howdy::error::name_held;  // an account's, or like one
        // Held already: only by this user's own TORECV, not yet paired with a sender.
        if (auto owner = names.find(cmd.arg); !check_ec && owner) {
          if ((*owner)->format != wire::text || !(*owner)->pair_sender(token))
            check_ec = howdy::error::name_taken;
          else
            paired = *owner;
        } else if (!check_ec && !pairing.wait(cmd.arg, token)) {  // TORECV comes next: it pairs with this connection
          check_ec = howdy::error::name_taken;
        }
        if (check_ec) {
          say(text::error(static_cast<int>(claim_error(check_ec))));
          continue;
        }
        // As its TORECV claimed it, if that came first (BOB sends as bob: one name by its key).
        sender_name = names.name_of(cmd.arg).value_or(std::string(cmd.arg));
        who = sender_name + " (sending)";
        say(text::registered(text::direction::tosend, cmd.arg));
      }
      sv.log.info("{} registered a text-protocol connection", who);
      deadline.expires_after(sv.config.idle_timeout);
      continue;
    }

    if (cmd.kind == text::command_kind::send && !sender_name.empty()) {
      // Both connections must be registered: the name's holder is this
      // user's TORECV, paired with this connection and no other.
      auto receiver = paired.lock();
      if (!receiver) {
        auto owner = names.find(sender_name);
        if (owner && (*owner)->format == wire::text && (*owner)->pair_sender(token)) {
          paired = receiver = *owner;
          sender_name = names.name_of(sender_name).value_or(sender_name);  // as its TORECV claimed it
        }
      }
      if (!receiver || names.find(sender_name) != receiver) {
        say(text::error(101));
        continue;
      }
      if (!cmd.content_length) {  // cannot know where the next message starts
        say(text::error(103));
        break;
      }
      if (const auto verdict = check_message_rate(sv, counters, bucket, who);
          verdict == message_bucket::verdict::refuse) {
        say(text::error(hcp2::errc::rate_limited));
        continue;
      } else if (verdict == message_bucket::verdict::disconnect) {
        say(text::error(hcp2::errc::rate_limited, "Rate limited: disconnected for flooding"));
        break;
      }
      if (body.empty() || !howdy::is_valid_utf8(body)) {
        say(text::error(102));
        continue;
      }
      if (text::is_everyone(cmd.arg)) {
        sv.messages.to_all(sender_name, receiver->box.get(), body);
        say(text::sent(cmd.arg));
        continue;
      }
      const std::string target(cmd.arg);
      auto out = sv.messages.whisper(sender_name, target, body, box, wire::text, box->get_executor(),
                                     [box, target, storing](std::error_code ec, std::uint64_t, bool awaits_receipt) {
                                       storing->done();
                                       if (ec) box->push(text_frame(text::error(102)));
                                       else if (!awaits_receipt) box->push(text_frame(text::sent(target)));
                                     });
      if (!out.known) say(text::error(102));
      else if (out.stored) ++storing->pending;
      else if (!out.awaits_receipt) say(text::sent(target));
      continue;
    }

    if (cmd.kind == text::command_kind::received && self) {
      if (auto r = self->confirm(0, cmd.arg)) sv.messages.report(*r, true);
      continue;
    }
    if (cmd.kind == text::command_kind::error && self) {  // the receiver could not read a FORWARD
      if (auto r = self->confirm_oldest()) sv.messages.report(*r, false);
      continue;
    }
    if (!registered()) {
      say(text::error(101));
      continue;
    }
    sv.log.warn("{}: unexpected text-protocol command, closing", who);
    say(text::error(103));
    break;
  }

  all.reset();
  if (self) sv.messages.end_receipts(*self);
  if (name) {
    const std::string left = name.name();
    name.release();
    log_offline(sv, left);
  }
}

}  // namespace hcp
