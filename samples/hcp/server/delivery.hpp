// server/delivery.hpp: getting a chat message to its recipients. Messages to
// all go through one hub per wire format (encoded once per format, whatever
// the number of recipients); a whisper goes to its recipient's outbox, and
// to an account it is stored first (history.hpp orders that against the
// recipient's logins). Receipts: a whisper's recipient confirms it, and its
// sender hears DELIVERED / NOT_DELIVERED (HCP/2) or SENT / ERROR 102 (text).
#pragma once

#include "config.hpp"
#include "frames.hpp"
#include "history.hpp"
#include "peer.hpp"
#include "presence.hpp"
#include "store.hpp"

#include <howdy.hpp>

#include <asio/bind_executor.hpp>
#include <asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hcp {

// A session's messages waiting for the store. Bounded: at the bound the
// session stops reading until commits catch up, so one client cannot fill the
// store's queue. Completions run on the session's executor.
struct store_budget {
  static constexpr std::size_t max_pending = 256;
  explicit store_budget(asio::any_io_executor ex) : wake(std::move(ex)) {}
  std::size_t pending = 0;
  asio::steady_timer wake;
  bool full() const { return pending >= max_pending; }
  void done() {
    if (--pending < max_pending) wake.cancel();
  }
};

class delivery {
 public:
  delivery(const server_config& config, spdlog::logger& log, chat_store& store, presence& online, history& ids,
           const std::vector<asio::any_io_executor>& executors)
      : config_(config), log_(log), store_(store), online_(online), ids_(ids), hcp2_hub_(executors), text_hub_(executors) {}

  delivery(const delivery&) = delete;
  delivery& operator=(const delivery&) = delete;

  // Messages to all, per format (HCP/1's is presence's: it carries the list too).
  howdy::broadcast_hub& hcp2_hub() { return hcp2_hub_; }
  howdy::broadcast_hub& text_hub() { return text_hub_; }

  // To everyone but the sender, through the hubs. Returns the message's id.
  std::uint64_t to_all(const std::string& sender, const howdy::outbox* sender_box, std::string_view text) {
    const auto id = ids_.next_id();
    const auto ts = now_us();
    hcp2_hub_.publish(frame(hcp2::message_size(sender, {}, text),
                            [&](auto out) { hcp2::write_message(out, id, ts, hcp2::target_kind::all, sender, {}, text); }),
                      sender_box);
    auto& hcp1_hub = online_.hcp1_hub();
    if (hcp1_hub.subscriber_count() > 0)
      hcp1_hub.publish(frame(hcp1::message_size(text), [&](auto out) { hcp1::write_message(out, sender, reserved_names[0], text); }),
                       sender_box);
    if (text_hub_.subscriber_count() > 0) text_hub_.publish(text_frame(text::forward(sender, text)), sender_box);
    log_.debug("forwarding a message from {} to all ({} bytes)", sender, text.size());
    return id;
  }

  struct whisper_outcome {
    bool known = false;           // the recipient is online or has an account
    bool stored = false;          // kept for the recipient (an account): `on_stored` will run
    bool awaits_receipt = false;  // the recipient's client will confirm (or it will be NOT_DELIVERED)
    std::uint64_t id = 0;
  };
  // After the commit of a stored whisper: (error, id, whether a receipt will follow).
  using stored_handler = std::function<void(std::error_code, std::uint64_t, bool)>;

  // A whisper. To an account it is stored first and reaches the recipient, if
  // online, once committed; so SENT (the sender's "stored") always precedes
  // DELIVERED. `on_stored` runs on `reply_ex`.
  whisper_outcome whisper(const std::string& sender, std::string_view target_as_sent, std::string_view text,
                          std::weak_ptr<howdy::outbox> reply_to, wire reply_format, asio::any_io_executor reply_ex,
                          stored_handler on_stored) {
    // Names are one by their key (names.hpp): a whisper to DAVE goes to dave, as dave.
    auto as_claimed = online_.names().name_of(target_as_sent);
    if (!as_claimed) as_claimed = online_.names().protected_name(target_as_sent);
    const std::string target = as_claimed ? std::move(*as_claimed) : std::string(target_as_sent);
    whisper_outcome out;
    std::shared_ptr<peer> recipient;
    {
      // The recipient's stripe orders this against its logins (history.hpp).
      history::sending sending(ids_, history::user_source(target));
      auto to = online_.names().find(target);
      // An offline account can only be reached through its history.
      const bool account = online_.is_account(target);
      if (!to && !(account && config_.store.history)) return out;
      out.known = true;
      out.id = sending.id();
      const auto ts = now_us();
      recipient = to ? *to : nullptr;
      out.awaits_receipt = recipient && recipient->format != wire::hcp1;  // HCP/1 clients cannot confirm
      auto deliver = [recipient, r = receipt{out.id, sender, std::string(target), std::move(reply_to), reply_format},
                      f = recipient ? encode_for(recipient->format, out.id, ts, hcp2::target_kind::user, sender, target,
                                                 text)
                                    : howdy::shared_buffer{},
                      limit = config_.max_pending_receipts]() mutable {
        if (!recipient) return;
        if (recipient->format != wire::hcp1) recipient->expect(std::move(r), limit);
        recipient->box->post(std::move(f));
      };
      if (account && config_.store.history) {
        if (recipient) recipient->expect_arrival(out.id);
        store_.async_append(
            stored_message{out.id, ts, hcp2::target_kind::user, sender, std::string(target), std::string(text)},
            asio::bind_executor(reply_ex, [deliver = std::move(deliver), on_stored = std::move(on_stored), id = out.id,
                                           recipient, awaits = out.awaits_receipt](std::error_code ec) mutable {
              if (!ec) deliver();
              if (recipient) recipient->arrived(id);
              on_stored(ec, id, awaits);
            }));
        out.stored = true;
      } else {
        deliver();
      }
    }
    log_.debug("forwarding a message from {} to {} ({} bytes{})", sender, target, text.size(),
               recipient ? "" : ", stored for later");
    return out;
  }

  // The recipient confirmed (or can no longer confirm) a whisper: tell its sender.
  void report(const receipt& r, bool delivered) {
    auto box = r.reply_to.lock();
    if (!box) return;
    if (r.format == wire::text) {
      box->post(text_frame(delivered ? text::sent(r.recipient) : text::error(102)));
    } else if (delivered) {
      box->post(frame(hcp2::delivered_size(r.recipient), [&](auto out) { hcp2::write_delivered(out, r.id, r.recipient); }));
    } else {
      box->post(frame(hcp2::not_delivered_size(r.recipient), [&](auto out) {
        hcp2::write_not_delivered(out, r.id, hcp2::errc::recipient_left, r.recipient);
      }));
    }
  }

  // A session that ends with whispers unconfirmed: a guest will never confirm
  // them; an account's are stored and come back in its history.
  void end_receipts(peer& p) {
    for (auto& r : p.take_unconfirmed())
      if (!p.registered) report(r, false);
  }

 private:
  const server_config& config_;
  spdlog::logger& log_;
  chat_store& store_;
  presence& online_;
  history& ids_;
  howdy::broadcast_hub hcp2_hub_;  // messages to everyone
  howdy::broadcast_hub text_hub_;  // seed-002 clients' receiving connections
};

}  // namespace hcp
