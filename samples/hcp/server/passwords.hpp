// server/passwords.hpp: account passwords: libsodium's argon2id (crypto_pwhash_str), whose hash
// string carries its own salt and cost, so verifying needs nothing else.
// Both functions are deliberately slow and memory-hungry (that is the point of
// a password hash): call them off the network threads. Nothing here logs or
// keeps a password.
#pragma once

#include <sodium.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace hcp {

// interactive: libsodium's recommendation for online logins (~64 MiB, ~0.1 s).
// min: the cheapest it allows, for tests only.
enum class pwhash_cost { interactive, min };

namespace detail {
inline void sodium_init_once() {
  // A function-local static is initialized exactly once even with concurrent
  // callers; sodium_init itself is also safe to call again.
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium cannot be initialized");
}
}  // namespace detail

// The crypto_pwhash_str string (ASCII, "$argon2id$..."), with a fresh salt.
// Throws std::runtime_error on failure (in practice: out of memory).
inline std::string hash_password(std::string_view password, pwhash_cost cost) {
  detail::sodium_init_once();
  const bool min = cost == pwhash_cost::min;
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.empty() ? "" : password.data(), password.size(),
                        min ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        min ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    throw std::runtime_error("password hashing failed (out of memory?)");
  return std::string(out);
}

// Whether `password` matches `hash` (as made by hash_password, whatever its
// cost). A malformed hash is simply a mismatch.
inline bool verify_password(std::string_view hash, std::string_view password) {
  detail::sodium_init_once();
  // libsodium reads the hash as a NUL-terminated string of bounded length.
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES || hash.find('\0') != std::string_view::npos) return false;
  const std::string terminated(hash);
  return crypto_pwhash_str_verify(terminated.c_str(), password.empty() ? "" : password.data(), password.size()) == 0;
}

}  // namespace hcp
