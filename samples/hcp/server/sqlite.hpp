// server/sqlite.hpp: the few SQLite pieces the store needs, as C++: result
// codes as std::error_code, statements prepared once, and one use of a
// statement that always resets it. Only store.hpp uses these.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace hcp {

// SQLite result codes as std::error_code (what a failed operation completes with).
inline const std::error_category& sqlite_category() noexcept {
  struct category final : std::error_category {
    const char* name() const noexcept override { return "sqlite"; }
    std::string message(int ev) const override { return sqlite3_errstr(ev); }
  };
  static const category c;
  return c;
}

namespace detail {

[[noreturn]] inline void throw_sqlite(sqlite3* db, int rc) {
  throw std::system_error(std::error_code(rc, sqlite_category()), db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

// SQLite integers are signed; ids and times fit comfortably.
inline std::int64_t to_db(std::uint64_t v) noexcept {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(v, INT64_MAX));
}
inline std::uint64_t from_db(std::int64_t v) noexcept { return v < 0 ? 0 : static_cast<std::uint64_t>(v); }

// A statement prepared once and reused for the life of the connection.
class statement {
 public:
  statement() = default;
  statement(sqlite3* db, std::string_view sql) {
    const int rc =
        sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s_, nullptr);
    if (rc != SQLITE_OK) throw_sqlite(db, rc);
  }
  statement(statement&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  statement& operator=(statement&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~statement() { sqlite3_finalize(s_); }
  sqlite3_stmt* get() const noexcept { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// One use of a cached statement: binds, steps, and on scope exit resets it and
// clears its bindings (so the bound strings need only outlive the query, and
// no read stays open).
class query {
 public:
  explicit query(const statement& s) : s_(s.get()), db_(sqlite3_db_handle(s_)) {}
  query(const query&) = delete;
  query& operator=(const query&) = delete;
  ~query() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

  query& bind(int i, std::int64_t v) { return check(sqlite3_bind_int64(s_, i, v)); }
  // Explicit sizes: names and texts may hold any bytes, NULs included.
  query& bind_text(int i, std::string_view v) {
    return check(sqlite3_bind_text(s_, i, v.empty() ? "" : v.data(), size(v), SQLITE_STATIC));
  }
  query& bind_blob(int i, std::string_view v) {
    return check(sqlite3_bind_blob(s_, i, v.empty() ? "" : v.data(), size(v), SQLITE_STATIC));
  }

  // True: a row is there. False: done. Throws on an error.
  bool step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw_sqlite(db_, rc);
  }

  std::int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::size_t bytes(int col) const { return static_cast<std::size_t>(sqlite3_column_bytes(s_, col)); }
  std::string text(int col) const {
    // column_blob works for text too and never converts; bytes() after it.
    const void* p = sqlite3_column_blob(s_, col);
    const std::size_t n = bytes(col);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  }

 private:
  static int size(std::string_view v) {
    if (v.size() > static_cast<std::size_t>(INT_MAX)) throw_sqlite(nullptr, SQLITE_TOOBIG);
    return static_cast<int>(v.size());
  }
  query& check(int rc) {
    if (rc != SQLITE_OK) throw_sqlite(db_, rc);
    return *this;
  }

  sqlite3_stmt* s_;
  sqlite3* db_;
};

}  // namespace detail

}  // namespace hcp
