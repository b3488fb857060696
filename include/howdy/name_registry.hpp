// Unique names for live owners. Claiming a name gives a lease that frees it
// when destroyed (so a disconnect frees it too); watchers hear every join and
// leave in one global order, numbered so that a snapshot and the events that
// follow it fit together. A protected name is kept for whoever the caller
// decides holds it (an account, a reservation): only claim_protected() takes it.
// Names are compared by a key: their bytes, ASCII-folded, or what the caller's
// rules.key makes of them (say, a Unicode case folding); each holder keeps the
// name as it claimed it. A protected name also keeps away names that merely
// look like it, when the rules give a likeness key (say, confusable skeletons).
#pragma once

#include <howdy/detail/ascii.hpp>
#include <howdy/detail/utf8.hpp>
#include <howdy/error.hpp>

#include <asio/async_result.hpp>
#include <asio/compose.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/system_executor.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace howdy {

struct name_rules {
  std::size_t min_bytes = 1;
  std::size_t max_bytes = 64;
  bool case_insensitive = false;  // "Bob" and "bob" are the same name (ASCII letters)
  // Which code points may appear; the default refuses control characters.
  std::function<bool(char32_t)> allow = [](char32_t c) { return c >= 0x20 && c != 0x7F && !(c >= 0x80 && c < 0xA0); };
  // Names with the same key are one name: for uniqueness, find(), the
  // reserved names and protection. Empty: the name's bytes (ASCII letters
  // lowered with case_insensitive). Called on names that passed accepts(),
  // and by protect(), outside the registry's lock.
  std::function<std::string(std::string_view)> key{};
  // Names with the same likeness key look alike: claim() refuses a name that
  // looks like a protected one (name_held), and held_like() / protected_like()
  // find look-alikes. Empty: the key. Names with the same key must have the
  // same likeness key.
  std::function<std::string(std::string_view)> likeness{};

  // True if `name` is min_bytes..max_bytes of strict UTF-8 whose every code
  // point `allow` accepts (any, without `allow`). Case folding plays no part.
  bool accepts(std::string_view name) const {
    if (name.size() < min_bytes || name.size() > max_bytes) return false;
    for (std::size_t pos = 0; pos < name.size();) {
      const auto cp = detail::next_code_point(name, pos);
      if (!cp || (allow && !allow(*cp))) return false;
    }
    return true;
  }
};

enum class presence { joined, left };

struct presence_event {
  presence change;
  std::string name;
  std::uint64_t sequence;  // increases by one per event, across all names
};

// `Owner` is what a name leads to (say, a handle to the session's outbox).
template <class Owner>
class name_registry {
  struct entry {
    std::string name;  // as claimed (the key may be case-folded)
    Owner owner;
    std::uint64_t joined;  // sequence of the join event, for listing in join order
    std::string like;      // likeness key
  };

 public:
  // Hears the event and the owner that joined or left.
  using watcher = std::function<void(const presence_event&, const Owner&)>;

  // A claimed name. Destroying it (or release()) frees the name.
  class lease {
   public:
    lease() = default;
    lease(lease&& o) noexcept : registry_(std::exchange(o.registry_, nullptr)), key_(std::move(o.key_)), name_(std::move(o.name_)) {}
    lease& operator=(lease&& o) noexcept {
      release();
      registry_ = std::exchange(o.registry_, nullptr);
      key_ = std::move(o.key_);
      name_ = std::move(o.name_);
      return *this;
    }
    ~lease() { release(); }

    const std::string& name() const noexcept { return name_; }
    explicit operator bool() const noexcept { return registry_ != nullptr; }
    void release() {
      if (registry_) std::exchange(registry_, nullptr)->erase(key_);
    }

   private:
    friend class name_registry;
    lease(name_registry* r, std::string key, std::string name) : registry_(r), key_(std::move(key)), name_(std::move(name)) {}
    name_registry* registry_ = nullptr;
    std::string key_;
    std::string name_;
  };

  struct snapshot_type {
    std::vector<std::string> names;  // in join order
    std::uint64_t sequence;          // events up to this one are included
  };

  explicit name_registry(name_rules rules = {}, std::vector<std::string> reserved = {}) : rules_(std::move(rules)) {
    for (auto& r : reserved) reserved_.push_back(key_of(r));
  }

  name_registry(const name_registry&) = delete;
  name_registry& operator=(const name_registry&) = delete;

  // Checks the rules and the reserved names, without claiming.
  std::error_code check(std::string_view name) const {
    if (!rules_.accepts(name)) return error::name_invalid;
    if (std::find(reserved_.begin(), reserved_.end(), key_of(name)) != reserved_.end()) return error::name_reserved;
    return {};
  }

