// Unit tests for samples/hcp/protocol.hpp (HCP/1 and HCP/2 message codecs).

#include <array>
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hcp/protocol.hpp"

namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<std::byte const*>(s.data()), s.size()};
}

std::string from_hex(std::string_view hex) {
  std::string out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size();) {
    if (hex[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
    i += 2;
  }
  return out;
}

std::string nuls(std::size_t n) { return std::string(n, '\0'); }

// Sets the u32 length field of `frame` to match its size (to build frames
// whose header is consistent but whose payload is cut or padded).
std::string with_length(std::string frame) {
  auto const len = static_cast<std::uint32_t>(frame.size() - 4);
  frame[0] = static_cast<char>(len >> 24);
  frame[1] = static_cast<char>(len >> 16);
  frame[2] = static_cast<char>(len >> 8);
  frame[3] = static_cast<char>(len);
  return frame;
}

// By value: the variant is usually a temporary (its views point into the
// caller's bytes, which outlive it).
template <class T>
T get_frame(hcp::hcp2::frame const& f) {
  BOOST_TEST_REQUIRE(std::holds_alternative<T>(f));
  return std::get<T>(f);
}

hcp::hcp2::parse_error parse_fails(std::string_view bytes) {
  auto const f = hcp::hcp2::parse(as_bytes(bytes));
  BOOST_TEST_REQUIRE(std::holds_alternative<hcp::hcp2::parse_error>(f));
  return std::get<hcp::hcp2::parse_error>(f);
}

// Golden packets: hex of the original client's expressions
// (shared/reference/hcp1/howdy_client_core.py build_*).
// build_proposal('Jon Stewart') == b'\x01Jon Stewart' + b'\x00'*53
auto const golden_proposal =
    "014a6f6e20537465776172740000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "00"sv;
// build_broadcast('Jon Stewart', 'Hi')
auto const golden_broadcast =
    "054a6f6e20537465776172740000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "00416c6c00000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "004869"sv;
// build_whisper('Jon Stewart', 'Stephen Colbert', 'psst')
auto const golden_whisper =
    "054a6f6e20537465776172740000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "005374657068656e20436f6c6265727400000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0070737374"sv;

}  // namespace

BOOST_AUTO_TEST_SUITE(hcp_protocol)

