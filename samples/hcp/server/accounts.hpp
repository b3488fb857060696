// server/accounts.hpp: accounts and signing in. An account is a name kept
// for its owner (the registry protects it while its owner is offline) and an
// argon2id password hash in the store. Hashing and verifying run on a small
// pool of their own, never on a network thread; every attempt is charged to
// two rate limits (per name and address, per address), so guessing is slow
// and nobody can lock an account's owner out. A new account's name follows
// the people rules (names.hpp) and must not look like another account's or
// an online user's; its password is at least --min-password-length bytes.
#pragma once

#include "config.hpp"
#include "names.hpp"
#include "passwords.hpp"
#include "presence.hpp"
#include "store.hpp"

#include <howdy.hpp>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace hcp {

class accounts {
 public:
  // Why a sign-in was refused: the code, and the reason (empty: the code's).
  struct refusal {
    hcp2::errc code;
    std::string reason;
  };

  accounts(const server_config& config, spdlog::logger& log, chat_store& store, presence& online)
      : config_(config),
        log_(log),
        store_(store),
        online_(online),
        name_attempts_(config.attempts_per_name),
        address_attempts_(config.attempts_per_address) {
    store_.rekey_accounts(name_likeness);  // likeness keys of older databases (or of another Unicode version)
  }

  accounts(const accounts&) = delete;
  accounts& operator=(const accounts&) = delete;

  // At startup: a stored account (its name is protected from now on).
  void restore(std::string name) {
    online_.names().protect(name);
    std::lock_guard lock(mutex_);
    names_.insert(std::move(name));
  }

  // Accounts that are not online now, for ROSTER.
  std::vector<std::string> offline() const {
    std::vector<std::string> out;
    std::lock_guard lock(mutex_);
    for (auto& a : names_)
      if (!online_.names().find(a)) out.push_back(a);
    return out;
  }

  // The account that LOGIN `name` means: that exact account, or else the one
  // whose name has the same key (`DAVE` signs in to `dave`); else `name`.
  std::string account_name(std::string_view name) const {
    {
      std::lock_guard lock(mutex_);
      if (names_.contains(name)) return std::string(name);
    }
    return online_.names().protected_name(name).value_or(std::string(name));
  }

  // After the network threads stopped: waits for the hashing threads.
  void stop() { hashing_.reset(); }

  // REGISTER (create = true) or LOGIN. Nothing: the password is right (or the
  // account is made) and the session may take the name.
  asio::awaitable<std::optional<refusal>> sign_in(std::string address, std::string who, std::string name,
                                                  std::string password, bool create) {
    // New passwords have the minimum length; stored ones (maybe from before it) are taken as they are.
    const std::size_t shortest = create ? std::min(config_.min_password_length, max_password_length) : 1;
    if (password.size() < shortest || password.size() > max_password_length)
      co_return refusal{hcp2::errc::invalid_password,
                        "password must be " + std::to_string(shortest) + " to " + std::to_string(max_password_length) + " bytes"};
    // Both limits are charged on every attempt. The name's bucket is per
    // address too, so that nobody can lock an account's owner out.
    const bool name_ok = name_attempts_.try_acquire(name + '\0' + address);
    const bool address_ok = address_attempts_.try_acquire(address);
    if (!name_ok || !address_ok) {
      log_.warn("{}: too many sign-in attempts ({})", who, name_ok ? "from this address" : "for this name");
      co_return refusal{hcp2::errc::too_many_attempts, {}};
    }
    if (create) co_return co_await create_account(std::move(who), std::move(name), std::move(password));
    auto [ec, hash] = co_await store_.async_password_hash(name, asio::experimental::as_tuple(asio::use_awaitable));
    if (ec == hcp2::errc::unknown_account) co_return refusal{hcp2::errc::unknown_account, {}};
    if (ec) {
      log_.warn("{}: could not read the account {}: {}", who, name, ec.message());
      co_return refusal{hcp2::errc::storage_failed, "could not read the account"};
    }
    auto [verify_error, ok] = co_await asio::co_spawn(*hashing_, verify_job(std::move(hash), std::move(password)),
                                                      asio::experimental::as_tuple(asio::use_awaitable));
    if (verify_error || !ok) {
      log_.info("{}: wrong password for {}", who, name);
      co_return refusal{hcp2::errc::wrong_password, {}};
    }
    co_return std::nullopt;
  }

