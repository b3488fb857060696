// Unit tests for the HCP/2 message codecs (samples/hcp/wire/hcp2*.hpp): hex
// vectors of every frame, round trips, malformed and unknown frames, the
// error codes.

#include <boost/test/unit_test.hpp>

#include "hcp_wire_test_util.hpp"

#include "hcp/wire/common.hpp"
#include "hcp/wire/hcp2.hpp"

#include <array>
#include <cstdint>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace hcp_wire_test;
using namespace std::string_literals;
using namespace std::string_view_literals;

}  // namespace

BOOST_AUTO_TEST_SUITE(hcp2_wire)

// ---------------------------------------------------------------------------
// HCP/2
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hcp2_hex_vectors) {
  namespace h2 = hcp::hcp2;
  BOOST_TEST(h2::encode_hello() == from_hex("00000009 01 484350 02 00000000"));
  BOOST_TEST(h2::encode_name("Jon") == from_hex("00000005 02 03 4a6f6e"));
  BOOST_TEST(h2::encode_send(8, h2::target_kind::user, "Amy", "psst") ==
             from_hex("0000000e 03 00000008 01 03 416d79 70737374"));
  BOOST_TEST(h2::encode_who() == from_hex("00000001 05"));
  BOOST_TEST(h2::encode_welcome(65536, "howdy") == from_hex("0000000b 81 02 00010000 686f776479"));
  BOOST_TEST(h2::encode_users({"Jon", "Amy"}) == from_hex("0000000b 84 0002 03 4a6f6e 03 416d79"));
  BOOST_TEST(h2::encode_message(42, 1700000000000000ull, h2::target_kind::all, "Jon", "", "Hi") ==
             from_hex("00000019 87 000000000000002a 00060a24181e4000 00 03 4a6f6e 00 4869"));
  BOOST_TEST(h2::encode_error(h2::errc::unknown_recipient, 8, "no such user") ==
             from_hex("00000013 8f 0066 00000008 6e6f20737563682075736572"));
  BOOST_TEST(h2::encode_error(h2::errc::unknown_recipient, 8, "no such user") ==
             from_hex("00000013 8f 0066 00000008") + "no such user");
}

BOOST_AUTO_TEST_CASE(hcp2_round_trip_client_frames) {
  namespace h2 = hcp::hcp2;
  {
    auto const f = h2::encode_hello();
    auto const& v = get_frame<h2::hello>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.version == 2);
    BOOST_TEST(v.flags == 0u);
    auto const g = h2::encode_hello(3, 0xA1B2C3D4);
    auto const& w = get_frame<h2::hello>(h2::parse(as_bytes(g)));
    BOOST_TEST(w.version == 3);  // the server, not the parser, refuses it
    BOOST_TEST(w.flags == 0xA1B2C3D4u);
  }
  {
    auto const f = h2::encode_name("Jos\xC3\xA9");
    BOOST_TEST(get_frame<h2::name>(h2::parse(as_bytes(f))).value == "Jos\xC3\xA9");
    auto const e = h2::encode_name("");
    BOOST_TEST(get_frame<h2::name>(h2::parse(as_bytes(e))).value.empty());
    auto const m = h2::encode_name(std::string(64, 'm'));
    BOOST_TEST(get_frame<h2::name>(h2::parse(as_bytes(m))).value == std::string(64, 'm'));
  }
  {
    auto const f = h2::encode_send(0xDEADBEEF, h2::target_kind::user, "Amy", "hi \0 there"sv);
    auto const& v = get_frame<h2::send>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.client_ref == 0xDEADBEEFu);
    BOOST_TEST((v.kind == h2::target_kind::user));
    BOOST_TEST(v.target == "Amy");
    BOOST_TEST(v.text == "hi \0 there"sv);
    auto const a = h2::encode_send(1, h2::target_kind::all, "", "");
    auto const& w = get_frame<h2::send>(h2::parse(as_bytes(a)));
    BOOST_TEST((w.kind == h2::target_kind::all));
    BOOST_TEST(w.target.empty());
    BOOST_TEST(w.text.empty());
  }
  {
    auto const f = h2::encode_ping(0x0102030405060708ull);
    BOOST_TEST(get_frame<h2::ping>(h2::parse(as_bytes(f))).token == 0x0102030405060708ull);
  }
  {
    auto const f = h2::encode_who();
    get_frame<h2::who>(h2::parse(as_bytes(f)));
    auto const b = h2::encode_bye();
    get_frame<h2::bye>(h2::parse(as_bytes(b)));
  }
}