  // Claims `name` for `owner`. On failure the lease is empty and `ec` says why:
  // error::name_invalid, name_reserved, name_held or name_taken.
  lease claim(std::string_view name, Owner owner, std::error_code& ec) {
    return claim_as(name, std::move(owner), ec, false);
  }

  // Claims a name whether or not it is protected: for its account holder, once
  // the caller has checked who that is. Still name_taken while someone holds it.
  lease claim_protected(std::string_view name, Owner owner, std::error_code& ec) {
    return claim_as(name, std::move(owner), ec, true);
  }

  // claim() refuses a protected name (error::name_held) even while nobody
  // holds it; claim_protected() takes it. Protecting a claimed name does not
  // take it from its owner.
  void protect(std::string_view name) {
    std::string key = key_of(name);
    std::string like = like_of(name, key);
    std::lock_guard lock(mutex_);
    if (protected_.try_emplace(key, std::string(name)).second && rules_.likeness)
      protected_likes_.emplace(std::move(like), std::move(key));
  }

  void unprotect(std::string_view name) {
    const std::string key = key_of(name);
    const std::string like = like_of(name, key);
    std::lock_guard lock(mutex_);
    if (protected_.erase(key) == 0) return;
    auto [first, last] = protected_likes_.equal_range(like);
    for (auto it = first; it != last; ++it)
      if (it->second == key) {
        protected_likes_.erase(it);
        break;
      }
  }

  // True if a name with the same key is protected.
  bool is_protected(std::string_view name) const {
    const std::string key = key_of(name);
    std::lock_guard lock(mutex_);
    return protected_.contains(key);
  }

  // The protected name with the same key as `name`, as it was protected.
  std::optional<std::string> protected_name(std::string_view name) const {
    const std::string key = key_of(name);
    std::lock_guard lock(mutex_);
    auto it = protected_.find(key);
    if (it == protected_.end()) return std::nullopt;
    return it->second;
  }

  // A protected name that looks like `name` (the same likeness key), if any:
  // the one with the same key first.
  std::optional<std::string> protected_like(std::string_view name) const {
    const std::string key = key_of(name);
    const std::string like = like_of(name, key);
    std::lock_guard lock(mutex_);
    if (auto it = protected_.find(key); it != protected_.end()) return it->second;
    if (auto it = protected_likes_.find(like); it != protected_likes_.end()) return protected_.at(it->second);
    return std::nullopt;
  }

