// server/names.hpp: the rules for people's names, the same on every
// protocol (HCP/1, HCP/2, the text protocol; docs/protocol.md 2.15). Each
// protocol keeps its own byte rules on top (HCP/1 and HCP/2: 1..64 bytes of
// UTF-8 without 0x00..0x05; text: ASCII letters and digits); these are for
// people:
//   - not blank, no white space at either end (Unicode White_Space: NBSP and
//     the ideographic space too), no control or invisible characters
//     (general categories Cc, Cf, Zl, Zp, Cn, and Default_Ignorable_Code_Point:
//     zero-width joiner and space, soft hyphen, variation selectors, ...);
//   - no `/` or `@` first (they start commands and whisper syntax), in any
//     form that normalizes to them (fullwidth `／`, small `﹫`);
//   - one name per NFKC case folding (ICU's nfkc_cf, as PRECIS
//     UsernameCaseMapped, RFC 8265, maps names): `DAVE`, `dave` and `ｄａｖｅ`
//     are one name, as are `All` and `all` (reserved);
//   - accounts also keep away every name with the same confusable skeleton
//     (ICU uspoof, UTS #39, of the folded name): `dаve` with a Cyrillic а
//     cannot sit beside the account `dave`, nor become an account beside it.
// The registry (presence.hpp) gets name_key and name_likeness through
// people_name_rules(); sessions call name_problem() first, to say why a
// name is refused.
#pragma once

#include <howdy.hpp>

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uspoof.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hcp {

namespace detail {

inline const icu::Normalizer2* nfkc_casefold() {
  static const icu::Normalizer2* n = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* p = icu::Normalizer2::getNFKCCasefoldInstance(status);
    return U_SUCCESS(status) ? p : nullptr;
  }();
  return n;
}

// uspoof_getSkeleton* may be called from several threads on one checker.
inline const USpoofChecker* spoof_checker() {
  struct closer {
    void operator()(USpoofChecker* c) const { uspoof_close(c); }
  };
  static const std::unique_ptr<USpoofChecker, closer> checker = [] {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<USpoofChecker, closer> c(uspoof_open(&status));
    return U_SUCCESS(status) ? std::move(c) : nullptr;
  }();
  return checker.get();
}

// A character that shows nothing, or controls the text around it.
inline bool is_invisible(UChar32 c) {
  switch (u_charType(c)) {
    case U_CONTROL_CHAR:         // Cc
    case U_FORMAT_CHAR:          // Cf: ZWJ, ZWNJ, bidi controls, soft hyphen...
    case U_LINE_SEPARATOR:       // Zl
    case U_PARAGRAPH_SEPARATOR:  // Zp
    case U_UNASSIGNED:           // Cn: its normalization may change with Unicode
    case U_SURROGATE:
      return true;
    default:
      // U+2800 BRAILLE PATTERN BLANK is a symbol (So) that shows nothing.
      return c == 0x2800 || u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
  }
}

}  // namespace detail

// The name's key: its NFKC case folding. Names with the same key are one
// name. (Not UTF-8: the name itself, which the registry refuses anyway.)
inline std::string name_key(std::string_view name) {
  // ASCII (most names, and every lookup of one): NFKC case folding only
  // lowers its letters. Saves ICU's normalizer on the registry's hot lookups.
  if (std::all_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) {
    std::string out(name);
    for (char& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }
  const auto* n = detail::nfkc_casefold();
  if (!n) return std::string(name);
  std::string out;
  icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(name.size()));
  UErrorCode status = U_ZERO_ERROR;
  n->normalizeUTF8(0, icu::StringPiece(name.data(), static_cast<int32_t>(name.size())), sink, nullptr, status);
  return U_SUCCESS(status) ? out : std::string(name);
}

// The confusable skeleton of the name's key: names that look alike have the
// same one (`dave`, `dаve` with a Cyrillic а, `DAVE`).
inline std::string name_likeness(std::string_view name) {
  const std::string key = name_key(name);
  const auto* checker = detail::spoof_checker();
  if (!checker) return key;
  std::string out(key.size() * 3 + 16, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    UErrorCode status = U_ZERO_ERROR;
    const int32_t n = uspoof_getSkeletonUTF8(checker, 0, key.data(), static_cast<int32_t>(key.size()), out.data(),
                                             static_cast<int32_t>(out.size()), &status);
    if (status == U_BUFFER_OVERFLOW_ERROR) {
      out.assign(static_cast<std::size_t>(n) + 1, '\0');
      continue;
    }
    if (U_FAILURE(status)) return key;
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
  return key;
}

// Why `name` is not a person's name, or nothing. (Byte rules, such as
// HCP's 64-byte limit, are the protocol's.)
inline std::optional<std::string_view> name_problem(std::string_view name) {
  const auto* s = reinterpret_cast<const std::uint8_t*>(name.data());
  const auto length = static_cast<int32_t>(name.size());
  bool all_space = true, first_space = false, last_space = false;
  for (int32_t i = 0; i < length;) {
    UChar32 c;
    const int32_t at = i;
    U8_NEXT(s, i, length, c);
    if (c < 0) return "a name must be valid UTF-8";
    if (detail::is_invisible(c)) return "a name cannot contain control or invisible characters";
    const bool space = u_isUWhiteSpace(c);
    if (at == 0) first_space = space;
    last_space = space;
    // Blank: nothing but white space, or marks with nothing to sit on (a name
    // of combining marks alone shows as nothing, or as floating marks).
    const auto category = u_charType(c);
    all_space = all_space && (space || category == U_NON_SPACING_MARK || category == U_ENCLOSING_MARK);
  }
  if (all_space) return "a name cannot be blank";
  if (first_space || last_space) return "a name cannot start or end with a space";
  const std::string key = name_key(name);
  if (!key.empty() && (key.front() == '/' || key.front() == '@')) return "a name cannot start with / or @";
  return std::nullopt;
}

// The registry's rules for people's names (presence.hpp).
inline howdy::name_rules people_name_rules() {
  howdy::name_rules rules;
  rules.allow = [](char32_t c) { return !detail::is_invisible(static_cast<UChar32>(c)); };
  rules.key = name_key;
  rules.likeness = name_likeness;
  return rules;
}

}  // namespace hcp