BOOST_AUTO_TEST_CASE(hcp2_round_trip_server_frames) {
  namespace h2 = hcp::hcp2;
  {
    auto const f = h2::encode_welcome(h2::default_max_frame, "howdy 1.0");
    auto const& v = get_frame<h2::welcome>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.version == 2);
    BOOST_TEST(v.max_frame == 65536u);
    BOOST_TEST(v.server_info == "howdy 1.0");
  }
  {
    auto const f = h2::encode_name_ok("Jon");
    BOOST_TEST(get_frame<h2::name_ok>(h2::parse(as_bytes(f))).value == "Jon");
    auto const j = h2::encode_joined("Amy");
    BOOST_TEST(get_frame<h2::joined>(h2::parse(as_bytes(j))).value == "Amy");
    auto const l = h2::encode_left("Amy");
    BOOST_TEST(get_frame<h2::left>(h2::parse(as_bytes(l))).value == "Amy");
  }
  {
    auto const f = h2::encode_name_refused(h2::errc::name_reserved, "All", "reserved");
    auto const& v = get_frame<h2::name_refused>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.code == 105);
    BOOST_TEST(v.value == "All");
    BOOST_TEST(v.reason == "reserved");
  }
  {
    std::vector<std::string> names{"Jon", "", std::string(64, 'x'), "Jos\xC3\xA9"};
    auto const f = h2::encode_users(names);
    BOOST_TEST(f.size() == h2::users_size(names));
    auto const& v = get_frame<h2::users>(h2::parse(as_bytes(f)));
    BOOST_TEST_REQUIRE(v.names.size() == names.size());
    for (std::size_t i = 0; i < names.size(); ++i) BOOST_TEST(v.names[i] == names[i]);
    auto const e = h2::encode_users(std::vector<std::string_view>{});
    BOOST_TEST(e == from_hex("00000003 84 0000"));
    BOOST_TEST(get_frame<h2::users>(h2::parse(as_bytes(e))).names.empty());
  }
  {
    auto const f =
        h2::encode_message(~0ull, 1700000000123456ull, h2::target_kind::user, "Jon", "Amy", "psst \xF0\x9F\xA4\xA0");
    auto const& v = get_frame<h2::message>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.id == ~0ull);
    BOOST_TEST(v.timestamp_us == 1700000000123456ull);
    BOOST_TEST((v.kind == h2::target_kind::user));
    BOOST_TEST(v.sender == "Jon");
    BOOST_TEST(v.target == "Amy");
    BOOST_TEST(v.text == "psst \xF0\x9F\xA4\xA0");
  }
  {
    auto const f = h2::encode_sent(7, 42);
    auto const& v = get_frame<h2::sent>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.client_ref == 7u);
    BOOST_TEST(v.id == 42u);
  }
  {
    auto const f = h2::encode_dropped(12345);
    BOOST_TEST(get_frame<h2::dropped>(h2::parse(as_bytes(f))).count == 12345u);
    auto const p = h2::encode_pong(99);
    BOOST_TEST(get_frame<h2::pong>(h2::parse(as_bytes(p))).token == 99u);
  }
  {
    auto const f = h2::encode_error(h2::errc::not_registered, 0, "name first");
    auto const& v = get_frame<h2::error>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.code == 101);
    BOOST_TEST(v.client_ref == 0u);
    BOOST_TEST(v.text == "name first");
  }
}

BOOST_AUTO_TEST_CASE(hcp2_write_into_buffer) {
  namespace h2 = hcp::hcp2;
  auto const n = h2::message_size("Jon", "", "Hi");
  std::vector<std::byte> buf(n + 1, std::byte{0xEE});
  BOOST_TEST(
      h2::write_message(std::span(buf).first(n), 42, 1700000000000000ull, h2::target_kind::all, "Jon", "", "Hi") == n);
  BOOST_TEST((buf[n] == std::byte{0xEE}));
  auto const s = std::string_view(reinterpret_cast<char const*>(buf.data()), n);
  BOOST_TEST(s == h2::encode_message(42, 1700000000000000ull, h2::target_kind::all, "Jon", "", "Hi"));

  BOOST_CHECK_THROW(h2::write_message(std::span(buf).first(n - 1), 42, 0, h2::target_kind::all, "Jon", "", "Hi"),
                    std::length_error);
  BOOST_CHECK_THROW(h2::encode_name(std::string(65, 'a')), std::length_error);
  BOOST_CHECK_THROW(h2::encode_send(1, h2::target_kind::user, std::string(65, 'a'), "x"), std::length_error);
  BOOST_CHECK_THROW(h2::encode_message(1, 0, h2::target_kind::all, std::string(65, 'a'), "", "x"), std::length_error);
  BOOST_CHECK_THROW(h2::encode_users({"ok", std::string(65, 'a')}), std::length_error);
  BOOST_CHECK_THROW(h2::encode_name_refused(h2::errc::name_taken, std::string(65, 'a'), "r"), std::length_error);
  std::vector<std::string> many(65536, "a");
  BOOST_CHECK_THROW(h2::encode_users(many), std::length_error);
}

