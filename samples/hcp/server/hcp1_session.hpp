// server/hcp1_session.hpp: one HCP/1 connection (the original protocol):
// a name proposal, answered by ack or nak, then messages to "All" or to one
// user. HCP/1 has no accounts, receipts or rooms; its clients get the whole
// user list when it changes, at most once per presence tick (presence.hpp).
#pragma once

#include "flood.hpp"
#include "session.hpp"

#include <howdy.hpp>

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <memory>
#include <string>

namespace hcp {

inline asio::awaitable<void> hcp1_session(services& sv, limit_counters& counters, socket_type& socket,
                                          std::string& who, std::shared_ptr<howdy::outbox> box) {
  howdy::framed_reader reader(socket, hcp1::stream_codec{}, {.max_frame_size = sv.config.max_frame});
  registry::lease name;
  howdy::broadcast_hub::subscription subscription;
  auto deadline = session_deadline(sv, socket, who, nullptr);  // HCP/1 has no way to say why
  message_bucket bucket(sv.config.message_rate, sv.config.message_burst, sv.config.flood_disconnect_after);
  const auto storing = std::make_shared<store_budget>(box->get_executor());
  // What the server says to this user: a message from "Server" (HCP/1 has no error packet).
  auto notice = [&](std::string_view text) {
    box->push(frame(hcp1::message_size(text),
                    [&](auto out) { hcp1::write_message(out, reserved_names[1], name.name(), text); }));
  };

  for (;;) {
    co_await wait_for_store(sv, counters, *storing, who);
    auto [ec, f] = co_await reader.next();
    if (ec) {
      log_read_end(sv, name ? name.name() : who, ec);
      break;
    }
    if (name) deadline.expires_after(sv.config.idle_timeout);
    const auto type = static_cast<hcp1::type>(f.bytes[0]);

    if (type == hcp1::type::proposal) {
      // A name over 64 bytes (the original client sends it unpadded): its first 64 bytes are the field.
      const bool overlong = hcp1::is_overlong_proposal(f.bytes);
      const auto proposal = f.bytes.first(hcp1::name_packet_size);
      const auto packet = hcp1::parse_name_packet(proposal);
      const auto field = packet->name;
      sv.log.info("a username is received from {}: {}{}", who, field.name, overlong ? "... (over 64 bytes)" : "");
      // A nak echoes the proposed field, as the original server does.
      auto nak = [&] {
        box->push(howdy::shared_buffer::make(hcp1::nak_size(), [&](std::span<std::byte> out) {
          std::copy(proposal.begin(), proposal.end(), out.begin());
          out[0] = std::byte(hcp1::type::nak);
        }));
      };
      if (name) {
        sv.log.info("{} already has a name; refusing {}", name.name(), field.name);
        nak();
        continue;
      }
      std::error_code claim_ec;
      if (overlong || !field.valid) {
        claim_ec = howdy::error::name_invalid;
      } else if (auto problem = name_problem(field.name)) {
        sv.log.info("username rejected ({}): {}", *problem, field.name);
        nak();
        continue;
      } else if (sv.config.auth == auth_mode::required) {
        claim_ec = howdy::error::name_held;  // HCP/1 has no way to sign in
      } else {
        subscription = sv.online.hcp1_hub().subscribe(*box);
        name = sv.online.names().claim(field.name, peer::make(box, wire::hcp1), claim_ec);
      }
      if (claim_ec) {
        subscription.reset();
        sv.log.info("username rejected ({}): {}", claim_ec.message(), field.name);
        nak();
        continue;
      }
      // The ack goes out now, alone in its write: the original client takes
      // one recv() for one packet, so the list that follows at the claim's
      // tick (presence.hpp) must come in a later write to be shown at once.
      box->push(frame(hcp1::ack_size(), [&](auto out) { hcp1::write_ack(out, name.name()); }), howdy::write_boundary::after);
      who = name.name();
      sv.log.info("username accepted: {}; sending the ack and the user list", who);
      deadline.expires_after(sv.config.idle_timeout);
      continue;
    }

    if (type == hcp1::type::message) {
      const auto m = hcp1::parse_message(f.bytes);
      if (!name) {
        sv.log.warn("{}: message from a connection without a name: not delivered", who);
        continue;
      }
      if (!m || m->sender != name.name()) {
        sv.log.warn("{}: message with sender '{}' is not that connection's name: not delivered", who,
                    m ? m->sender : std::string_view{});
        continue;
      }
      if (const auto verdict = check_message_rate(sv, counters, bucket, who);
          verdict == message_bucket::verdict::refuse) {
        if (bucket.first_of_flood()) notice("rate limited: you send too many messages; they are not delivered. Slow down.");
        continue;
      } else if (verdict == message_bucket::verdict::disconnect) {
        notice("disconnected: flooding (too many messages for too long)");
        break;
      }
      if (m->receiver == reserved_names[0]) {
        sv.messages.to_all(name.name(), box.get(), m->text);
      } else if (const auto out = sv.messages.whisper(name.name(), m->receiver, m->text, {}, wire::hcp1,
                                                      box->get_executor(),
                                                      [storing](std::error_code, std::uint64_t, bool) { storing->done(); });
                 !out.known) {
        sv.log.info("{}: invalid receiver name '{}': not delivered", who, m->receiver);
      } else if (out.stored) {
        ++storing->pending;
      }
      continue;
    }
    // Types 2-4 are the server's: discarded, as the original server does.
    sv.log.debug("{}: discarding a packet of type {}", who, static_cast<int>(type));
  }

  subscription.reset();
  if (name) {
    const std::string left = name.name();
    name.release();
    log_offline(sv, left);
  }
}

}  // namespace hcp
