// Unit tests for the seed-002 text protocol codecs (samples/hcp/wire/text.hpp):
// the seed document's lines, name rules, parse_command.

#include <boost/test/unit_test.hpp>

#include "hcp_wire_test_util.hpp"

#include "hcp/wire/hcp2_frames.hpp"
#include "hcp/wire/text.hpp"

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

BOOST_AUTO_TEST_SUITE(hcp_text)

// ---------------------------------------------------------------------------
// Seed-002 text protocol
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(text_encoders_match_the_seed_document) {
  namespace tx = hcp::text;
  using hcp::hcp2::errc;
  BOOST_TEST(tx::registered(tx::direction::tosend, "bob") == "REGISTERED TOSEND bob\n\n");
  BOOST_TEST(tx::registered(tx::direction::torecv, "bob") == "REGISTERED TORECV bob\n\n");
  BOOST_TEST(tx::register_line(tx::direction::tosend, "bob") == "REGISTER TOSEND bob\n\n");
  BOOST_TEST(tx::register_line(tx::direction::torecv, "bob") == "REGISTER TORECV bob\n\n");
  BOOST_TEST(tx::forward("alice", "hello") == "FORWARD alice\nContent-length: 5\n\nhello");
  BOOST_TEST(tx::forward("alice", "") == "FORWARD alice\nContent-length: 0\n\n");
  BOOST_TEST(tx::send("bob", "hi there") == "SEND bob\nContent-length: 8\n\nhi there");
  BOOST_TEST(tx::send("ALL", std::string(1000, 'x')) == "SEND ALL\nContent-length: 1000\n\n" + std::string(1000, 'x'));
  BOOST_TEST(tx::sent("bob") == "SENT bob\n\n");
  BOOST_TEST(tx::received("alice") == "RECEIVED alice\n\n");
  BOOST_TEST(tx::error(errc::malformed_username) == "ERROR 100 Malformed username\n\n");
  BOOST_TEST(tx::error(errc::not_registered) == "ERROR 101 No user registered\n\n");
  BOOST_TEST(tx::error(errc::unknown_recipient) == "ERROR 102 Unable to send\n\n");
  BOOST_TEST(tx::error(errc::malformed_frame) == "ERROR 103 Header incomplete\n\n");
  BOOST_TEST(tx::error(errc::name_taken) == "ERROR 104 Username taken\n\n");
  BOOST_TEST(tx::error(errc::name_reserved) == "ERROR 105 Username reserved\n\n");
  BOOST_TEST(tx::error(errc::name_registered) == "ERROR 117 Username registered\n\n");
  BOOST_TEST(tx::error(errc::auth_required) == "ERROR 118 Account required\n\n");
  BOOST_TEST(tx::error(errc::frame_too_large) == "ERROR 107 frame too large\n\n");
  BOOST_TEST(tx::error(errc::malformed_frame, "Header Incomplete") == "ERROR 103 Header Incomplete\n\n");
  BOOST_TEST(tx::error(102) == "ERROR 102 Unable to send\n\n");  // as int, too
  BOOST_TEST(tx::error(117) == tx::error(errc::name_registered));
  BOOST_TEST(tx::error(103, "Header Incomplete") == "ERROR 103 Header Incomplete\n\n");
  BOOST_TEST(tx::is_everyone("ALL"));
  BOOST_TEST(!tx::is_everyone("All"));
  BOOST_TEST(!tx::is_everyone("all"));
  BOOST_TEST(!tx::is_everyone("bob"));
  for (int c = 100; c <= 127; ++c) BOOST_TEST(!tx::phrase(static_cast<errc>(c)).empty(), "code " << c);

  // Names the header cannot carry are refused (an HCP user may have one).
  BOOST_TEST(tx::can_carry_name("Jon Stewart"));
  BOOST_TEST(!tx::can_carry_name("a\nb"));
  BOOST_TEST(!tx::can_carry_name("bob\r"));  // parse_command reads "bob" (found by fuzz-text)
  BOOST_TEST(!tx::can_carry_name(std::string(65, 'a')));
  BOOST_CHECK_THROW(tx::forward("a\n\nERROR 100 x", "hi"), std::invalid_argument);
  BOOST_CHECK_THROW(tx::sent("a\nb"), std::invalid_argument);
  BOOST_CHECK_THROW(tx::registered(tx::direction::tosend, std::string(65, 'a')), std::invalid_argument);
  BOOST_TEST(tx::forward("Jon Stewart", "x") == "FORWARD Jon Stewart\nContent-length: 1\n\nx");
}