BOOST_AUTO_TEST_CASE(hcp2_truncated_frames_rejected) {
  namespace h2 = hcp::hcp2;
  struct sample {
    std::string frame;
    std::size_t text;  // bytes of trailing text (cuts inside it stay valid)
  };
  std::vector<sample> const samples{
      {h2::encode_hello(), 0},
      {h2::encode_name("Jon"), 0},
      {h2::encode_send(1, h2::target_kind::user, "Amy", "psst"), 4},
      {h2::encode_ping(5), 0},
      {h2::encode_welcome(65536, "hi"), 2},
      {h2::encode_name_ok("Jon"), 0},
      {h2::encode_name_refused(h2::errc::name_taken, "Jon", "taken"), 5},
      {h2::encode_users({"Jon", "Amy"}), 0},
      {h2::encode_joined("Jon"), 0},
      {h2::encode_left("Jon"), 0},
      {h2::encode_message(1, 2, h2::target_kind::user, "Jon", "Amy", "hey"), 3},
      {h2::encode_sent(1, 2), 0},
      {h2::encode_dropped(3), 0},
      {h2::encode_pong(4), 0},
      {h2::encode_error(h2::errc::idle_timeout, 0, "bye"), 3},
      {h2::encode_register("Amy", "s3cret"), 6},
      {h2::encode_login("Amy", "pw"), 2},
      {h2::encode_received(42), 0},
      {h2::encode_join("news"), 0},
      {h2::encode_leave("news"), 0},
      {h2::encode_members_request("news"), 0},
      {h2::encode_history_request(7), 0},
      {h2::encode_roster(std::vector<h2::roster_entry>{{3, "Amy"}, {1, "Jon"}}), 0},
      {h2::encode_delivered(42, "Amy"), 0},
      {h2::encode_not_delivered(42, h2::errc::recipient_left, "Amy"), 0},
      {h2::encode_room_joined("news", "Amy"), 0},
      {h2::encode_room_left("news", "Amy"), 0},
      {h2::encode_room_list(std::vector<h2::room_entry>{{"news", 3}, {"tea", 1}}), 0},
      {h2::encode_room_members("news", std::vector<h2::roster_entry>{{3, "Amy"}, {2, "Bob"}}), 0},
      {h2::encode_history_end(57, true), 0},
  };
  for (auto const& s : samples) {
    auto const type = static_cast<std::uint8_t>(s.frame[4]);
    for (std::size_t cut = 0; cut < s.frame.size(); ++cut) {
      auto const prefix = s.frame.substr(0, cut);
      // Length field no longer matches the bytes given.
      auto const e = parse_fails(prefix);
      BOOST_TEST((e.code == h2::errc::malformed_frame), "type " << int(type) << " cut " << cut);
      // Length field fixed up: only the payload is short.
      if (cut < h2::header_size) continue;
      auto const f = h2::parse(as_bytes(with_length(prefix)));
      bool const in_text = cut >= s.frame.size() - s.text;
      BOOST_TEST(!std::holds_alternative<h2::parse_error>(f) == in_text, "type " << int(type) << " cut " << cut);
      if (!in_text) BOOST_TEST((std::get<h2::parse_error>(f).code == h2::errc::malformed_frame));
    }
    // Trailing bytes: only frames ending in text accept them.
    auto const longer = with_length(s.frame + "!");
    BOOST_TEST(std::holds_alternative<h2::parse_error>(h2::parse(as_bytes(longer))) == (s.text == 0),
               "type " << int(type) << " + trailing byte");
  }
  // WHO, BYE, ROSTER_REQ and ROOMS carry nothing.
  for (auto t : {"05"sv, "06"sv, "12"sv, "32"sv}) {
    BOOST_TEST((parse_fails(from_hex("00000002"s + std::string(t) + "00")).code == h2::errc::malformed_frame));
    BOOST_TEST(!std::holds_alternative<h2::parse_error>(h2::parse(as_bytes(from_hex("00000001"s + std::string(t))))));
  }
}

BOOST_AUTO_TEST_CASE(hcp2_bad_headers_rejected) {
  namespace h2 = hcp::hcp2;
  BOOST_TEST(parse_fails("").type == 0);
  BOOST_TEST((parse_fails(from_hex("00000000")).code == h2::errc::malformed_frame));  // length 0
  BOOST_TEST((parse_fails(from_hex("00000000 05")).code == h2::errc::malformed_frame));
  BOOST_TEST((parse_fails(from_hex("00000002 05")).code == h2::errc::malformed_frame));     // too long
  BOOST_TEST((parse_fails(from_hex("00000001 05 00")).code == h2::errc::malformed_frame));  // short
  BOOST_TEST((parse_fails(from_hex("ffffffff 05")).code == h2::errc::malformed_frame));
}

BOOST_AUTO_TEST_CASE(hcp2_bad_magic_rejected) {
  namespace h2 = hcp::hcp2;
  for (auto m : {"HCQ"sv, "hcp"sv, "\0\0\0"sv, "XCP"sv}) {
    auto f = h2::encode_hello();
    f.replace(5, 3, m);
    auto const e = parse_fails(f);
    BOOST_TEST((e.code == h2::errc::malformed_frame));
    BOOST_TEST(e.type == 0x01);
  }
}

BOOST_AUTO_TEST_CASE(hcp2_oversized_name_length_rejected) {
  namespace h2 = hcp::hcp2;
  // A name length byte of 65..255, with enough bytes behind it.
  for (unsigned len : {65u, 100u, 255u}) {
    auto const body = std::string(1, char(len)) + std::string(len, 'a');
    BOOST_TEST((parse_fails(with_length("\0\0\0\0\x02"s + body)).code == h2::errc::malformed_frame));
    BOOST_TEST((parse_fails(with_length("\0\0\0\0\x85"s + body)).code == h2::errc::malformed_frame));
    BOOST_TEST((parse_fails(with_length("\0\0\0\0\x84\x00\x01"s + body)).code == h2::errc::malformed_frame));
    BOOST_TEST(
        (parse_fails(with_length("\0\0\0\0\x03\0\0\0\x01\x01"s + body + "text")).code == h2::errc::malformed_frame));
    auto const msg_head = "\0\0\0\0\x87"s + nuls(16) + "\x00"s;
    BOOST_TEST((parse_fails(with_length(msg_head + body + "\0text"s)).code == h2::errc::malformed_frame));  // sender
    BOOST_TEST(
        (parse_fails(with_length(msg_head + "\x03Jon"s + body + "text")).code == h2::errc::malformed_frame));  // target
  }
  // Exactly 64 is fine.
  auto const ok = with_length("\0\0\0\0\x02\x40"s + std::string(64, 'a'));
  BOOST_TEST(get_frame<h2::name>(h2::parse(as_bytes(ok))).value.size() == 64u);
}

