// The chat server's rules for people's names (samples/hcp/server/names.hpp):
// the key (NFKC case folding), the likeness (confusable skeletons) and the
// reasons a name is refused.
#include <boost/test/unit_test.hpp>

#include "hcp/server/names.hpp"

#include <string>

BOOST_AUTO_TEST_SUITE(people_names)

BOOST_AUTO_TEST_CASE(key_folds_case_and_compatibility_forms) {
  BOOST_TEST(hcp::name_key("DAVE") == "dave");
  BOOST_TEST(hcp::name_key("Dave-99_x") == "dave-99_x");
  BOOST_TEST(hcp::name_key("\xEF\xBD\x84\xEF\xBD\x81\xEF\xBD\x96\xEF\xBD\x85") == "dave");  // fullwidth ｄａｖｅ
  BOOST_TEST(hcp::name_key("\xC3\x89LO\xC3\x8FSE") == "\xC3\xA9lo\xC3\xAFse");                 // ÉLOÏSE -> éloïse
  BOOST_TEST(hcp::name_key("Stra\xC3\x9F" "e") == "strasse");                                   // ß folds to ss
  // The Cyrillic а is another letter: another key, but the same likeness.
  const std::string cyrillic = "d\xD0\xB0ve";
  BOOST_TEST(hcp::name_key(cyrillic) != "dave");
  BOOST_TEST(hcp::name_likeness(cyrillic) == hcp::name_likeness("dave"));
  BOOST_TEST(hcp::name_likeness("DAVE") == hcp::name_likeness("dave"));
  BOOST_TEST(hcp::name_likeness("carol") != hcp::name_likeness("dave"));
}

// The ASCII fast path gives what ICU's folding gives, for every ASCII byte.
BOOST_AUTO_TEST_CASE(ascii_key_is_icu_folding) {
  const auto* icu_fold = hcp::detail::nfkc_casefold();
  BOOST_TEST_REQUIRE(icu_fold != nullptr);
  for (int c = 0x01; c < 0x80; ++c) {
    const std::string name = std::string("a") + static_cast<char>(c) + "Z";
    UErrorCode status = U_ZERO_ERROR;
    std::string expected;
    icu::StringByteSink<std::string> sink(&expected);
    icu_fold->normalizeUTF8(0, icu::StringPiece(name.data(), static_cast<int32_t>(name.size())), sink, nullptr,
                            status);
    BOOST_TEST_REQUIRE(U_SUCCESS(status));
    BOOST_TEST(hcp::name_key(name) == expected, "byte 0x" << std::hex << c);
  }
}

BOOST_AUTO_TEST_CASE(problems_are_named) {
  BOOST_TEST(!hcp::name_problem("dave"));
  BOOST_TEST(!hcp::name_problem("Mary Jane"));
  BOOST_TEST(!hcp::name_problem("\xC3\xA9lo\xC3\xAFse"));
  BOOST_TEST(*hcp::name_problem("   ") == "a name cannot be blank");
  BOOST_TEST(*hcp::name_problem("\xC2\xA0") == "a name cannot be blank");  // NBSP
  BOOST_TEST(*hcp::name_problem("\xCC\x81\xCC\x81") == "a name cannot be blank");  // combining acute accents alone
  BOOST_TEST(!hcp::name_problem("Jose\xCC\x81"));                                    // José, decomposed: a mark at the end is fine
  BOOST_TEST(*hcp::name_problem("\xE2\xA0\x80\xE2\xA0\x80") ==
             "a name cannot contain control or invisible characters");  // U+2800 BRAILLE PATTERN BLANK
  BOOST_TEST(*hcp::name_problem(" dave") == "a name cannot start or end with a space");
  BOOST_TEST(*hcp::name_problem("dave ") == "a name cannot start or end with a space");
  BOOST_TEST(*hcp::name_problem("da\xE2\x80\x8Bve") == "a name cannot contain control or invisible characters");  // ZWSP
  BOOST_TEST(*hcp::name_problem("da\tve") == "a name cannot contain control or invisible characters");
  BOOST_TEST(*hcp::name_problem("/quit") == "a name cannot start with / or @");
  BOOST_TEST(*hcp::name_problem("@all") == "a name cannot start with / or @");
  BOOST_TEST(*hcp::name_problem("\xEF\xBC\x8Fquit") == "a name cannot start with / or @");  // fullwidth solidus
  BOOST_TEST(*hcp::name_problem("\xFF") == "a name must be valid UTF-8");
}

BOOST_AUTO_TEST_SUITE_END()
