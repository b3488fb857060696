// Unit tests for samples/hcp/wire/: the rules HCP/1 and HCP/2 share (names,
// protocol detection), the HCP/1 message codecs, and hostile input to every
// decoder. HCP/2 is in test_hcp2_wire.cpp, the text protocol in
// test_hcp_text.cpp, the stream codecs in test_hcp_framing.cpp. At the end:
// the server's paging and presence batches (server/lists.hpp) and its tick
// (server/tick.hpp), which turn lists and joins into these frames.

#include <boost/test/unit_test.hpp>

#include "hcp_wire_test_util.hpp"

#include "hcp/wire/common.hpp"
#include "hcp/wire/detect.hpp"
#include "hcp/wire/hcp1.hpp"
#include "hcp/wire/hcp2.hpp"
#include "hcp/wire/text.hpp"

#include "hcp/client/commands.hpp"
#include "hcp/server/flood.hpp"
#include "hcp/server/lists.hpp"
#include "hcp/server/tick.hpp"

#include <howdy/utf8.hpp>

#include <asio/io_context.hpp>

#include <thread>

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
  using howdy::is_valid_utf8;
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
  // Anything else is the text protocol's, which answers it with ERROR 101 (seed 002).
  BOOST_TEST((detect_protocol(std::byte{0x06}) == protocol::text));
  BOOST_TEST((detect_protocol(std::byte{'G'}) == protocol::text));
  BOOST_TEST((detect_protocol(std::byte{0xFF}) == protocol::text));
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
    (void)howdy::is_valid_utf8(payload);
    (void)hcp::text::parse_command(payload);
  }
  BOOST_TEST(parsed > 0u);  // text-ending frames accept most random payloads
}

// ---------------------------------------------------------------------------
// server/lists.hpp and server/tick.hpp (issue 12)
// ---------------------------------------------------------------------------

namespace {

// Splits a buffer of whole HCP/2 frames into them.
std::vector<std::string> split_frames(const howdy::shared_buffer& b) {
  std::vector<std::string> out;
  const std::string_view all(reinterpret_cast<const char*>(b.data()), b.size());
  for (std::size_t at = 0; at < all.size();) {
    BOOST_TEST_REQUIRE(all.size() - at >= 5u);
    const auto len = (std::uint32_t(std::uint8_t(all[at])) << 24) | (std::uint32_t(std::uint8_t(all[at + 1])) << 16) |
                     (std::uint32_t(std::uint8_t(all[at + 2])) << 8) | std::uint32_t(std::uint8_t(all[at + 3]));
    BOOST_TEST_REQUIRE(all.size() - at >= 4 + len);
    out.emplace_back(all.substr(at, 4 + len));
    at += 4 + len;
  }
  return out;
}

std::string text_of(const howdy::shared_buffer& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

}  // namespace

BOOST_AUTO_TEST_CASE(server_pages_of_limits) {
  // 10-byte empty frame, 10 bytes per entry, max frame 46 (50 bytes with the length field): 4 per page.
  auto pages = hcp::pages_of(9, 10, 46, [](std::size_t) { return 10; });
  BOOST_TEST_REQUIRE(pages.size() == 3u);
  BOOST_TEST(pages[0].first == 0u);
  BOOST_TEST(pages[0].second == 4u);
  BOOST_TEST(pages[2].first == 8u);
  BOOST_TEST(pages[2].second == 9u);
  BOOST_TEST(hcp::pages_of(0, 10, 46, [](std::size_t) { return 10; }).size() == 1u);  // an empty list: one page
  // An entry that alone is larger than a page still gets a page of its own.
  BOOST_TEST(hcp::pages_of(2, 10, 46, [](std::size_t) { return 100; }).size() == 2u);
  // 65,535 entries at most per page.
  auto big = hcp::pages_of(70000, 7, 16u << 20, [](std::size_t) { return 2; });
  BOOST_TEST_REQUIRE(big.size() == 2u);
  BOOST_TEST(big[0].second == 65535u);
}

BOOST_AUTO_TEST_CASE(server_users_pages_round_trip) {
  namespace h2 = hcp::hcp2;
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) names.push_back("user-" + std::to_string(i));
  std::size_t last_first = 0;
  const auto pages = hcp::users_pages(names, 256, &last_first);
  BOOST_TEST_REQUIRE(pages.size() > 5u);
  std::vector<std::string> back;
  for (std::size_t p = 0; p < pages.size(); ++p) {
    BOOST_TEST(pages[p].size() <= 256u + 4u);
    const auto f = h2::parse({pages[p].data(), pages[p].size()});
    const bool last = p + 1 == pages.size();
    if (last) {
      BOOST_TEST(back.size() == last_first);
      for (auto n : get_frame<h2::users>(f).names) back.emplace_back(n);
    } else {
      for (auto n : get_frame<h2::users_part>(f).names) back.emplace_back(n);
    }
  }
  BOOST_TEST(back == names, boost::test_tools::per_element());
  // One page: just USERS.
  const std::vector<std::string> two{"a", "b"};
  const auto one = hcp::users_pages(two, 65536);
  BOOST_TEST_REQUIRE(one.size() == 1u);
  BOOST_TEST(text_of(one[0]) == h2::encode_users({"a", "b"}));
}