BOOST_AUTO_TEST_CASE(hcp2_oversized_names_in_new_frames_rejected) {
  namespace h2 = hcp::hcp2;
  auto const long_name = "\x41"s + std::string(65, 'a');  // length byte 65
  auto const h = [](char t) { return "\0\0\0\0"s + t; };
  std::vector<std::string> const frames{
      h('\x10') + long_name + "pw",                                // REGISTER name
      h('\x11') + long_name + "pw",                                // LOGIN name
      h('\x30') + long_name,                                       // JOIN
      h('\x31') + long_name,                                       // LEAVE
      h('\x33') + long_name,                                       // MEMBERS
      h('\x91') + "\x00\x01\x01"s + long_name,                     // ROSTER entry
      h('\xA0') + nuls(8) + long_name,                             // DELIVERED
      h('\xA1') + nuls(8) + "\x00\x7a"s + long_name,               // NOT_DELIVERED
      h('\xB0') + long_name + "\x03"s + "Amy",                     // ROOM_JOINED room
      h('\xB0') + "\x04"s + "news" + long_name,                    // ROOM_JOINED user
      h('\xB1') + "\x04"s + "news" + long_name,                    // ROOM_LEFT user
      h('\xB2') + "\x00\x01"s + long_name + nuls(4),               // ROOM_LIST room
      h('\xB3') + long_name + "\x00\x00"s,                         // ROOM_MEMBERS room
      h('\xB3') + "\x04"s + "news" + "\x00\x01\x01"s + long_name,  // ROOM_MEMBERS member
  };
  for (auto const& f : frames) {
    auto const e = parse_fails(with_length(f));
    BOOST_TEST((e.code == h2::errc::malformed_frame), "type " << int(static_cast<std::uint8_t>(f[4])));
    BOOST_TEST(e.type == static_cast<std::uint8_t>(f[4]));
  }
  // Encoders refuse names over 64 bytes.
  auto const n65 = std::string(65, 'a');
  BOOST_CHECK_THROW(h2::encode_register(n65, "pw"), std::length_error);
  BOOST_CHECK_THROW(h2::encode_login(n65, "pw"), std::length_error);
  BOOST_CHECK_THROW(h2::encode_join(n65), std::length_error);
  BOOST_CHECK_THROW(h2::encode_leave(n65), std::length_error);
  BOOST_CHECK_THROW(h2::encode_members_request(n65), std::length_error);
  BOOST_CHECK_THROW(h2::encode_roster(std::vector<h2::roster_entry>{{1, n65}}), std::length_error);
  BOOST_CHECK_THROW(h2::encode_delivered(1, n65), std::length_error);
  BOOST_CHECK_THROW(h2::encode_not_delivered(1, h2::errc::recipient_left, n65), std::length_error);
  BOOST_CHECK_THROW(h2::encode_room_joined(n65, "Amy"), std::length_error);
  BOOST_CHECK_THROW(h2::encode_room_left("news", n65), std::length_error);
  BOOST_CHECK_THROW(h2::encode_room_list(std::vector<h2::room_entry>{{n65, 1}}), std::length_error);
  BOOST_CHECK_THROW(h2::encode_room_members(n65, {}), std::length_error);
  BOOST_CHECK_THROW(h2::encode_room_members("news", std::vector<h2::roster_entry>{{1, n65}}), std::length_error);
  std::vector<h2::roster_entry> many(65536, h2::roster_entry{1, "a"});
  BOOST_CHECK_THROW(h2::encode_roster(many), std::length_error);
  BOOST_CHECK_THROW(h2::encode_room_members("news", many), std::length_error);
  std::vector<h2::room_entry> many_rooms(65536, h2::room_entry{"r", 1});
  BOOST_CHECK_THROW(h2::encode_room_list(many_rooms), std::length_error);
}

BOOST_AUTO_TEST_CASE(hcp2_list_count_bounds) {
  namespace h2 = hcp::hcp2;
  // ROSTER: an entry takes at least 2 bytes (status, length byte).
  BOOST_TEST((parse_fails(from_hex("00000003 91 ffff")).code == h2::errc::malformed_frame));
  BOOST_TEST((parse_fails(from_hex("00000006 91 0002 01 00 01")).code == h2::errc::malformed_frame));
  auto const two = from_hex("00000007 91 0002 01 00 02 00");
  auto const r = get_frame<h2::roster>(h2::parse(as_bytes(two)));
  BOOST_TEST_REQUIRE(r.entries.size() == 2u);
  BOOST_TEST(r.entries[1].status == 2);
  BOOST_TEST(r.entries[1].name.empty());
  // ROOM_LIST: at least 5 bytes per entry.
  BOOST_TEST((parse_fails(from_hex("00000003 b2 ffff")).code == h2::errc::malformed_frame));
  BOOST_TEST((parse_fails(from_hex("00000008 b2 0002 00 00000001")).code == h2::errc::malformed_frame));
  auto const one = from_hex("00000008 b2 0001 00 00000009");
  BOOST_TEST(get_frame<h2::room_list>(h2::parse(as_bytes(one))).rooms.at(0).members == 9u);
  // ROOM_MEMBERS: same entries as ROSTER, after the room.
  BOOST_TEST((parse_fails(from_hex("00000005 b3 01 61 ffff")).code == h2::errc::malformed_frame));
  auto const none = from_hex("00000005 b3 01 61 0000");
  auto const m = get_frame<h2::room_members>(h2::parse(as_bytes(none)));
  BOOST_TEST(m.room == "a");
  BOOST_TEST(m.members.empty());
}

BOOST_AUTO_TEST_CASE(hcp2_users_count_bounds) {
  namespace h2 = hcp::hcp2;
  // A count the frame cannot hold is refused (no huge reservation either).
  BOOST_TEST((parse_fails(from_hex("00000003 84 ffff")).code == h2::errc::malformed_frame));
  BOOST_TEST((parse_fails(from_hex("00000007 84 0003 00 00")).code == h2::errc::malformed_frame));
  BOOST_TEST((parse_fails(from_hex("00000006 84 0001 00 00")).code == h2::errc::malformed_frame));
  auto const three_empty = from_hex("00000006 84 0003 00 00 00");
  BOOST_TEST(get_frame<h2::users>(h2::parse(as_bytes(three_empty))).names.size() == 3u);
}