// ---------------------------------------------------------------------------
// shared helpers
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(utf8_validation) {
  using hcp::is_valid_utf8;
  BOOST_TEST(is_valid_utf8(""));
  BOOST_TEST(is_valid_utf8("Jon Stewart"));
  BOOST_TEST(is_valid_utf8("Jos\xC3\xA9"));       // U+00E9
  BOOST_TEST(is_valid_utf8("\xE2\x82\xAC"));      // U+20AC
  BOOST_TEST(is_valid_utf8("\xED\x9F\xBF"));      // U+D7FF, last before surrogates
  BOOST_TEST(is_valid_utf8("\xEE\x80\x80"));      // U+E000, first after surrogates
  BOOST_TEST(is_valid_utf8("\xF0\x9F\xA4\xA0"));  // U+1F920
  BOOST_TEST(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  BOOST_TEST(is_valid_utf8("\xC2\x80"));          // U+0080, smallest 2-byte
  BOOST_TEST(is_valid_utf8("\xE0\xA0\x80"));      // U+0800, smallest 3-byte
  BOOST_TEST(is_valid_utf8("\xF0\x90\x80\x80"));  // U+10000, smallest 4-byte

  BOOST_TEST(!is_valid_utf8("\xC0\x80"));          // overlong NUL
  BOOST_TEST(!is_valid_utf8("\xC1\xBF"));          // overlong
  BOOST_TEST(!is_valid_utf8("\xE0\x9F\xBF"));      // overlong 3-byte
  BOOST_TEST(!is_valid_utf8("\xF0\x8F\xBF\xBF"));  // overlong 4-byte
  BOOST_TEST(!is_valid_utf8("\xED\xA0\x80"));      // U+D800 surrogate
  BOOST_TEST(!is_valid_utf8("\xED\xBF\xBF"));      // U+DFFF surrogate
  BOOST_TEST(!is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  BOOST_TEST(!is_valid_utf8("\xF5\x80\x80\x80"));  // lead byte F5
  BOOST_TEST(!is_valid_utf8("\xFF"));
  BOOST_TEST(!is_valid_utf8("\x80"));          // lone continuation
  BOOST_TEST(!is_valid_utf8("a\xC3"));         // cut 2-byte sequence
  BOOST_TEST(!is_valid_utf8("\xE2\x82"));      // cut 3-byte sequence
  BOOST_TEST(!is_valid_utf8("\xF0\x9F\xA4"));  // cut 4-byte sequence
  BOOST_TEST(!is_valid_utf8("\xC3\x28"));      // bad continuation
}

BOOST_AUTO_TEST_CASE(name_validation) {
  using hcp::is_valid_name;
  BOOST_TEST(is_valid_name("Jon Stewart"));
  BOOST_TEST(is_valid_name("x"));
  BOOST_TEST(is_valid_name(std::string(64, 'a')));
  BOOST_TEST(!is_valid_name(std::string(65, 'a')));
  BOOST_TEST(!is_valid_name(""));

  std::string e32;  // 32 x U+00E9 = 64 bytes, 32 characters
  for (int i = 0; i < 32; ++i) e32 += "\xC3\xA9";
  BOOST_TEST(is_valid_name(e32));
  BOOST_TEST(!is_valid_name(e32 + "x"));  // 65 bytes, 33 characters

  BOOST_TEST(!is_valid_name("a\0b"sv));
  for (char c = 0x01; c <= 0x05; ++c) BOOST_TEST(!is_valid_name("a"s + c + "b"), "control byte " << int(c));
  BOOST_TEST(
      is_valid_name("a\x06"
                    "b"));
  BOOST_TEST(!is_valid_name("\xC0\x80"));
  BOOST_TEST(!is_valid_name("\xED\xA0\x80"));

  // Reserved names are well-formed; refusing them is a separate check.
  BOOST_TEST(is_valid_name("All"));
  BOOST_TEST(hcp::is_reserved_name("All"));
  BOOST_TEST(hcp::is_reserved_name("Server"));
  BOOST_TEST(!hcp::is_reserved_name("all"));
  BOOST_TEST(!hcp::is_reserved_name("Jon"));
}

BOOST_AUTO_TEST_CASE(protocol_detection) {
  using hcp::detect_protocol;
  using hcp::protocol;
  BOOST_TEST((detect_protocol(std::byte{0x00}) == protocol::hcp2));
  for (unsigned b = 1; b <= 5; ++b) BOOST_TEST((detect_protocol(std::byte(b)) == protocol::hcp1));
  BOOST_TEST((detect_protocol(std::byte{'R'}) == protocol::text));
  BOOST_TEST((detect_protocol(std::byte{0x06}) == protocol::unknown));
  BOOST_TEST((detect_protocol(std::byte{'G'}) == protocol::unknown));
  BOOST_TEST((detect_protocol(std::byte{0xFF}) == protocol::unknown));
  BOOST_TEST(hcp::default_port == 20002);
}

// ---------------------------------------------------------------------------
// HCP/1
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hcp1_golden_client_packets) {
  namespace h1 = hcp::hcp1;
  BOOST_TEST(h1::encode_proposal("Jon Stewart") == from_hex(golden_proposal));
  BOOST_TEST(h1::encode_proposal("Jon Stewart") == "\x01Jon Stewart"s + nuls(53));
  BOOST_TEST(h1::encode_message("Jon Stewart", "All", "Hi") == from_hex(golden_broadcast));
  BOOST_TEST(h1::encode_message("Jon Stewart", "Stephen Colbert", "psst") == from_hex(golden_whisper));
  BOOST_TEST(h1::encode_message("Jon Stewart", "Stephen Colbert", "psst") ==
             "\x05Jon Stewart"s + nuls(53) + "Stephen Colbert" + nuls(49) + "psst");
}

BOOST_AUTO_TEST_CASE(hcp1_server_packets) {
  namespace h1 = hcp::hcp1;
  BOOST_TEST(h1::encode_ack("Jon") == "\x02Jon"s + nuls(61));
  BOOST_TEST(h1::encode_nak("Jon") == "\x03Jon"s + nuls(61));
  BOOST_TEST(h1::encode_update({"Jon", "Amy"}) == "\x04Jon"s + nuls(61) + "Amy" + nuls(61));
  BOOST_TEST(h1::encode_update(std::vector<std::string>{}) == "\x04"s);
  BOOST_TEST(h1::update_size(3) == 193u);

  // Any forward range of strings, e.g. the server's user table.
  std::set<std::string> table{"Jon", "Amy"};
  BOOST_TEST(h1::update_size(table) == 129u);
  BOOST_TEST(h1::encode_update(table) == h1::encode_update({"Amy", "Jon"}));
}

BOOST_AUTO_TEST_CASE(hcp1_write_into_buffer) {
  namespace h1 = hcp::hcp1;
  std::array<std::byte, 200> buf;
  buf.fill(std::byte{0xEE});
  auto const n = h1::message_size("Hi");
  BOOST_TEST(n == 131u);
  BOOST_TEST(h1::write_message(std::span(buf).first(n), "Jon Stewart", "All", "Hi") == n);
  BOOST_TEST((std::string_view(reinterpret_cast<char const*>(buf.data()), n) == from_hex(golden_broadcast)));
  BOOST_TEST((buf[n] == std::byte{0xEE}));  // nothing written past the size

  std::array<std::byte, 64> small{};
  BOOST_CHECK_THROW(h1::write_proposal(small, "Jon"), std::length_error);
  BOOST_CHECK_THROW(h1::write_message(std::span(buf).first(n - 1), "Jon", "All", "Hi"), std::length_error);
  BOOST_TEST(h1::write_ack(std::span(buf).first(65), "Jon") == 65u);
}

BOOST_AUTO_TEST_CASE(hcp1_pads_by_bytes) {
  namespace h1 = hcp::hcp1;
  // The original pads 'José' (5 bytes) with 64-4 NULs: a 65-byte field.
  // We pad by bytes: every field is exactly 64 bytes.
  auto const p = h1::encode_message("Jos\xC3\xA9", "All", "x");
  BOOST_TEST(p.size() == 130u);
  BOOST_TEST(p.substr(1, 64) == "Jos\xC3\xA9"s + nuls(59));
  BOOST_TEST(p.substr(65, 64) == "All"s + nuls(61));

  std::string e32;
  for (int i = 0; i < 32; ++i) e32 += "\xC3\xA9";
  BOOST_TEST(h1::encode_proposal(e32) == "\x01"s + e32);
  BOOST_CHECK_THROW(h1::encode_proposal(e32 + "x"), std::length_error);
  BOOST_CHECK_THROW(h1::encode_message(std::string(65, 'a'), "All", "x"), std::length_error);
  BOOST_CHECK_THROW(h1::encode_message("Jon", std::string(65, 'a'), "x"), std::length_error);
  BOOST_CHECK_THROW(h1::encode_update({"Jon", std::string(65, 'a')}), std::length_error);
}

BOOST_AUTO_TEST_CASE(hcp1_message_text_rules) {
  namespace h1 = hcp::hcp1;
  // A type 5 needs at least one byte of text.
  BOOST_CHECK_THROW(h1::encode_message("Jon", "All", ""), std::length_error);
  // Packet-start bytes in text are substituted so the peer does not split there.
  auto const p = h1::encode_message("Jon", "All", "a\x01\x02\x03\x04\x05\x06z");
  BOOST_TEST(p.substr(129) == "a\x1A\x1A\x1A\x1A\x1A\x06z");
  // NUL and all other bytes go through untouched.
  auto const q = h1::encode_message("Jon", "All", "a\0b\xC3\xA9"sv);
  BOOST_TEST(q.substr(129) == "a\0b\xC3\xA9"sv);
}

BOOST_AUTO_TEST_CASE(hcp1_parse_name_packets) {
  namespace h1 = hcp::hcp1;
  auto const golden = from_hex(golden_proposal);
  auto const p = h1::parse_name_packet(as_bytes(golden));
  BOOST_TEST_REQUIRE(p.has_value());
  BOOST_TEST((p->kind == h1::type::proposal));
  BOOST_TEST(p->name.name == "Jon Stewart");
  BOOST_TEST(p->name.valid);

  auto const ack = h1::encode_ack("Jon");
  BOOST_TEST((h1::parse_name_packet(as_bytes(ack))->kind == h1::type::ack));
  auto const nak = h1::encode_nak("Jon");
  BOOST_TEST((h1::parse_name_packet(as_bytes(nak))->kind == h1::type::nak));

  // Invalid names are still reported (a nak echoes them), flagged invalid.
  std::string pkt;  // outlives the returned view
  auto invalid = [&pkt](std::string field) {
    pkt = "\x01"s + field;
    auto const r = h1::parse_name_packet(as_bytes(pkt));
    BOOST_TEST_REQUIRE(r.has_value());
    return r->name;
  };
  BOOST_TEST(!invalid(nuls(64)).valid);
  BOOST_TEST(invalid(nuls(64)).name.empty());
  BOOST_TEST(!invalid("a\0b"s + nuls(61)).valid);
  BOOST_TEST((invalid("a\0b"s + nuls(61)).name == "a\0b"sv));
  BOOST_TEST(!invalid("\xC0\x80"s + nuls(62)).valid);
  BOOST_TEST(!invalid("a\x01"s + nuls(62)).valid);
  BOOST_TEST(invalid(std::string(64, 'a')).valid);
  BOOST_TEST(invalid(std::string(64, 'a')).name.size() == 64u);

  // Wrong size or type: not a name packet.
  BOOST_TEST(!h1::parse_name_packet(as_bytes(ack.substr(0, 64))));
  BOOST_TEST(!h1::parse_name_packet(as_bytes(ack + "x")));
  BOOST_TEST(!h1::parse_name_packet(as_bytes("\x04"s + nuls(64))));
  BOOST_TEST(!h1::parse_name_packet(as_bytes("\x05"s + nuls(64))));
  BOOST_TEST(!h1::parse_name_packet(as_bytes(""sv)));
  // The original client sends a 71-byte proposal for a 70-byte name.
  BOOST_TEST(!h1::parse_name_packet(as_bytes("\x01"s + std::string(70, 'x'))));
}

BOOST_AUTO_TEST_CASE(hcp1_parse_update) {
  namespace h1 = hcp::hcp1;
  auto const u = h1::encode_update({"Jon", "Jos\xC3\xA9", std::string(64, 'z')});
  auto const names = h1::parse_update(as_bytes(u));
  BOOST_TEST_REQUIRE(names.has_value());
  BOOST_TEST_REQUIRE(names->size() == 3u);
  BOOST_TEST((*names)[0] == "Jon");
  BOOST_TEST((*names)[1] == "Jos\xC3\xA9");
  BOOST_TEST((*names)[2] == std::string(64, 'z'));

  auto const empty = h1::parse_update(as_bytes("\x04"sv));
  BOOST_TEST_REQUIRE(empty.has_value());
  BOOST_TEST(empty->empty());

  for (std::size_t cut = 0; cut < u.size(); ++cut) {
    bool const whole_blocks = cut >= 1 && (cut - 1) % 64 == 0;
    BOOST_TEST(h1::parse_update(as_bytes(u.substr(0, cut))).has_value() == whole_blocks, "cut at " << cut);
  }
  BOOST_TEST(!h1::parse_update(as_bytes(h1::encode_ack("Jon"))));
}

BOOST_AUTO_TEST_CASE(hcp1_parse_message) {
  namespace h1 = hcp::hcp1;
  auto const w = from_hex(golden_whisper);
  auto const m = h1::parse_message(as_bytes(w));
  BOOST_TEST_REQUIRE(m.has_value());
  BOOST_TEST(m->sender == "Jon Stewart");
  BOOST_TEST(m->receiver == "Stephen Colbert");
  BOOST_TEST(m->text == "psst");
  BOOST_TEST((m->text.data() == w.data() + 129));  // a view into the packet

  // Truncated anywhere up to and including the empty text: rejected.
  for (std::size_t cut = 0; cut <= 129; ++cut)
    BOOST_TEST(!h1::parse_message(as_bytes(w.substr(0, cut))), "cut at " << cut);
  BOOST_TEST(h1::parse_message(as_bytes(w.substr(0, 130)))->text == "p");
  BOOST_TEST(!h1::parse_message(as_bytes("\x04"s + w.substr(1))));

  // Round trip through our encoder, full-size names.
  auto const big = std::string(64, 'b');
  auto const e = h1::encode_message(big, "All", "\xF0\x9F\xA4\xA0 howdy");
  auto const r = h1::parse_message(as_bytes(e));
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->sender == big);
  BOOST_TEST(r->receiver == "All");
  BOOST_TEST(r->text == "\xF0\x9F\xA4\xA0 howdy");
}

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
  // WHO and BYE carry nothing.
  BOOST_TEST((parse_fails(from_hex("00000002 05 00")).code == h2::errc::malformed_frame));
  BOOST_TEST((parse_fails(from_hex("00000002 06 00")).code == h2::errc::malformed_frame));
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
  for (unsigned t : {0x00u, 0x07u, 0x10u, 0x7Fu, 0x80u, 0x89u, 0x8Cu, 0x90u, 0xFFu}) {
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
  for (int c = 100; c <= 113; ++c) {
    auto const d = h2::describe(static_cast<h2::errc>(c));
    BOOST_TEST(d != "unknown error", "code " << c);
    BOOST_TEST(!d.empty());
  }
  BOOST_TEST(h2::describe(static_cast<h2::errc>(99)) == "unknown error");
  BOOST_TEST(h2::describe(h2::errc::name_taken) == "name taken");

  std::error_code ec = h2::errc::frame_too_large;
  BOOST_TEST(ec.value() == 107);
  BOOST_TEST(ec.category().name() == "hcp2"s);
  BOOST_TEST(ec.message() == "frame too large");
  BOOST_TEST((ec == h2::errc::frame_too_large));
}

BOOST_AUTO_TEST_CASE(hostile_input_never_crashes) {
  namespace h1 = hcp::hcp1;
  namespace h2 = hcp::hcp2;
  // Random payloads behind a consistent header, for every type byte;
  // run under ASan/UBSan to catch any out-of-bounds read.
  std::mt19937 rng(20002);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(0, 200);
  std::size_t parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string payload(static_cast<std::size_t>(len(rng)), '\0');
    for (auto& c : payload) c = static_cast<char>(byte(rng));
    auto const t = static_cast<char>(i % 256);
    auto const f = with_length("\0\0\0\0"s + t + payload);
    if (!std::holds_alternative<h2::parse_error>(h2::parse(as_bytes(f)))) ++parsed;
    auto const p = std::string(1, char(1 + i % 5)) + payload;
    (void)h1::parse_name_packet(as_bytes(p));
    (void)h1::parse_update(as_bytes(p));
    (void)h1::parse_message(as_bytes(p));
    (void)hcp::is_valid_utf8(payload);
  }
  BOOST_TEST(parsed > 0u);  // text-ending frames accept most random payloads
}

BOOST_AUTO_TEST_SUITE_END()