 private:
  asio::awaitable<std::optional<refusal>> create_account(std::string who, std::string name, std::string password) {
    auto& names = online_.names();
    if (auto problem = name_problem(name)) co_return refusal{hcp2::errc::malformed_username, std::string(*problem)};
    if (auto ec = names.check(name)) co_return refusal{claim_error(ec), std::string(claim_reason(ec))};
    {
      // Protect the name while hashing, so that no guest takes it meanwhile.
      std::lock_guard lock(mutex_);
      if (names_.contains(name) || registering_.contains(name)) co_return refusal{hcp2::errc::name_registered, {}};
      // An account with the same key, or one that looks like it (protected,
      // so under this lock: another REGISTER of a look-alike sees this one).
      if (auto other = names.protected_like(name)) {
        if (names.is_protected(name)) co_return refusal{hcp2::errc::name_registered, {}};
        co_return refusal{hcp2::errc::name_registered, "that name looks like the registered name " + *other};
      }
      names.protect(name);
      // An online user with this name or one like it (checked after
      // protecting: none can take one now).
      if (auto other = names.held_like(name)) {
        names.unprotect(name);
        if (names.find(name)) co_return refusal{hcp2::errc::name_taken, {}};
        co_return refusal{hcp2::errc::name_taken, "that name looks like " + *other + ", who is online"};
      }
      registering_.insert(name);
    }
    auto [hash_error, hash] = co_await asio::co_spawn(*hashing_, hash_job(std::move(password), config_.pwhash),
                                                      asio::experimental::as_tuple(asio::use_awaitable));
    std::error_code ec;
    if (!hash_error)
      std::tie(ec) = co_await store_.async_create_account(name, name_likeness(name), hash,
                                                          asio::experimental::as_tuple(asio::use_awaitable));
    {
      std::lock_guard lock(mutex_);
      registering_.erase(name);
      if (!hash_error && !ec) names_.insert(name);
      else if (!names_.contains(name)) names.unprotect(name);
    }
    if (hash_error || ec) {
      log_.warn("{}: could not create the account {}: {}", who, name, hash_error ? "password hashing failed" : ec.message());
      if (ec == hcp2::errc::name_registered) co_return refusal{hcp2::errc::name_registered, {}};
      co_return refusal{hcp2::errc::storage_failed, "could not store the account"};
    }
    log_.info("{}: account created: {}", who, name);
    co_return std::nullopt;
  }

  // Jobs for the hashing pool. Plain functions, not capturing lambdas: GCC 12
  // frees a coroutine lambda's init-captures twice.
  static asio::awaitable<std::string> hash_job(std::string password, pwhash_cost cost) {
    co_return hash_password(password, cost);
  }
  static asio::awaitable<bool> verify_job(std::string hash, std::string password) {
    co_return verify_password(hash, password);
  }

  const server_config& config_;
  spdlog::logger& log_;
  chat_store& store_;
  presence& online_;
  howdy::rate_limiter name_attempts_;
  howdy::rate_limiter address_attempts_;
  mutable std::mutex mutex_;
  std::set<std::string, std::less<>> names_;        // for ROSTER; the registry protects the same names
  std::set<std::string, std::less<>> registering_;  // accounts being created
  // argon2id: slow on purpose, never on a network thread. Last, so that it
  // goes first: jobs it abandons hold session frames, whose leases need the registry.
  std::optional<asio::thread_pool> hashing_{std::in_place, 2};
};

}  // namespace hcp