BOOST_AUTO_TEST_CASE(hcp2_unknown_frame_types) {
  namespace h2 = hcp::hcp2;
  for (unsigned t : {0x00u, 0x07u, 0x13u, 0x21u, 0x34u, 0x41u, 0x7Fu, 0x80u, 0x8Du, 0x90u, 0x93u, 0xA2u, 0xB6u,
                     0xC1u, 0xFFu}) {
    auto const f = with_length("\0\0\0\0"s + char(t) + "future payload");
    auto const e = parse_fails(f);
    BOOST_TEST((e.code == h2::errc::unknown_frame_type), "type " << t);
    BOOST_TEST(e.type == t);
  }
  BOOST_TEST(h2::is_client_frame_type(0x06));
  BOOST_TEST(!h2::is_client_frame_type(0x81));
  BOOST_TEST(h2::is_server_frame_type(0x8F));
  BOOST_TEST(!h2::is_server_frame_type(0x7F));
}

BOOST_AUTO_TEST_CASE(hcp2_error_codes) {
  namespace h2 = hcp::hcp2;
  BOOST_TEST(static_cast<int>(h2::errc::malformed_username) == 100);
  BOOST_TEST(static_cast<int>(h2::errc::unknown_frame_type) == 108);
  BOOST_TEST(static_cast<int>(h2::errc::already_named) == 113);
  std::set<std::string_view> texts;
  for (int c = 100; c <= 127; ++c) {
    auto const d = h2::describe(static_cast<h2::errc>(c));
    BOOST_TEST(d != "unknown error", "code " << c);
    BOOST_TEST(!d.empty());
    BOOST_TEST(texts.insert(d).second, "code " << c << " text not distinct");
  }
  BOOST_TEST(h2::describe(static_cast<h2::errc>(128)) == "unknown error");
  BOOST_TEST(static_cast<int>(h2::errc::wrong_password) == 114);
  BOOST_TEST(static_cast<int>(h2::errc::room_limit) == 125);
  BOOST_TEST(static_cast<int>(h2::errc::signed_in_elsewhere) == 126);
  BOOST_TEST(static_cast<int>(h2::errc::rate_limited) == 127);
  BOOST_TEST(h2::describe(h2::errc::wrong_password) == "wrong password");
  BOOST_TEST(h2::describe(h2::errc::unknown_account) == "no account with that name");
  BOOST_TEST(h2::describe(h2::errc::too_many_attempts) == "too many attempts; wait and try again");
  BOOST_TEST(h2::describe(h2::errc::name_registered) == "that name belongs to a registered user");
  BOOST_TEST(h2::describe(h2::errc::auth_required) == "this server requires an account: REGISTER or LOGIN");
  BOOST_TEST(h2::describe(h2::errc::auth_disabled) == "accounts are disabled on this server");
  BOOST_TEST(h2::describe(h2::errc::not_in_room) == "not a member of that room");
  BOOST_TEST(h2::describe(h2::errc::invalid_room) == "invalid room name");
  BOOST_TEST(h2::describe(h2::errc::recipient_left) == "not delivered: the recipient left before confirming");
  BOOST_TEST(h2::describe(h2::errc::storage_failed) == "could not store the message; not sent");
  BOOST_TEST(h2::describe(h2::errc::invalid_password) == "password too short or too long");
  BOOST_TEST(h2::describe(h2::errc::signed_in_elsewhere) == "that account is signed in elsewhere");
  BOOST_TEST(h2::describe(h2::errc::room_limit) == "too many rooms");
  BOOST_TEST(h2::is_valid_password("x"));
  BOOST_TEST(h2::is_valid_password(std::string(1024, 'x')));
  BOOST_TEST(!h2::is_valid_password(""));
  BOOST_TEST(!h2::is_valid_password(std::string(1025, 'x')));
  BOOST_TEST(h2::describe(static_cast<h2::errc>(99)) == "unknown error");
  BOOST_TEST(h2::describe(h2::errc::name_taken) == "name taken");

  std::error_code ec = h2::errc::frame_too_large;
  BOOST_TEST(ec.value() == 107);
  BOOST_TEST(ec.category().name() == "hcp2"s);
  BOOST_TEST(ec.message() == "frame too large");
  BOOST_TEST((ec == h2::errc::frame_too_large));
}

