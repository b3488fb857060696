// server/store.hpp (chat_store): what the chat server keeps across restarts: accounts (name, password
// hash, and the name's likeness key: names.hpp),
// room memberships of accounts, history cursors, and stored messages
// (whispers to accounts, room messages), with a bounded number per room and
// per user.
//
// One SQLite connection, used only by a howdy::batch_worker thread: every
// operation is a job there, and each batch of jobs is one transaction
// (BEGIN IMMEDIATE ... COMMIT), so a busy server pays for one commit per batch
// rather than per message, and an operation completes only after the commit
// that made it durable. The network threads never touch SQLite.
//
// Durability: WAL journal with synchronous=NORMAL. A commit appends to the WAL
// file with a write() and no fsync, so it survives the process being killed
// (kill -9, a crash: the data is in the OS page cache and the next open
// replays the WAL); only an OS crash or power loss may lose the last commits,
// and never corrupts the database. Fsyncing every commit (FULL) would cost
// far more than the batching saves, for a guarantee a chat server need not give.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/bind_executor.hpp>
#include <asio/post.hpp>
#include <asio/use_future.hpp>
#include <chrono>
#include <climits>
#include <cstdint>
#include <functional>
#include <howdy/batch_worker.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "../wire/common.hpp"  // now_us()
#include "../wire/hcp2.hpp"
#include "sqlite.hpp"

namespace hcp {

// now_us(): wire/common.hpp.

struct stored_message {
  std::uint64_t id = 0;
  std::uint64_t timestamp_us = 0;
  hcp2::target_kind kind{};  // user (a whisper to `target`) or room (a message to room `target`)
  std::string sender, target, text;
};

struct store_options {
  std::string path = "howdy.db";      // ":memory:" for a database that lives as long as the store
  bool history = true;                // false: async_append stores nothing (accounts, rooms, cursors still are)
  std::size_t room_retention = 1000;  // messages kept per room (at least 1)
  std::size_t user_retention = 1000;  // whispers kept per recipient (at least 1)
  std::size_t max_batch = 256;        // operations per transaction
};

class chat_store {
 public:
  // Opens (creating if needed) the database and its schema. Throws
  // std::runtime_error("cannot open database PATH: reason").
  explicit chat_store(store_options o) : options_(std::move(o)) {
    options_.room_retention = std::max<std::size_t>(options_.room_retention, 1);
    options_.user_retention = std::max<std::size_t>(options_.user_retention, 1);
    try {
      open();
    } catch (const std::exception& e) {
      close();
      throw std::runtime_error("cannot open database " + options_.path + ": " + e.what());
    }
    worker_ = std::make_unique<howdy::batch_worker>(howdy::batch_worker_options{
        .max_batch = options_.max_batch,
        .begin_batch = [this] { begin_batch(); },
        .end_batch = [this] { return end_batch(); },
    });
  }

  // Runs every queued operation (committing it), then closes.
  ~chat_store() {
    worker_.reset();
    close();
  }

  chat_store(const chat_store&) = delete;
  chat_store& operator=(const chat_store&) = delete;

  // For startup, before serving: block the calling thread (never a completion
  // of this store's operations) until the worker answered. Throw
  // std::system_error on a database error.
  std::vector<std::string> account_names();

  // Stores `likeness(name)` as every account's likeness key where it differs
  // (accounts made before keys were kept, or keys of an older Unicode).
  void rekey_accounts(const std::function<std::string(std::string_view)>& likeness);

  // The greatest message id, history cursor or membership start ever stored:
  // ids continue above it after a restart. (Retention never deletes a room's
  // or user's newest message, so the greatest message id survives pruning.)
  std::uint64_t max_id();

  // Creates an account. void(std::error_code): hcp2::errc::name_registered if
  // `name` has one already, or (with a likeness key) an account has the same key.
  template <class Token>
  auto async_create_account(std::string name, std::string hash, Token&& token) {
    return create_account(std::move(name), std::nullopt, std::move(hash), std::forward<Token>(token));
  }
  template <class Token>
  auto async_create_account(std::string name, std::string likeness, std::string hash, Token&& token) {
    return create_account(std::move(name), std::move(likeness), std::move(hash), std::forward<Token>(token));
  }

  // void(std::error_code, std::string hash): hcp2::errc::unknown_account if none.
  template <class Token>
  auto async_password_hash(std::string name, Token&& token) {
    return submit<std::string>(
        [this, name = std::move(name)] {
          detail::query q(stmt_->account_hash);
          q.bind_text(1, name);
          if (!q.step()) return std::tuple{make_error_code(hcp2::errc::unknown_account), std::string()};
          return std::tuple{std::error_code{}, q.text(0)};
        },
        std::forward<Token>(token));
  }