  // A claimed name that looks like `name`, if any: the one with the same key first.
  std::optional<std::string> held_like(std::string_view name) const {
    const std::string key = key_of(name);
    const std::string like = like_of(name, key);
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(key); it != entries_.end()) return it->second.name;
    if (auto it = held_likes_.find(like); it != held_likes_.end()) return entries_.at(it->second).name;
    return std::nullopt;
  }

  // The asynchronous form of claim(), void(std::error_code, lease): what a
  // registry shared between servers needs, so that sessions written against it
  // keep working when the names live elsewhere. This in-memory registry claims
  // at once and completes as if by post to the handler's associated executor,
  // by default `ex` (the caller's I/O executor, say the session's socket's).
  // Terminal cancellation before the handler runs gives back the name (its
  // watchers see it join and leave) and completes with operation_aborted.
  template <class Executor, class CompletionToken>
  auto async_claim(const Executor& ex, std::string name, Owner owner, CompletionToken&& token) {
    return asio::async_compose<CompletionToken, void(std::error_code, lease)>(
        claim_op{*this, std::move(name), std::move(owner)}, token, ex);
  }

  // The same with no executor of the caller's: a plain callback then runs on
  // Asio's system executor (bind_executor one to it); a coroutine's handler
  // has its own.
  template <class CompletionToken>
  auto async_claim(std::string name, Owner owner, CompletionToken&& token) {
    return async_claim(asio::system_executor(), std::move(name), std::move(owner),
                       std::forward<CompletionToken>(token));
  }

  std::optional<Owner> find(std::string_view name) const {
    const std::string key = key_of(name);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second.owner;
  }

  // For each name of `names`, in order: fn(name, owner, is_protected) with
  // `owner` the holder's (nullptr if nobody holds the name), all under one
  // lock: a whole list's lookups for the price of one.
  template <class Range, class Fn>
  void find_each(const Range& names, Fn&& fn) const {
    std::vector<std::string> keys;
    for (const auto& name : names) keys.push_back(key_of(name));
    std::lock_guard lock(mutex_);
    std::size_t i = 0;
    for (const auto& name : names) {
      const auto& key = keys[i++];
      auto it = entries_.find(key);
      fn(name, it == entries_.end() ? nullptr : &it->second.owner, protected_.contains(key));
    }
  }

  // The name as its holder claimed it, for a name with the same key.
  std::optional<std::string> name_of(std::string_view name) const {
    const std::string key = key_of(name);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    return it->second.name;
  }

  // Calls `fn(name, owner)` for every name, under the registry's lock.
  template <class Fn>
  void for_each(Fn&& fn) const {
    std::lock_guard lock(mutex_);
    for (const auto& [key, e] : entries_) fn(e.name, e.owner);
  }

  snapshot_type snapshot() const {
    std::lock_guard lock(mutex_);
    std::vector<const entry*> all;
    all.reserve(entries_.size());
    for (const auto& kv : entries_) all.push_back(&kv.second);
    std::sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->joined < b->joined; });
    snapshot_type s{{}, sequence_};
    s.names.reserve(all.size());
    for (auto* e : all) s.names.push_back(e->name);
    return s;
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
  }

  // Calls `w(event)` or `w(event, owner)` for every later join and leave, in
  // order, while holding the registry's lock: keep it short (post real work
  // elsewhere), and do not call back into the registry from it. Returns an id
  // for unwatch().
  template <class Watcher>
  std::uint64_t watch(Watcher w) {
    watcher wrapped;
    if constexpr (std::is_invocable_v<Watcher&, const presence_event&, const Owner&>)
      wrapped = std::move(w);
    else
      wrapped = [w = std::move(w)](const presence_event& e, const Owner&) mutable { w(e); };
    std::lock_guard lock(mutex_);
    watchers_.emplace(++next_watcher_, std::move(wrapped));
    return next_watcher_;
  }

  void unwatch(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    watchers_.erase(id);
  }

  const name_rules& rules() const noexcept { return rules_; }

 private:
  struct claim_op {
    name_registry& registry;
    std::string name;
    Owner owner;
    std::error_code ec{};
    lease claimed{};
    bool started = false;

    template <class Self>
    void operator()(Self& self) {
      if (!std::exchange(started, true)) {
        claimed = registry.claim(name, std::move(owner), ec);
        asio::post(std::move(self));  // never complete inside the initiating call
        return;
      }
      if (self.get_cancellation_state().cancelled() != asio::cancellation_type::none) {
        claimed.release();
        ec = asio::error::operation_aborted;
      }
      self.complete(ec, std::move(claimed));
    }
  };

  std::string key_of(std::string_view name) const {
    if (rules_.key) return rules_.key(name);
    std::string key(name);
    if (rules_.case_insensitive)
      for (char& c : key) c = detail::ascii_lower(c);
    return key;
  }

  // Only kept in protected_likes_ and held_likes_ when the rules have a likeness.
  std::string like_of(std::string_view name, const std::string& key) const {
    return rules_.likeness ? rules_.likeness(name) : key;
  }

  lease claim_as(std::string_view name, Owner owner, std::error_code& ec, bool may_take_protected) {
    ec = check(name);
    if (ec) return {};
    std::string key = key_of(name);
    std::string like = rules_.likeness ? rules_.likeness(name) : std::string();
    std::lock_guard lock(mutex_);
    // Before name_taken: the claimer learns the name is held for someone, not merely in use.
    if (!may_take_protected && (protected_.contains(key) || protected_likes_.contains(like))) {
      ec = error::name_held;
      return {};
    }
    auto [it, inserted] = entries_.try_emplace(key, entry{std::string(name), std::move(owner), sequence_ + 1, like});
    if (!inserted) {
      ec = error::name_taken;
      return {};
    }
    if (rules_.likeness) held_likes_.emplace(std::move(like), key);  // without, the key is the likeness key
    notify({presence::joined, it->second.name, ++sequence_}, it->second.owner);
    return lease(this, std::move(key), std::string(name));
  }

  void erase(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    entry gone = std::move(it->second);
    entries_.erase(it);
    auto [first, last] = held_likes_.equal_range(gone.like);
    for (auto h = first; h != last; ++h)
      if (h->second == key) {
        held_likes_.erase(h);
        break;
      }
    notify({presence::left, std::move(gone.name), ++sequence_}, gone.owner);
  }

  void notify(const presence_event& e, const Owner& owner) {
    for (auto& [id, w] : watchers_) w(e, owner);
  }

  name_rules rules_;
  std::vector<std::string> reserved_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;
  std::unordered_map<std::string, std::string> protected_;             // key -> the name as protected
  std::unordered_multimap<std::string, std::string> protected_likes_;  // likeness key -> key of protected_
  std::unordered_multimap<std::string, std::string> held_likes_;       // likeness key -> key of entries_
  std::map<std::uint64_t, watcher> watchers_;
  std::uint64_t sequence_ = 0;
  std::uint64_t next_watcher_ = 0;
};

}  // namespace howdy