BOOST_AUTO_TEST_CASE(server_presence_batches) {
  namespace h2 = hcp::hcp2;
  const std::vector<h2::roster_entry> entries{{h2::status_online, "Amy"}, {0, "Bob"}};
  // Clients with HELLO flag 0x2: one PRESENCE frame.
  BOOST_TEST(text_of(hcp::presence_batch(entries, 65536)) == h2::encode_presence(entries));
  // The others: JOINED and LEFT back to back, in one buffer.
  BOOST_TEST(text_of(hcp::joined_left_batch(entries)) == h2::encode_joined("Amy") + h2::encode_left("Bob"));
  // Rooms: ROOM_JOINED / ROOM_LEFT.
  BOOST_TEST(text_of(hcp::room_batch("news", entries)) ==
             h2::encode_room_joined("news", "Amy") + h2::encode_room_left("news", "Bob"));
  // More than one frame holds: several PRESENCE frames, every entry once, in order.
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) names.push_back("someone-" + std::to_string(i));
  std::vector<h2::roster_entry> many;
  for (std::size_t i = 0; i < names.size(); ++i) many.push_back({std::uint8_t(i % 2), names[i]});
  const auto frames = split_frames(hcp::presence_batch(many, 256));
  BOOST_TEST_REQUIRE(frames.size() > 1u);
  std::size_t i = 0;
  for (auto& f : frames) {
    BOOST_TEST(f.size() <= 260u);
    for (auto& e : get_frame<h2::presence>(h2::parse(as_bytes(f))).entries) {
      BOOST_TEST(e.name == names[i]);
      BOOST_TEST(e.status == i % 2);
      ++i;
    }
  }
  BOOST_TEST(i == names.size());
}

// The client's "/register NAME PASSWORD": the name is one word or quoted, the
// password all the rest, so no word of a passphrase becomes part of the
// (public) name.
BOOST_AUTO_TEST_CASE(client_splits_name_and_password) {
  using hcp::client::split_name_password;
  auto split = [](std::string_view args) {
    const auto r = split_name_password(args);
    return std::string(r.name) + "|" + std::string(r.password);
  };
  BOOST_TEST(split("eve my passphrase") == "eve|my passphrase");
  BOOST_TEST(split("  eve   correct horse battery  ") == "eve|correct horse battery");
  BOOST_TEST(split("\"Jon Stewart\" pass word") == "Jon Stewart|pass word");
  BOOST_TEST(split("eve") == "|");
  BOOST_TEST(split("\"Jon Stewart pass") == "|");  // an unclosed quote: nothing
  BOOST_TEST(split("\"\" pass") == "|");
  using hcp::client::password_start;
  BOOST_TEST(password_start(std::string_view("/register eve my passphrase")) == 14u);
  BOOST_TEST(password_start(std::string_view("/login \"Jon Stewart\" secret")) == 21u);
  BOOST_TEST(password_start(std::string_view("/login eve")) == std::string_view::npos);
  BOOST_TEST(password_start(std::string_view("/login eve ")) == std::string_view::npos);
  BOOST_TEST(password_start(std::string_view("hello /login eve x")) == std::string_view::npos);
}

// Flood control (server/flood.hpp): the message bucket's verdicts, what counts
// as one client address, and refusals logged at most once a second.
BOOST_AUTO_TEST_CASE(server_message_bucket_refuses_then_disconnects_a_flood) {
  using clock = std::chrono::steady_clock;
  using verdict = hcp::message_bucket::verdict;
  const auto t0 = clock::time_point{} + std::chrono::hours(1);
  hcp::message_bucket b(10, 2, std::chrono::milliseconds(3000), t0);  // 10/s, bursts of 2, flood ends at 3 s
  BOOST_TEST((b.take(t0) == verdict::accept));
  BOOST_TEST((b.take(t0) == verdict::accept));
  BOOST_TEST((b.take(t0) == verdict::refuse));
  BOOST_TEST(b.first_of_flood());
  BOOST_TEST((b.take(t0 + std::chrono::milliseconds(50)) == verdict::refuse));
  BOOST_TEST(!b.first_of_flood());
  BOOST_TEST((b.take(t0 + std::chrono::milliseconds(100)) == verdict::accept));  // refilled: 1 per 100 ms
  // Refused again and again, never a pause of 1 s: disconnected 3 s after the flood began.
  auto t = t0 + std::chrono::milliseconds(100);
  verdict last = verdict::accept;
  while (t < t0 + std::chrono::milliseconds(3100) && last != verdict::disconnect) {
    for (int i = 0; i < 5 && last != verdict::disconnect; ++i) last = b.take(t);
    t += std::chrono::milliseconds(100);
  }
  BOOST_TEST((last == verdict::disconnect));
  // A pause of a second ends a flood: the next refusal begins a new one.
  hcp::message_bucket p(1, 1, std::chrono::milliseconds(3000), t0);
  BOOST_TEST((p.take(t0) == verdict::accept));
  BOOST_TEST((p.take(t0) == verdict::refuse));
  BOOST_TEST((p.take(t0 + std::chrono::milliseconds(1000)) == verdict::accept));
  BOOST_TEST((p.take(t0 + std::chrono::milliseconds(1000)) == verdict::refuse));
  BOOST_TEST(p.first_of_flood());
  hcp::message_bucket off(0, 1, std::chrono::milliseconds(3000), t0);
  for (int i = 0; i < 1000; ++i) BOOST_TEST((off.take(t0) == verdict::accept));
}