  // Stores a whisper (kind user: to account `target`) or a room message (kind
  // room), id and timestamp as given. void(std::error_code), after the commit;
  // std::errc::invalid_argument for another kind. With history off it
  // completes (successfully, never inline) without storing.
  template <class Token>
  auto async_append(stored_message m, Token&& token) {
    return asio::async_initiate<Token, void(std::error_code)>(
        [this](auto handler, stored_message m) {
          if (!options_.history) {
            auto ex = asio::get_associated_executor(handler);
            asio::post(ex, [h = std::move(handler)]() mutable { std::move(h)(std::error_code{}); });
            return;
          }
          submit<>([this, m = std::move(m)] { return std::tuple{append_now(m)}; }, std::move(handler));
        },
        token, std::move(m));
  }

  // Stored messages for `user` with id > after (nullopt: the user's cursor),
  // oldest first: whispers to `user`, and messages of the rooms `user` is a
  // member of with id > the membership's since_id, except those `user` sent.
  // At most max_count, and about max_bytes (text + sender + target; always at
  // least one if any). void(std::error_code, std::vector<stored_message>, bool
  // more): more = others remain.
  template <class Token>
  auto async_history(std::string user, std::optional<std::uint64_t> after, std::size_t max_count, std::size_t max_bytes,
                     Token&& token) {
    return submit<std::vector<stored_message>, bool>(
        [this, user = std::move(user), after, max_count, max_bytes] {
          return history_now(user, after, max_count, max_bytes);
        },
        std::forward<Token>(token));
  }

  // void(std::error_code, std::vector<std::string>): the rooms `user` is a
  // (durable) member of, in joining order.
  template <class Token>
  auto async_rooms_of(std::string user, Token&& token) {
    return submit<std::vector<std::string>>(
        [this, user = std::move(user)] {
          return std::tuple{std::error_code{}, column(stmt_->rooms_of, user)};
        },
        std::forward<Token>(token));
  }

  // void(std::error_code, std::vector<std::string>): the members of `room`
  // that have an account, in joining order.
  template <class Token>
  auto async_room_members(std::string room, Token&& token) {
    return submit<std::vector<std::string>>(
        [this, room = std::move(room)] {
          return std::tuple{std::error_code{}, column(stmt_->room_members, room)};
        },
        std::forward<Token>(token));
  }

  // Fire and forget (in order with everything else; dropped only if the
  // worker's queue is full or it stopped, or on a database error).

  // cursor = max(cursor, id).
  void set_cursor(std::string user, std::uint64_t id) {
    fire([this, user = std::move(user), id] {
      detail::query(stmt_->set_cursor).bind_text(1, user).bind(2, detail::to_db(id)).step();
    });
  }

  // Keeps the first since_id if `user` is a member already.
  void join_room(std::string room, std::string user, std::uint64_t since_id) {
    fire([this, room = std::move(room), user = std::move(user), since_id] {
      detail::query(stmt_->join).bind_text(1, room).bind_text(2, user).bind(3, detail::to_db(since_id)).step();
    });
  }

  void leave_room(std::string room, std::string user) {
    fire([this, room = std::move(room), user = std::move(user)] {
      detail::query(stmt_->leave).bind_text(1, room).bind_text(2, user).step();
    });
  }

  howdy::batch_worker& worker() { return *worker_; }

 private:
  template <class Token>
  auto create_account(std::string name, std::optional<std::string> likeness, std::string hash, Token&& token) {
    return submit<>(
        [this, name = std::move(name), likeness = std::move(likeness), hash = std::move(hash)] {
          detail::query q(stmt_->insert_account);
          q.bind_text(1, name).bind_text(2, hash).bind(3, detail::to_db(now_us()));
          if (likeness) q.bind_text(4, *likeness);  // unbound: NULL, which equals no key
          q.step();
          return std::tuple{sqlite3_changes(db_) == 0 ? make_error_code(hcp2::errc::name_registered)
                                                      : std::error_code{}};
        },
        std::forward<Token>(token));
  }