BOOST_AUTO_TEST_CASE(text_name_validation) {
  namespace tx = hcp::text;
  BOOST_TEST(tx::is_valid_name("bob"));
  BOOST_TEST(tx::is_valid_name("Bob42"));
  BOOST_TEST(tx::is_valid_name("7"));
  BOOST_TEST(tx::is_valid_name(std::string(64, 'z')));
  BOOST_TEST(tx::is_valid_name("ALLx"));
  BOOST_TEST(tx::is_valid_name("AL"));
  BOOST_TEST(!tx::is_valid_name(std::string(65, 'z')));
  BOOST_TEST(!tx::is_valid_name(""));
  for (auto all : {"ALL"sv, "all"sv, "All"sv, "aLl"sv}) BOOST_TEST(!tx::is_valid_name(all), all);
  for (auto bad : {"bo b"sv, "bob!"sv, "b_b"sv, "b-b"sv, "Jos\xC3\xA9"sv, "bob\n"sv, "a\0b"sv, "@bob"sv})
    BOOST_TEST(!tx::is_valid_name(bad));
}

BOOST_AUTO_TEST_CASE(text_parse_command) {
  namespace tx = hcp::text;
  using k = tx::command_kind;
  {
    auto const c = tx::parse_command("REGISTER TOSEND bob");
    BOOST_TEST((c.kind == k::register_));
    BOOST_TEST((c.direction == tx::direction::tosend));
    BOOST_TEST(c.arg == "bob");
    BOOST_TEST(!c.content_length.has_value());
    auto const d = tx::parse_command("REGISTER TORECV bob");
    BOOST_TEST((d.kind == k::register_));
    BOOST_TEST((d.direction == tx::direction::torecv));
    BOOST_TEST(d.arg == "bob");
  }
  {
    // Structural only: a bad name is reported as given; the server answers 100.
    auto const c = tx::parse_command("REGISTER TOSEND bo b!");
    BOOST_TEST((c.kind == k::register_));
    BOOST_TEST(c.arg == "bo b!");
    BOOST_TEST(!tx::is_valid_name(c.arg));
    auto const e = tx::parse_command("REGISTER TORECV");
    BOOST_TEST((e.kind == k::register_));
    BOOST_TEST(e.arg.empty());
    BOOST_TEST((tx::parse_command("REGISTER TOFOO bob").kind == k::unknown));
    BOOST_TEST((tx::parse_command("REGISTER").kind == k::unknown));
    BOOST_TEST((tx::parse_command("register TOSEND bob").kind == k::unknown));
    BOOST_TEST((tx::parse_command("REGISTER tosend bob").kind == k::unknown));
  }
  {
    auto const c = tx::parse_command("SEND bob\nContent-length: 5");
    BOOST_TEST((c.kind == k::send));
    BOOST_TEST(c.arg == "bob");
    BOOST_TEST_REQUIRE(c.content_length.has_value());
    BOOST_TEST(*c.content_length == 5u);
    // Field names in any case, values trimmed, other fields ignored.
    auto const d = tx::parse_command("SEND ALL\nX-Thing: 1\ncontent-LENGTH:  12 ");
    BOOST_TEST(d.arg == "ALL");
    BOOST_TEST(d.content_length.value_or(0) == 12u);
    auto const z = tx::parse_command("SEND bob\nContent-length: 0");
    BOOST_TEST(z.content_length.value_or(99) == 0u);
  }
  {
    // No (usable) Content-length: the server answers 103 and closes.
    BOOST_TEST(!tx::parse_command("SEND bob").content_length.has_value());
    BOOST_TEST(!tx::parse_command("SEND bob\nContent-type: text").content_length.has_value());
    BOOST_TEST(!tx::parse_command("SEND bob\nContent-length: five").content_length.has_value());
    BOOST_TEST(!tx::parse_command("SEND bob\nContent-length: -5").content_length.has_value());
    BOOST_TEST(!tx::parse_command("SEND bob\nContent-length:").content_length.has_value());
    BOOST_TEST(!tx::parse_command("SEND bob\nContent-length: 99999999999999999999999").content_length.has_value());
    // The command line is not a field, even if it looks like one.
    BOOST_TEST(!tx::parse_command("SEND Content-length: 5").content_length.has_value());
    BOOST_TEST(tx::parse_command("SEND Content-length: 5").arg == "Content-length: 5");
  }
  {
    auto const c = tx::parse_command("RECEIVED alice");
    BOOST_TEST((c.kind == k::received));
    BOOST_TEST(c.arg == "alice");
  }
  {
    // From a TORECV client; the phrase's case varies.
    auto const c = tx::parse_command("ERROR 103 Header Incomplete");
    BOOST_TEST((c.kind == k::error));
    BOOST_TEST(c.code == 103);
    BOOST_TEST(c.arg == "Header Incomplete");
    auto const d = tx::parse_command("ERROR 103 header incomplete");
    BOOST_TEST(d.code == 103);
    auto const e = tx::parse_command("ERROR 103");
    BOOST_TEST((e.kind == k::error));
    BOOST_TEST(e.code == 103);
    BOOST_TEST(e.arg.empty());
    BOOST_TEST((tx::parse_command("ERROR abc Header").kind == k::unknown));
    BOOST_TEST((tx::parse_command("ERROR -3 x").kind == k::unknown));
    BOOST_TEST((tx::parse_command("ERROR").kind == k::unknown));
  }
  {
    // Server replies parse too (for clients and tests).
    auto const r = tx::parse_command("REGISTERED TORECV bob");
    BOOST_TEST((r.kind == k::registered));
    BOOST_TEST((r.direction == tx::direction::torecv));
    BOOST_TEST(r.arg == "bob");
    auto const f = tx::parse_command("FORWARD alice\nContent-length: 5");
    BOOST_TEST((f.kind == k::forward));
    BOOST_TEST(f.arg == "alice");
    BOOST_TEST(f.content_length.value_or(0) == 5u);
    auto const s = tx::parse_command("SENT bob");
    BOOST_TEST((s.kind == k::sent));
    BOOST_TEST(s.arg == "bob");
  }
  {
    auto const u = tx::parse_command("HELLO there");
    BOOST_TEST((u.kind == k::unknown));
    BOOST_TEST(u.arg == "HELLO there");
    BOOST_TEST((tx::parse_command("").kind == k::unknown));
    BOOST_TEST((tx::parse_command("SENDX bob").kind == k::unknown));
    BOOST_TEST((tx::parse_command("send bob").kind == k::unknown));
    BOOST_TEST((tx::parse_command("\nSEND bob").kind == k::unknown));
  }
  {
    // Round trip through the encoders: the header is the frame before "\n\n".
    auto const frame = tx::send("bob", "hello");
    auto const at = frame.find(tx::delimiter);
    auto const c = tx::parse_command(std::string_view(frame).substr(0, at));
    BOOST_TEST((c.kind == k::send));
    BOOST_TEST(c.arg == "bob");
    BOOST_TEST(c.content_length.value_or(0) == 5u);
    BOOST_TEST(frame.substr(at + tx::delimiter.size()) == "hello");
    auto const reg = tx::register_line(tx::direction::torecv, "amy");
    BOOST_TEST((tx::parse_command(std::string_view(reg).substr(0, reg.size() - 2)).direction == tx::direction::torecv));
    auto const err = tx::error(hcp::hcp2::errc::unknown_recipient);
    auto const e = tx::parse_command(std::string_view(err).substr(0, err.size() - 2));
    BOOST_TEST(e.code == 102);
    BOOST_TEST(e.arg == "Unable to send");
  }
}

BOOST_AUTO_TEST_SUITE_END()