BOOST_AUTO_TEST_CASE(server_client_address_key_counts_an_ipv6_host_by_its_64) {
  const auto key = [](const char* a) { return hcp::client_address_key(asio::ip::make_address(a)); };
  BOOST_TEST(key("192.0.2.7") == "192.0.2.7");
  BOOST_TEST(key("::ffff:192.0.2.7") == "192.0.2.7");  // IPv4-mapped: the IPv4 address
  BOOST_TEST(key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
  BOOST_TEST(key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff::9"));
  BOOST_TEST(key("2001:db8:1:2::1") != key("2001:db8:1:3::1"));
  BOOST_TEST(key("::1") == "::/64");
}

BOOST_AUTO_TEST_CASE(server_address_counts_limit_and_log_once_a_second) {
  using clock = std::chrono::steady_clock;
  using verdict = hcp::address_counts::verdict;
  const auto t0 = clock::time_point{} + std::chrono::hours(1);
  hcp::address_counts counts(2);
  BOOST_TEST((counts.try_add("a", t0) == verdict::accept));
  BOOST_TEST((counts.try_add("a", t0) == verdict::accept));
  BOOST_TEST((counts.try_add("b", t0) == verdict::accept));
  BOOST_TEST((counts.try_add("a", t0) == verdict::refuse));
  BOOST_TEST((counts.try_add("a", t0 + std::chrono::milliseconds(500)) == verdict::refuse_quietly));
  BOOST_TEST((counts.try_add("a", t0 + std::chrono::milliseconds(1000)) == verdict::refuse));
  counts.remove("a");
  BOOST_TEST((counts.try_add("a", t0 + std::chrono::milliseconds(1100)) == verdict::accept));
}

BOOST_AUTO_TEST_CASE(server_tick_batch_coalesces_in_order) {
  asio::io_context io;
  std::vector<std::vector<int>> flushes;
  hcp::tick_batch<int> batch(io.get_executor(), std::chrono::milliseconds(20),
                             [&](std::vector<int>& events) { flushes.push_back(events); });
  // From several threads, before the executor runs: all in one flush, each thread's in its order.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 250; ++i) batch.add(t * 1000 + i);
    });
  for (auto& t : threads) t.join();
  io.run();
  BOOST_TEST_REQUIRE(flushes.size() == 1u);
  BOOST_TEST(flushes[0].size() == 1000u);
  std::array<int, 4> next{0, 0, 0, 0};
  for (int e : flushes[0]) {
    BOOST_TEST(e % 1000 == next[std::size_t(e / 1000)]);
    ++next[std::size_t(e / 1000)];
  }
  // Later events: a new flush.
  batch.add(7);
  io.restart();
  io.run();
  BOOST_TEST_REQUIRE(flushes.size() == 2u);
  BOOST_TEST(flushes[1] == std::vector<int>{7});
  // Stopped: nothing more.
  batch.stop();
  batch.add(8);
  io.restart();
  io.run();
  BOOST_TEST(flushes.size() == 2u);
}

// tick_for spaces flushes from the previous one; the first event after a
// quiet spell waits only `tick`.
BOOST_AUTO_TEST_CASE(server_tick_batch_spacing_counts_from_the_last_flush) {
  asio::io_context io;
  std::vector<std::vector<int>> flushes;
  hcp::tick_batch<int> batch(
      io.get_executor(), std::chrono::milliseconds(0), [&](std::vector<int>& events) { flushes.push_back(events); },
      {}, [] { return std::chrono::milliseconds(std::chrono::hours(1)); });
  batch.add(1);
  io.run_for(std::chrono::seconds(30));  // no flush before: at once, not an hour from now
  BOOST_TEST_REQUIRE(flushes.size() == 1u);
  batch.add(2);
  batch.add(3);
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  BOOST_TEST(flushes.size() == 1u);  // an hour after the last flush, not before
  batch.stop();
}

BOOST_AUTO_TEST_CASE(server_tick_batch_zero_tick_and_quiet) {
  asio::io_context io;
  int flushed = 0, quiet = 0;
  hcp::tick_batch<int>* self = nullptr;
  hcp::tick_batch<int> batch(
      io.get_executor(), std::chrono::milliseconds(0),
      [&](std::vector<int>& events) {
        flushed += int(events.size());
        self->check_quiet(std::chrono::milliseconds(0));
      },
      [&] { ++quiet; });
  self = &batch;
  batch.add(1);
  batch.add(2);
  io.run();  // tick 0: flushed as soon as the executor runs; nothing added since, so quiet once
  BOOST_TEST(flushed == 2);
  BOOST_TEST(quiet == 1);
}

BOOST_AUTO_TEST_SUITE_END()