  // Cached statements. Kinds are literals in the SQL; they must match the wire.
  static_assert(static_cast<int>(hcp2::target_kind::user) == 1 && static_cast<int>(hcp2::target_kind::room) == 2);
  struct statements {
    explicit statements(sqlite3* db)
        : begin(db, "BEGIN IMMEDIATE"),
          commit(db, "COMMIT"),
          rollback(db, "ROLLBACK"),
          // Not where another account has the same likeness key (a look-alike name).
          insert_account(db,
                         "INSERT INTO accounts(name, hash, created_us, likeness) SELECT ?1, ?2, ?3, ?4 "
                         "WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE likeness = ?4) "
                         "ON CONFLICT(name) DO NOTHING"),
          account_hash(db, "SELECT hash FROM accounts WHERE name = ?1"),
          account_names(db, "SELECT name FROM accounts ORDER BY name"),
          account_keys(db, "SELECT name, likeness FROM accounts"),
          set_account_key(db, "UPDATE accounts SET likeness = ?2 WHERE name = ?1"),
          insert_message(db, "INSERT INTO messages(id, ts, kind, sender, target, body) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"),
          count_target(db, "SELECT count(*) FROM messages WHERE kind = ?1 AND target = ?2"),
          prune_target(db,
                       "DELETE FROM messages WHERE id IN "
                       "(SELECT id FROM messages WHERE kind = ?1 AND target = ?2 ORDER BY id LIMIT ?3)"),
          cursor(db, "SELECT last_id FROM cursors WHERE user = ?1"),
          // Index walks on (kind, target, id): the user's whispers, and each of
          // its rooms from the membership's since_id (CROSS JOIN keeps SQLite
          // from scanning every room instead); only ids are sorted, the rows
          // of the page are read after.
          history(db,
                  "WITH picked(id) AS ("
                  "SELECT id FROM messages WHERE kind = 1 AND target = ?1 AND id > ?2 "
                  "UNION ALL "
                  "SELECT g.id FROM members AS m CROSS JOIN messages AS g "
                  "ON g.kind = 2 AND g.target = m.room AND g.id > max(?2, m.since_id) "
                  "WHERE m.user = ?1 AND g.sender <> ?1 "
                  "ORDER BY 1 LIMIT ?3) "
                  "SELECT g.id, g.ts, g.kind, g.sender, g.target, g.body FROM picked CROSS JOIN messages AS g "
                  "ON g.id = picked.id ORDER BY picked.id"),
          set_cursor(db,
                     "INSERT INTO cursors(user, last_id) VALUES(?1, ?2) "
                     "ON CONFLICT(user) DO UPDATE SET last_id = max(last_id, excluded.last_id)"),
          join(db, "INSERT INTO members(room, user, since_id) VALUES(?1, ?2, ?3) ON CONFLICT(room, user) DO NOTHING"),
          leave(db, "DELETE FROM members WHERE room = ?1 AND user = ?2"),
          rooms_of(db, "SELECT room FROM members WHERE user = ?1 ORDER BY rowid"),
          room_members(db,
                       "SELECT m.user FROM members AS m JOIN accounts AS a ON a.name = m.user "
                       "WHERE m.room = ?1 ORDER BY m.rowid"),
          max_id(db,
                 "SELECT max(coalesce((SELECT max(id) FROM messages), 0), "
                 "coalesce((SELECT max(last_id) FROM cursors), 0), coalesce((SELECT max(since_id) FROM members), 0))") {
    }
    detail::statement begin, commit, rollback, insert_account, account_hash, account_names, account_keys,
        set_account_key, insert_message,
        count_target, prune_target, cursor, history, set_cursor, join, leave, rooms_of, room_members, max_id;
  };

  void exec(const char* sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
      std::string what = message ? message : sqlite3_errstr(rc);
      sqlite3_free(message);
      throw std::system_error(std::error_code(rc, sqlite_category()), what);
    }
  }

  void open() {
    // NOMUTEX: only one thread at a time uses the connection (the worker; the
    // constructor and destructor before and after it), handed over through
    // the worker's mutex.
    const int rc = sqlite3_open_v2(options_.path.c_str(), &db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) throw std::runtime_error(db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, 5000);      // another process (say, an inspecting sqlite3 shell) may hold a lock briefly
    exec("PRAGMA journal_mode = WAL");    // ":memory:" stays "memory"
    exec("PRAGMA synchronous = NORMAL");  // see the top of this file
    exec("PRAGMA journal_size_limit = 67108864");  // the WAL file shrinks back to 64 MiB after checkpoints
    exec(
        "BEGIN;"
        "CREATE TABLE IF NOT EXISTS accounts(name TEXT PRIMARY KEY, hash TEXT NOT NULL, created_us INTEGER,"
        " likeness TEXT);"
        "CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, ts INTEGER, kind INTEGER, sender TEXT,"
        " target TEXT, body BLOB);"
        "CREATE INDEX IF NOT EXISTS messages_by_target ON messages(kind, target, id);"
        "CREATE TABLE IF NOT EXISTS members(room TEXT, user TEXT, since_id INTEGER, PRIMARY KEY(room, user));"
        "CREATE INDEX IF NOT EXISTS members_by_user ON members(user);"
        "CREATE TABLE IF NOT EXISTS cursors(user TEXT PRIMARY KEY, last_id INTEGER);"
        "COMMIT;");
    // Version 2 added accounts.likeness (names.hpp): a version 1 database gets
    // the column, NULL until rekey_accounts() fills it at startup.
    if (!has_column("accounts", "likeness")) exec("ALTER TABLE accounts ADD COLUMN likeness TEXT");
    exec(
        "CREATE INDEX IF NOT EXISTS accounts_by_likeness ON accounts(likeness);"
        "PRAGMA user_version = 2;");
    stmt_ = std::make_unique<statements>(db_);
  }