BOOST_AUTO_TEST_CASE(hcp2_new_frames_hex_vectors) {
  namespace h2 = hcp::hcp2;
  // Client frames.
  BOOST_TEST(h2::encode_register("Amy", "s3cret") == from_hex("0000000b 10 03 416d79 733363726574"));
  BOOST_TEST(h2::encode_login("Amy", "s3cret") == from_hex("0000000b 11 03 416d79") + "s3cret");
  BOOST_TEST(h2::encode_roster_request() == from_hex("00000001 12"));
  BOOST_TEST(h2::encode_received(42) == from_hex("00000009 20 000000000000002a"));
  BOOST_TEST(h2::encode_join("news") == from_hex("00000006 30 04 6e657773"));
  BOOST_TEST(h2::encode_leave("news") == from_hex("00000006 31 04") + "news");
  BOOST_TEST(h2::encode_rooms_request() == from_hex("00000001 32"));
  BOOST_TEST(h2::encode_members_request("news") == from_hex("00000006 33 04") + "news");
  BOOST_TEST(h2::encode_history_request(41) == from_hex("00000009 40 0000000000000029"));
  BOOST_TEST(h2::encode_send(9, h2::target_kind::room, "news", "Hi") ==
             from_hex("0000000d 03 00000009 02 04 6e657773 4869"));
  // Server frames.
  std::vector<h2::roster_entry> const roster{
      {h2::status_online | h2::status_registered, "Amy"}, {h2::status_registered, "Bob"}, {h2::status_online, "Jon"}};
  BOOST_TEST(h2::encode_roster(roster) == from_hex("00000012 91 0003 03 03 416d79 02 03 426f62 01 03 4a6f6e"));
  BOOST_TEST(h2::roster_size(roster) == 22u);
  BOOST_TEST(h2::encode_delivered(42, "Amy") == from_hex("0000000d a0 000000000000002a 03 416d79"));
  BOOST_TEST(h2::encode_not_delivered(42, h2::errc::recipient_left, "Amy") ==
             from_hex("0000000f a1 000000000000002a 007a 03 416d79"));
  BOOST_TEST(h2::encode_room_joined("news", "Amy") == from_hex("0000000a b0 04 6e657773 03 416d79"));
  BOOST_TEST(h2::encode_room_left("news", "Amy") == from_hex("0000000a b1 04 6e657773 03 416d79"));
  std::vector<h2::room_entry> const rooms{{"news", 3}, {"tea", 1}};
  BOOST_TEST(h2::encode_room_list(rooms) == from_hex("00000014 b2 0002 04 6e657773 00000003 03 746561 00000001"));
  BOOST_TEST(h2::encode_room_list(std::vector<h2::room_entry>{}) == from_hex("00000003 b2 0000"));
  std::vector<h2::roster_entry> const members{{3, "Amy"}, {2, "Bob"}};
  BOOST_TEST(h2::encode_room_members("news", members) ==
             from_hex("00000012 b3 04 6e657773 0002 03 03 416d79 02 03 426f62"));
  BOOST_TEST(h2::encode_history_end(57, true) == from_hex("0000000a c0 0000000000000039 01"));
  BOOST_TEST(h2::encode_history_end(0, false) == from_hex("0000000a c0 0000000000000000 00"));
  BOOST_TEST(h2::encode_message(43, 1700000000000000ull, h2::target_kind::room, "Jon", "news", "Hi") ==
             from_hex("0000001d 87 000000000000002b 00060a24181e4000 02 03 4a6f6e 04 6e657773 4869"));
}

BOOST_AUTO_TEST_CASE(hcp2_round_trip_new_client_frames) {
  namespace h2 = hcp::hcp2;
  {
    auto const f = h2::encode_register("Jos\xC3\xA9", "pass word \0 with nul"sv);
    auto const v = get_frame<h2::register_account>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.name == "Jos\xC3\xA9");
    BOOST_TEST(v.password == "pass word \0 with nul"sv);
    BOOST_TEST((v.password.data() + v.password.size() == f.data() + f.size()));  // a view into the frame
  }
  {
    auto const f = h2::encode_login(std::string(64, 'n'), std::string(1024, 'p'));
    auto const v = get_frame<h2::login>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.name == std::string(64, 'n'));
    BOOST_TEST(v.password == std::string(1024, 'p'));
    // Length rules are the server's (NAME_REFUSED 124): parse accepts any password.
    auto const e = h2::encode_login("Amy", "");
    BOOST_TEST(get_frame<h2::login>(h2::parse(as_bytes(e))).password.empty());
    auto const big = h2::encode_register("Amy", std::string(2000, 'p'));
    BOOST_TEST(get_frame<h2::register_account>(h2::parse(as_bytes(big))).password.size() == 2000u);
  }
  {
    auto const f = h2::encode_roster_request();
    get_frame<h2::roster_request>(h2::parse(as_bytes(f)));
    auto const r = h2::encode_rooms_request();
    get_frame<h2::rooms_request>(h2::parse(as_bytes(r)));
  }
  {
    auto const f = h2::encode_received(~0ull);
    BOOST_TEST(get_frame<h2::received>(h2::parse(as_bytes(f))).id == ~0ull);
    auto const hq = h2::encode_history_request(0x0102030405060708ull);
    BOOST_TEST(get_frame<h2::history_request>(h2::parse(as_bytes(hq))).after_id == 0x0102030405060708ull);
  }
  {
    auto const j = h2::encode_join("caf\xC3\xA9");
    BOOST_TEST(get_frame<h2::join>(h2::parse(as_bytes(j))).room == "caf\xC3\xA9");
    auto const l = h2::encode_leave(std::string(64, 'r'));
    BOOST_TEST(get_frame<h2::leave>(h2::parse(as_bytes(l))).room == std::string(64, 'r'));
    auto const m = h2::encode_members_request("news");
    BOOST_TEST(get_frame<h2::members_request>(h2::parse(as_bytes(m))).room == "news");
  }
  {
    auto const f = h2::encode_send(5, h2::target_kind::room, "news", "hello room");
    auto const v = get_frame<h2::send>(h2::parse(as_bytes(f)));
    BOOST_TEST((v.kind == h2::target_kind::room));
    BOOST_TEST(v.target == "news");
    BOOST_TEST(v.text == "hello room");
  }
}

