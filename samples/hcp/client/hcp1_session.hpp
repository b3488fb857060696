// howdy-client: the session over HCP/1, the original protocol: a name
// proposal answered by ACK or NAK, the whole online list on every change,
// and messages to everyone or one user. No accounts, rooms or receipts.
#pragma once

#include "../wire/hcp1.hpp"
#include "../wire/hcp2.hpp"  // hcp2::default_max_frame: our server's packet limit for HCP/1 too
#include "session.hpp"

namespace hcp::client {

class hcp1_session final : public session {
 public:
  hcp1_session(tcp::socket socket, view& out, session_options options)
      : session(std::move(socket), out, std::move(options), wire::hcp1, one_packet_per_write()) {}

 private:
  // The original HCP/1 server takes one recv() as one packet: writing
  // packets one by one (never gathered into one write) gives it its best chance.
  static howdy::outbox_options one_packet_per_write() {
    howdy::outbox_options box_options;
    box_options.max_batch = 1;
    return box_options;
  }

  void greet() override { start_naming(); }

  asio::awaitable<void> exchange() override {
    co_await conn_.run(
        hcp1::stream_codec{}, options_.max_frame, [this](std::span<const std::byte> bytes) { on_packet(bytes); },
        [this](std::error_code ec, std::exception_ptr failure) { connection_ended(ec, failure); });
  }

  void send_name(const std::string& name) override {
    conn_.send(hcp1::proposal_size(), [&](auto out) { hcp1::write_proposal(out, name); });
  }

  // The commands only HCP/2 has.
  bool other_command(std::string_view word, std::string_view /*args*/) override {
    for (std::string_view only2 :
         {"/login", "/register", "/users", "/rooms", "/join", "/leave", "/part", "/switch", "/members", "/msg"})
      if (word == only2) return not_over_hcp1(word), true;
    return false;
  }

  void post_text(const std::string& to, const std::string& text, audience /*kind*/, const std::string& echo) override {
    // Our server's default packet limit; the original server reads 4096 bytes at a time.
    constexpr std::size_t max_packet = hcp2::default_max_frame;
    if (hcp1::message_size(text) > max_packet)
      return say("Not sent: the text is too long (at most " + std::to_string(max_packet - hcp1::message_header_size) +
                 " bytes)");
    conn_.send(hcp1::message_size(text), [&](auto out) { hcp1::write_message(out, my_name_, to, text); });
    say(echo);
  }

  void on_packet(std::span<const std::byte> bytes) {
    switch (static_cast<hcp1::type>(bytes[0])) {
      case hcp1::type::ack:
        if (auto p = hcp1::parse_name_packet(bytes); p && state_ == state::name_pending) name_accepted(p->name.name);
        break;
      case hcp1::type::nak:
        if (state_ == state::name_pending) name_refused("Name refused: not accepted by the server");
        break;
      case hcp1::type::update:
        // HCP/1 sends the whole list each time: joins and leaves are the
        // difference from the list before, as the original client shows them.
        if (auto names = hcp1::parse_update(bytes)) {
          if (!have_list()) {
            replace_users(*names);
            break;
          }
          const std::set<std::string> next(names->begin(), names->end());
          const auto before = users_;
          for (const auto& n : before)
            if (!next.contains(n)) user_left(n);
          for (const auto& n : next)
            if (!before.contains(n)) user_joined(n);
        }
        break;
      case hcp1::type::message:
        if (auto m = hcp1::parse_message(bytes)) {
          const auto text = hcp1::strip_padding(m->text);  // as the original client does
          if (m->receiver == "All")
            say(message_line(m->sender, text, std::string(m->sender) + " says: " + std::string(text)));
          else if (!my_name_.empty() && m->receiver == my_name_)
            say(std::string(m->sender) + " whispers to you: " + std::string(text));
        }
        break;
      case hcp1::type::proposal:
        break;  // a client's packet: ignored
    }
  }
};

}  // namespace hcp::client