  bool has_column(const char* table, const char* column) {
    detail::statement s(db_, "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2");
    detail::query q(s);
    q.bind_text(1, table).bind_text(2, column);
    return q.step() && q.integer(0) > 0;
  }

  void close() noexcept {
    stmt_.reset();  // statements first: a connection with statements does not close
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  // Batches (on the worker thread).

  void begin_batch() {
    if (!sqlite3_get_autocommit(db_)) detail::query(stmt_->rollback).step();  // left open by a failed COMMIT
    detail::query(stmt_->begin).step();
  }

  std::error_code end_batch() noexcept {
    if (sqlite3_get_autocommit(db_)) {  // an error rolled the whole transaction back: nothing of it is stored
      forget_counts();
      return std::error_code(SQLITE_ABORT, sqlite_category());
    }
    try {
      prune();
    } catch (...) {  // the messages are in; only the bound is late (counts are redone)
      forget_counts();
    }
    const int rc = sqlite3_step(stmt_->commit.get());
    sqlite3_reset(stmt_->commit.get());
    if (rc == SQLITE_DONE) return {};
    forget_counts();
    if (!sqlite3_get_autocommit(db_)) {
      sqlite3_step(stmt_->rollback.get());
      sqlite3_reset(stmt_->rollback.get());
    }
    return std::error_code(rc, sqlite_category());
  }

  // Retention. counts_ knows how many messages each room/user touched since
  // the start has (counted once, then kept up), so appending is O(1) and the
  // end of a batch deletes exactly the oldest ones beyond the bound, walking
  // the (kind, target, id) index from its start.
  using target_key = std::pair<int, std::string>;

  void prune() {
    for (const auto& key : over_) {
      auto it = counts_.find(key);
      if (it == counts_.end()) continue;
      const auto keep = static_cast<std::int64_t>(retention(key.first));
      if (it->second <= keep) continue;
      detail::query(stmt_->prune_target).bind(1, key.first).bind_text(2, key.second).bind(3, it->second - keep).step();
      it->second = keep;
    }
    over_.clear();
    // Bounded memory: forgotten targets are simply counted again.
    if (counts_.size() > max_counted) counts_.clear();
  }

  void forget_counts() noexcept {
    counts_.clear();
    over_.clear();
  }

  std::size_t retention(int kind) const {
    return kind == static_cast<int>(hcp2::target_kind::room) ? options_.room_retention : options_.user_retention;
  }

  std::error_code append_now(const stored_message& m) {
    if (m.kind != hcp2::target_kind::user && m.kind != hcp2::target_kind::room)
      return std::make_error_code(std::errc::invalid_argument);
    const int kind = static_cast<int>(m.kind);
    detail::query(stmt_->insert_message)
        .bind(1, detail::to_db(m.id))
        .bind(2, detail::to_db(m.timestamp_us))
        .bind(3, kind)
        .bind_text(4, m.sender)
        .bind_text(5, m.target)
        .bind_blob(6, m.text)
        .step();
    target_key key{kind, m.target};
    std::int64_t& count = counts_[key];  // 0 when new: counted below, including this message
    if (count == 0) {
      detail::query q(stmt_->count_target);
      q.bind(1, kind).bind_text(2, m.target);
      const std::int64_t n = q.step() ? q.integer(0) : 1;
      count = n;
    } else {
      ++count;
    }
    if (static_cast<std::size_t>(count) > retention(kind)) over_.insert(std::move(key));
    return {};
  }

  std::tuple<std::error_code, std::vector<stored_message>, bool> history_now(const std::string& user,
                                                                             std::optional<std::uint64_t> after,
                                                                             std::size_t max_count,
                                                                             std::size_t max_bytes) {
    if (!after) {
      detail::query q(stmt_->cursor);
      q.bind_text(1, user);
      after = q.step() ? detail::from_db(q.integer(0)) : 0;
    }
    std::vector<stored_message> out;
    bool more = false;
    std::size_t bytes = 0;
    detail::query q(stmt_->history);
    // One row beyond max_count tells whether more remain (LIMIT -1: none).
    q.bind_text(1, user)
        .bind(2, detail::to_db(*after))
        .bind(3, max_count < INT64_MAX ? static_cast<std::int64_t>(max_count) + 1 : -1);
    while (q.step()) {
      const std::size_t size = q.bytes(5) + q.bytes(3) + q.bytes(4);
      if (out.size() >= max_count || (!out.empty() && bytes + size > max_bytes)) {
        more = true;
        break;
      }
      bytes += size;
      out.push_back(stored_message{detail::from_db(q.integer(0)), detail::from_db(q.integer(1)),
                                   static_cast<hcp2::target_kind>(q.integer(2)), q.text(3), q.text(4), q.text(5)});
    }
    return {std::error_code{}, std::move(out), more};
  }

  std::vector<std::string> column(const detail::statement& s, const std::string& arg) {
    std::vector<std::string> out;
    detail::query q(s);
    q.bind_text(1, arg);
    while (q.step()) out.push_back(q.text(0));
    return out;
  }

  // Runs fn on the worker, where it returns std::tuple<std::error_code,
  // Values...>; completes the token with void(std::error_code, Values...) on
  // the token's executor after the commit. A database error (fn throwing
  // std::system_error) or a failed commit is the error_code, values then
  // value-initialized.
  template <class... Values, class Fn, class Token>
  auto submit(Fn fn, Token&& token) {
    using result = std::tuple<std::error_code, Values...>;
    return asio::async_initiate<Token, void(std::error_code, Values...)>(
        [this](auto handler, Fn fn) {
          auto ex = asio::get_associated_executor(handler);
          worker_->async_run(
              [this, fn = std::move(fn)]() mutable -> result {
                try {
                  if (sqlite3_get_autocommit(db_)) return result{aborted(), Values{}...};
                  return fn();
                } catch (const std::system_error& e) {
                  return result{e.code(), Values{}...};
                }
              },
              asio::bind_executor(ex, [h = std::move(handler)](std::error_code ec, result r) mutable {
                if (!ec) ec = std::get<0>(r);
                std::apply([&](std::error_code&, Values&... vs) { std::move(h)(ec, std::move(vs)...); }, r);
              }));
        },
        token, std::move(fn));
  }

  template <class Fn>
  void fire(Fn fn) {
    worker_->post([this, fn = std::move(fn)]() mutable {
      if (!sqlite3_get_autocommit(db_)) fn();  // a throw is dropped by the worker
    });
  }

  // The batch's transaction is gone (rolled back by an earlier error in it).
  static std::error_code aborted() noexcept { return std::error_code(SQLITE_ABORT, sqlite_category()); }

  static constexpr std::size_t max_counted = 65536;

  store_options options_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<statements> stmt_;
  std::map<target_key, std::int64_t> counts_;  // worker thread only
  std::set<target_key> over_;                  // beyond retention in this batch; worker thread only
  std::unique_ptr<howdy::batch_worker> worker_;
};

// Defined after the class: they use submit, whose return type is deduced.
inline std::vector<std::string> chat_store::account_names() {
  return submit<std::vector<std::string>>(
             [this] {
               std::vector<std::string> names;
               detail::query q(stmt_->account_names);
               while (q.step()) names.push_back(q.text(0));
               return std::tuple{std::error_code{}, std::move(names)};
             },
             asio::use_future)
      .get();
}

inline void chat_store::rekey_accounts(const std::function<std::string(std::string_view)>& likeness) {
  submit<>(
      [this, &likeness] {
        std::vector<std::pair<std::string, std::string>> changed;
        {
          detail::query q(stmt_->account_keys);
          while (q.step()) {
            std::string name = q.text(0), key = likeness(name);
            if (q.is_null(1) || q.text(1) != key)
              changed.emplace_back(std::move(name), std::move(key));
          }
        }
        for (auto& [name, key] : changed) detail::query(stmt_->set_account_key).bind_text(1, name).bind_text(2, key).step();
        return std::tuple{std::error_code{}};
      },
      asio::use_future)
      .get();
}

inline std::uint64_t chat_store::max_id() {
  return submit<std::uint64_t>(
             [this] {
               detail::query q(stmt_->max_id);
               return std::tuple{std::error_code{}, q.step() ? detail::from_db(q.integer(0)) : std::uint64_t{0}};
             },
             asio::use_future)
      .get();
}

}  // namespace hcp