BOOST_AUTO_TEST_CASE(hcp2_round_trip_new_server_frames) {
  namespace h2 = hcp::hcp2;
  {
    std::vector<h2::roster_entry> const in{{3, "Amy"}, {0, ""}, {0xFF, std::string_view("Jos\xC3\xA9")}, {2, "Bob"}};
    auto const f = h2::encode_roster(in);
    BOOST_TEST(f.size() == h2::roster_size(in));
    auto const v = get_frame<h2::roster>(h2::parse(as_bytes(f)));
    BOOST_TEST_REQUIRE(v.entries.size() == in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
      BOOST_TEST(v.entries[i].status == in[i].status);
      BOOST_TEST(v.entries[i].name == in[i].name);
    }
    auto const e = h2::encode_roster({});
    BOOST_TEST(e == from_hex("00000003 91 0000"));
    BOOST_TEST(get_frame<h2::roster>(h2::parse(as_bytes(e))).entries.empty());
  }
  {
    auto const f = h2::encode_delivered(7, "Amy");
    auto const v = get_frame<h2::delivered>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.id == 7u);
    BOOST_TEST(v.recipient == "Amy");
    auto const n = h2::encode_not_delivered(8, h2::errc::recipient_left, "Bob");
    auto const w = get_frame<h2::not_delivered>(h2::parse(as_bytes(n)));
    BOOST_TEST(w.id == 8u);
    BOOST_TEST(w.code == 122);
    BOOST_TEST(w.recipient == "Bob");
  }
  {
    auto const j = h2::encode_room_joined("news", "Amy");
    auto const v = get_frame<h2::room_joined>(h2::parse(as_bytes(j)));
    BOOST_TEST(v.room == "news");
    BOOST_TEST(v.user == "Amy");
    auto const l = h2::encode_room_left(std::string(64, 'r'), std::string(64, 'u'));
    auto const w = get_frame<h2::room_left>(h2::parse(as_bytes(l)));
    BOOST_TEST(w.room == std::string(64, 'r'));
    BOOST_TEST(w.user == std::string(64, 'u'));
  }
  {
    std::vector<h2::room_entry> const in{{"news", 3}, {"tea", 0xFFFFFFFFu}, {std::string_view("caf\xC3\xA9"), 1}};
    auto const f = h2::encode_room_list(in);
    BOOST_TEST(f.size() == h2::room_list_size(in));
    auto const v = get_frame<h2::room_list>(h2::parse(as_bytes(f)));
    BOOST_TEST_REQUIRE(v.rooms.size() == in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
      BOOST_TEST(v.rooms[i].room == in[i].room);
      BOOST_TEST(v.rooms[i].members == in[i].members);
    }
  }
  {
    std::vector<h2::roster_entry> const in{{3, "Amy"}, {2, "Bob"}};
    auto const f = h2::encode_room_members("news", in);
    BOOST_TEST(f.size() == h2::room_members_size("news", in));
    auto const v = get_frame<h2::room_members>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.room == "news");
    BOOST_TEST_REQUIRE(v.members.size() == 2u);
    BOOST_TEST(v.members[0].status == 3);
    BOOST_TEST(v.members[0].name == "Amy");
    BOOST_TEST(v.members[1].status == 2);
    BOOST_TEST(v.members[1].name == "Bob");
  }
  {
    auto const f = h2::encode_history_end(~0ull, true);
    auto const v = get_frame<h2::history_end>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.last_id == ~0ull);
    BOOST_TEST(v.more);
    auto const g = h2::encode_history_end(0, false);
    BOOST_TEST(!get_frame<h2::history_end>(h2::parse(as_bytes(g))).more);
  }
  {
    auto const f = h2::encode_name_refused(h2::errc::wrong_password, "Amy", h2::describe(h2::errc::wrong_password));
    auto const v = get_frame<h2::name_refused>(h2::parse(as_bytes(f)));
    BOOST_TEST(v.code == 114);
    BOOST_TEST(v.reason == "wrong password");
  }
}

BOOST_AUTO_TEST_CASE(hcp2_new_frames_write_into_buffer) {
  namespace h2 = hcp::hcp2;
  std::vector<h2::roster_entry> const roster{{3, "Amy"}, {1, "Jon"}};
  auto const n = h2::roster_size(roster);
  std::vector<std::byte> buf(n + 1, std::byte{0xEE});
  BOOST_TEST(h2::write_roster(std::span(buf).first(n), roster) == n);
  BOOST_TEST((buf[n] == std::byte{0xEE}));
  BOOST_TEST((std::string_view(reinterpret_cast<char const*>(buf.data()), n) == h2::encode_roster(roster)));
  BOOST_CHECK_THROW(h2::write_roster(std::span(buf).first(n - 1), roster), std::length_error);
  BOOST_CHECK_THROW(h2::write_history_end(std::span(buf).first(h2::history_end_size() - 1), 1, false),
                    std::length_error);
  BOOST_CHECK_THROW(h2::write_register(std::span(buf).first(5), "Amy", "pw"), std::length_error);
  BOOST_TEST(h2::write_received(std::span(buf).first(h2::received_size()), 1) == 13u);
}

// ---------------------------------------------------------------------------
// Issue 12: PRESENCE and the pages of long lists (docs/protocol.md 2.14)
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hcp2_presence_and_parts_hex_vectors) {
  namespace h2 = hcp::hcp2;
  const std::vector<h2::roster_entry> presence{{1, "Amy"}, {0, "Bob"}};
  BOOST_TEST(h2::encode_presence(presence) == from_hex("0000000d 89 0002 01 03 416d79 00 03 426f62"));
  BOOST_TEST(h2::encode_presence({}) == from_hex("00000003 89 0000"));
  BOOST_TEST(h2::encode_users_part({"Jon", "Amy"}) == from_hex("0000000b 8c 0002 03 4a6f6e 03 416d79"));
  const std::vector<h2::roster_entry> amy{{3, "Amy"}};
  BOOST_TEST(h2::encode_roster_part(amy) == from_hex("00000008 92 0001 03 03 416d79"));
  BOOST_TEST(h2::encode_room_members_part("news", amy) == from_hex("0000000d b4 04 6e657773 0001 03 03 416d79"));
  const std::vector<h2::room_entry> tea{{"tea", 1}};
  BOOST_TEST(h2::encode_room_list_part(tea) == from_hex("0000000b b5 0001 03 746561 00000001"));
  BOOST_TEST(h2::hello_presence_batches == 0x2u);
  BOOST_TEST(h2::encode_hello(2, h2::hello_presence_batches) == from_hex("00000009 01 484350 02 00000002"));
}

BOOST_AUTO_TEST_CASE(hcp2_presence_and_parts_round_trip) {
  namespace h2 = hcp::hcp2;
  const std::vector<h2::roster_entry> entries{{1, "Amy"}, {0, "Bob"}, {1, std::string_view("Jos\xC3\xA9")}, {1, ""}};
  {
    const auto f = h2::encode_presence(entries);
    const auto v = get_frame<h2::presence>(h2::parse(as_bytes(f)));
    BOOST_TEST_REQUIRE(v.entries.size() == 4u);
    BOOST_TEST(v.entries[0].status == 1);
    BOOST_TEST(v.entries[1].name == "Bob");
    BOOST_TEST(v.entries[1].status == 0);
    BOOST_TEST(v.entries[2].name == "Jos\xC3\xA9");
  }
  {
    const auto f = h2::encode_roster_part(entries);
    BOOST_TEST(get_frame<h2::roster_part>(h2::parse(as_bytes(f))).entries.size() == 4u);
    const auto m = h2::encode_room_members_part("news", entries);
    const auto v = get_frame<h2::room_members_part>(h2::parse(as_bytes(m)));
    BOOST_TEST(v.room == "news");
    BOOST_TEST(v.members.size() == 4u);
  }
  {
    const std::vector<std::string> names{"a", std::string(64, 'z'), "c"};
    const auto f = h2::encode_users_part(names);
    const auto v = get_frame<h2::users_part>(h2::parse(as_bytes(f)));
    BOOST_TEST_REQUIRE(v.names.size() == 3u);
    BOOST_TEST(v.names[1] == std::string(64, 'z'));
  }
  {
    const std::vector<h2::room_entry> rooms{{"a", 1}, {"b", 0xFFFFFFFF}};
    const auto f = h2::encode_room_list_part(rooms);
    const auto v = get_frame<h2::room_list_part>(h2::parse(as_bytes(f)));
    BOOST_TEST_REQUIRE(v.rooms.size() == 2u);
    BOOST_TEST(v.rooms[1].members == 0xFFFFFFFFu);
  }
}

BOOST_AUTO_TEST_CASE(hcp2_presence_and_parts_malformed) {
  namespace h2 = hcp::hcp2;
  auto malformed = [](std::string_view hex) { return parse_fails(from_hex(hex)).code == h2::errc::malformed_frame; };
  // PRESENCE: a count the frame cannot hold, a cut entry, a name over 64, trailing bytes.
  BOOST_TEST(malformed("00000003 89 ffff"));
  BOOST_TEST(malformed("00000002 89 00"));
  BOOST_TEST(malformed("00000006 89 0002 01 00 01"));
  BOOST_TEST(malformed("00000007 89 0001 01 03 416d"));
  BOOST_TEST(malformed("00000009 89 0001 01 03 416d79 00"));
  BOOST_TEST(parse_fails(with_length("\0\0\0\0\x89\x00\x01\x01\x41"s + std::string(65, 'x'))).code ==
             h2::errc::malformed_frame);
  BOOST_TEST(parse_fails(from_hex("00000009 89 0001 01 03 416d79 00")).type == 0x89);
  // USERS_PART: like USERS.
  BOOST_TEST(malformed("00000003 8c ffff"));
  BOOST_TEST(malformed("00000006 8c 0001 00 00"));
  BOOST_TEST(get_frame<h2::users_part>(h2::parse(as_bytes(from_hex("00000006 8c 0003 00 00 00")))).names.size() ==
             3u);
  // ROSTER_PART, ROOM_MEMBERS_PART, ROOM_LIST_PART: like their final frames.
  BOOST_TEST(malformed("00000003 92 ffff"));
  BOOST_TEST(malformed("00000006 92 0002 01 00 01"));
  BOOST_TEST(malformed("00000005 b4 01 61 ffff"));
  BOOST_TEST(malformed("00000004 b4 05 61 00"));
  BOOST_TEST(malformed("00000003 b5 ffff"));
  BOOST_TEST(malformed("00000008 b5 0002 00 00000001"));
  BOOST_TEST(malformed("00000009 b5 0001 00 00000001 00"));
  // Empty payloads.
  for (unsigned t : {0x89u, 0x8Cu, 0x92u, 0xB4u, 0xB5u}) {
    const auto f = with_length("\0\0\0\0"s + char(t));
    BOOST_TEST((parse_fails(f).code == h2::errc::malformed_frame), "type " << t);
  }
  // The encoders refuse what the wire cannot carry.
  const std::vector<h2::roster_entry> many(65536, h2::roster_entry{1, "a"});
  BOOST_CHECK_THROW(h2::encode_presence(many), std::length_error);
  BOOST_CHECK_THROW(h2::encode_roster_part(many), std::length_error);
  const std::string too_long(65, 'x');
  const std::vector<h2::roster_entry> long_name{{1, too_long}};
  BOOST_CHECK_THROW(h2::encode_presence(long_name), std::length_error);
}

BOOST_AUTO_TEST_SUITE_END()
