// chat_store and password hashing: accounts, argon2id hashes, whispers and room
// history (since_id, own messages, order, paging, cursors), retention,
// durability across reopening, and completions that follow the commit. Real
// SQLite, in a temporary directory or ":memory:".

#include <asio/bind_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <boost/test/unit_test.hpp>
#include <cctype>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include "hcp/server/store.hpp"
#include "hcp/server/passwords.hpp"

namespace {

using hcp::chat_store;
using hcp::store_options;
using hcp::stored_message;
using hcp::hcp2::target_kind;
namespace errc = hcp::hcp2;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// A fresh directory, removed afterwards.
struct temp_dir {
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "howdy-store-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const char* name) const { return (path / name).string(); }
  std::filesystem::path path;
};

// Runs a test coroutine on an io_context until it is done; rethrows its exception.
template <class F>
void run(F f) {
  asio::io_context io;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, f(), [&](std::exception_ptr e) {
    error = e;
    done = true;
  });
  io.run();
  BOOST_REQUIRE(done);
  if (error) std::rethrow_exception(error);
}

store_options options(std::string path) {
  store_options o;
  o.path = std::move(path);
  return o;
}

stored_message whisper(std::uint64_t id, std::string from, std::string to, std::string text) {
  return {id, 1000 + id, target_kind::user, std::move(from), std::move(to), std::move(text)};
}
stored_message room_message(std::uint64_t id, std::string from, std::string room, std::string text) {
  return {id, 1000 + id, target_kind::room, std::move(from), std::move(room), std::move(text)};
}

asio::awaitable<void> append(chat_store& store, stored_message m) {
  auto [ec] = co_await store.async_append(std::move(m), use_tuple);
  BOOST_TEST(!ec, ec.message());
}

std::vector<std::uint64_t> ids(const std::vector<stored_message>& ms) {
  std::vector<std::uint64_t> out;
  for (auto& m : ms) out.push_back(m.id);
  return out;
}

// The history of `user` as ids, all of it.
asio::awaitable<std::vector<std::uint64_t>> history_ids(chat_store& store, std::string user,
                                                        std::optional<std::uint64_t> after = std::nullopt) {
  auto [ec, ms, more] = co_await store.async_history(std::move(user), after, 1000, 1 << 20, use_tuple);
  BOOST_TEST(!ec, ec.message());
  BOOST_TEST(!more);
  co_return ids(ms);
}

// What a second, independent connection sees: committed data only.
std::int64_t count_from_outside(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  BOOST_REQUIRE_EQUAL(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  BOOST_REQUIRE_EQUAL(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK);
  std::int64_t n = -1;
  if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(password)

BOOST_AUTO_TEST_CASE(hash_and_verify) {
  const std::string h = hcp::hash_password("correct horse", hcp::pwhash_cost::min);
  BOOST_TEST(h.starts_with("$argon2id$"));
  BOOST_TEST(h.find("correct horse") == std::string::npos);
  BOOST_TEST(hcp::verify_password(h, "correct horse"));
  BOOST_TEST(!hcp::verify_password(h, "correct horsE"));
  BOOST_TEST(!hcp::verify_password(h, ""));
  // A fresh salt every time; both verify.
  const std::string h2 = hcp::hash_password("correct horse", hcp::pwhash_cost::min);
  BOOST_TEST(h != h2);
  BOOST_TEST(hcp::verify_password(h2, "correct horse"));
  // Any bytes, NULs and UTF-8 included.
  const std::string odd("p\0w\xC3\xA9", 5);
  const std::string h3 = hcp::hash_password(odd, hcp::pwhash_cost::min);
  BOOST_TEST(hcp::verify_password(h3, odd));
  BOOST_TEST(!hcp::verify_password(h3, "p"));
}

BOOST_AUTO_TEST_CASE(malformed_hash_is_a_mismatch) {
  BOOST_TEST(!hcp::verify_password("", "x"));
  BOOST_TEST(!hcp::verify_password("not a hash", "x"));
  BOOST_TEST(!hcp::verify_password(std::string(500, '$'), "x"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chat_store_tests)

BOOST_AUTO_TEST_CASE(accounts) {
  chat_store store(options(":memory:"));
  BOOST_TEST(store.account_names().empty());
  run([&]() -> asio::awaitable<void> {
    auto [ec] = co_await store.async_create_account("alice", "hash-a", use_tuple);
    BOOST_TEST(!ec);
    std::tie(ec) = co_await store.async_create_account("alice", "other", use_tuple);
    BOOST_TEST((ec == errc::errc::name_registered));
    // Exact names: the server folds case, not the store.
    std::tie(ec) = co_await store.async_create_account("Alice", "hash-A", use_tuple);
    BOOST_TEST(!ec);
    std::tie(ec) = co_await store.async_create_account("\xC3\xA9lo\xC3\xAFse", "hash-e", use_tuple);
    BOOST_TEST(!ec);

    auto [ec2, hash] = co_await store.async_password_hash("alice", use_tuple);
    BOOST_TEST(!ec2);
    BOOST_TEST(hash == "hash-a");  // the first one stays
    std::tie(ec2, hash) = co_await store.async_password_hash("Alice", use_tuple);
    BOOST_TEST(hash == "hash-A");
    std::tie(ec2, hash) = co_await store.async_password_hash("bob", use_tuple);
    BOOST_TEST((ec2 == errc::errc::unknown_account));
    BOOST_TEST(hash.empty());
    std::tie(ec2, hash) = co_await store.async_password_hash("alic", use_tuple);
    BOOST_TEST((ec2 == errc::errc::unknown_account));
  });
  BOOST_TEST((store.account_names() == std::vector<std::string>{"Alice", "alice", "\xC3\xA9lo\xC3\xAFse"}));
}

BOOST_AUTO_TEST_CASE(accounts_with_a_likeness_key_keep_look_alikes_out) {
  chat_store store(options(":memory:"));
  run([&]() -> asio::awaitable<void> {
    auto [ec] = co_await store.async_create_account("dave", "dave", "hash-d", use_tuple);
    BOOST_TEST(!ec);
    // Another name, the same key (what names.hpp gives DAVE, or dave with a Cyrillic a).
    std::tie(ec) = co_await store.async_create_account("DAVE", "dave", "hash-D", use_tuple);
    BOOST_TEST((ec == errc::errc::name_registered));
    std::tie(ec) = co_await store.async_create_account("d\xD0\xB0ve", "dave", "hash-c", use_tuple);
    BOOST_TEST((ec == errc::errc::name_registered));
    std::tie(ec) = co_await store.async_create_account("dave", "other", "hash-x", use_tuple);
    BOOST_TEST((ec == errc::errc::name_registered));  // the name itself still counts
    std::tie(ec) = co_await store.async_create_account("carol", "carol", "hash-c", use_tuple);
    BOOST_TEST(!ec);
    // Without a key, no look-alike check (and no key to collide with).
    std::tie(ec) = co_await store.async_create_account("Carol", "hash-C", use_tuple);
    BOOST_TEST(!ec);
    auto [ec2, hash] = co_await store.async_password_hash("dave", use_tuple);
    BOOST_TEST(hash == "hash-d");
  });
  BOOST_TEST((store.account_names() == std::vector<std::string>{"Carol", "carol", "dave"}));
}

BOOST_AUTO_TEST_CASE(a_version_1_database_gets_likeness_keys) {
  temp_dir dir;
  const auto path = dir.file("v1.db");
  {
    // The schema before likeness keys, with two accounts that look alike.
    sqlite3* db = nullptr;
    BOOST_REQUIRE_EQUAL(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    BOOST_REQUIRE_EQUAL(sqlite3_exec(db,
                                     "CREATE TABLE accounts(name TEXT PRIMARY KEY, hash TEXT NOT NULL, created_us INTEGER);"
                                     "INSERT INTO accounts VALUES('dave', 'hash-d', 1), ('DAVE', 'hash-D', 2);"
                                     "PRAGMA user_version = 1;",
                                     nullptr, nullptr, nullptr),
                        SQLITE_OK);
    sqlite3_close(db);
  }
  auto lower = [](std::string_view n) {
    std::string k(n);
    for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return k;
  };
  {
    chat_store store(options(path));
    BOOST_TEST((store.account_names() == std::vector<std::string>{"DAVE", "dave"}));  // both keep working
    BOOST_TEST(count_from_outside(path, "PRAGMA user_version") == 2);
    BOOST_TEST(count_from_outside(path, "SELECT count(*) FROM accounts WHERE likeness IS NULL") == 2);
    store.rekey_accounts(lower);
    BOOST_TEST(count_from_outside(path, "SELECT count(*) FROM accounts WHERE likeness = 'dave'") == 2);
    run([&]() -> asio::awaitable<void> {
      auto [ec] = co_await store.async_create_account("Dave", lower("Dave"), "hash-x", use_tuple);
      BOOST_TEST((ec == errc::errc::name_registered));
      auto [ec2, hash] = co_await store.async_password_hash("DAVE", use_tuple);
      BOOST_TEST(hash == "hash-D");
    });
  }
  // Opened again: nothing to migrate, nothing lost; a changed key function rekeys.
  chat_store store(options(path));
  BOOST_TEST(store.account_names().size() == 2u);
  store.rekey_accounts([](std::string_view n) { return std::string(n) + "!"; });
  BOOST_TEST(count_from_outside(path, "SELECT count(*) FROM accounts WHERE likeness = 'DAVE!'") == 1);
}

BOOST_AUTO_TEST_CASE(plain_callbacks_and_futures) {
  chat_store store(options(":memory:"));
  BOOST_REQUIRE_NO_THROW(store.async_create_account("carol", "h", asio::use_future).get());
  BOOST_CHECK_THROW(store.async_create_account("carol", "h", asio::use_future).get(), std::system_error);
  BOOST_TEST(store.async_password_hash("carol", asio::use_future).get() == "h");

  asio::io_context io;
  std::error_code seen = make_error_code(std::errc::io_error);
  store.async_append(whisper(1, "a", "carol", "hi"), asio::bind_executor(io, [&](std::error_code ec) { seen = ec; }));
  io.run();  // kept busy by the pending operation, no sleeping
  BOOST_TEST(!seen);
}

BOOST_AUTO_TEST_CASE(whispers) {
  chat_store store(options(":memory:"));
  run([&]() -> asio::awaitable<void> {
    std::vector<std::uint64_t> h;  // not co_await inside BOOST_TEST: GCC 12 miscompiles that
    co_await append(store, whisper(1, "alice", "bob", "one"));
    co_await append(store, whisper(2, "carol", "bob", std::string("t\0wo \xE2\x9C\x93", 8)));
    co_await append(store, whisper(3, "bob", "alice", "to alice"));
    co_await append(store, whisper(4, "alice", "bob", ""));  // empty text is fine

    auto [ec, ms, more] = co_await store.async_history("bob", std::nullopt, 100, 1 << 20, use_tuple);
    BOOST_TEST(!ec);
    BOOST_TEST(!more);
    BOOST_TEST((ids(ms) == std::vector<std::uint64_t>{1, 2, 4}));
    BOOST_REQUIRE_EQUAL(ms.size(), 3u);
    BOOST_TEST(ms[1].timestamp_us == 1002u);
    BOOST_TEST((ms[1].kind == target_kind::user));
    BOOST_TEST(ms[1].sender == "carol");
    BOOST_TEST(ms[1].target == "bob");
    BOOST_TEST(ms[1].text == std::string("t\0wo \xE2\x9C\x93", 8));
    BOOST_TEST(ms[2].text.empty());

    h = co_await history_ids(store, "alice");
    BOOST_TEST((h == std::vector<std::uint64_t>{3}));
    h = co_await history_ids(store, "bob", 1);
    BOOST_TEST((h == std::vector<std::uint64_t>{2, 4}));
    h = co_await history_ids(store, "Bob");
    BOOST_TEST(h.empty());
    h = co_await history_ids(store, "nobody");
    BOOST_TEST(h.empty());
  });
}

BOOST_AUTO_TEST_CASE(rooms) {
  chat_store store(options(":memory:"));
  run([&]() -> asio::awaitable<void> {
    std::vector<std::uint64_t> h;  // not co_await inside BOOST_TEST: GCC 12 miscompiles that
    for (auto name : {"alice", "bob", "carol"}) {
      auto [ec] = co_await store.async_create_account(name, "h", use_tuple);
      BOOST_TEST(!ec);
    }
    co_await append(store, room_message(3, "alice", "lobby", "before bob joined"));
    store.join_room("lobby", "alice", 0);
    store.join_room("lobby", "bob", 5);
    store.join_room("lobby", "bob", 1);    // already a member: since_id 5 stays
    store.join_room("lobby", "guest", 0);  // no account: not listed as a member
    store.join_room("dev", "bob", 0);
    co_await append(store, room_message(6, "alice", "lobby", "hello bob"));
    co_await append(store, room_message(7, "bob", "lobby", "my own"));
    co_await append(store, whisper(8, "carol", "bob", "psst"));
    co_await append(store, room_message(9, "carol", "lobby", "hi all"));
    co_await append(store, room_message(10, "carol", "dev", "in dev"));
    co_await append(store, room_message(11, "carol", "elsewhere", "not bob's room"));

    // Interleaved by id: rooms after since_id, whispers, never bob's own.
    h = co_await history_ids(store, "bob");
    BOOST_TEST((h == std::vector<std::uint64_t>{6, 8, 9, 10}));
    h = co_await history_ids(store, "alice");
    BOOST_TEST((h == std::vector<std::uint64_t>{7, 9}));
    h = co_await history_ids(store, "carol");
    BOOST_TEST(h.empty());  // not a member anywhere
    h = co_await history_ids(store, "bob", 8);
    BOOST_TEST((h == std::vector<std::uint64_t>{9, 10}));

    auto [ec, rooms] = co_await store.async_rooms_of("bob", use_tuple);
    BOOST_TEST(!ec);
    BOOST_TEST((rooms == std::vector<std::string>{"lobby", "dev"}));  // joining order
    auto [ec2, members] = co_await store.async_room_members("lobby", use_tuple);
    BOOST_TEST(!ec2);
    BOOST_TEST((members == std::vector<std::string>{"alice", "bob"}));

    store.leave_room("lobby", "bob");
    h = co_await history_ids(store, "bob");
    BOOST_TEST((h == std::vector<std::uint64_t>{8, 10}));
    std::tie(ec, rooms) = co_await store.async_rooms_of("bob", use_tuple);
    BOOST_TEST((rooms == std::vector<std::string>{"dev"}));
    std::tie(ec2, members) = co_await store.async_room_members("lobby", use_tuple);
    BOOST_TEST((members == std::vector<std::string>{"alice"}));
    std::tie(ec2, members) = co_await store.async_room_members("nowhere", use_tuple);
    BOOST_TEST(!ec2);
    BOOST_TEST(members.empty());

    // Joining again starts afresh from the new since_id.
    store.join_room("lobby", "bob", 7);
    h = co_await history_ids(store, "bob");
    BOOST_TEST((h == std::vector<std::uint64_t>{8, 9, 10}));
  });
}

BOOST_AUTO_TEST_CASE(paging_and_cursor) {
  chat_store store(options(":memory:"));
  run([&]() -> asio::awaitable<void> {
    std::vector<std::uint64_t> h;  // not co_await inside BOOST_TEST: GCC 12 miscompiles that
    for (std::uint64_t id = 1; id <= 10; ++id)
      co_await append(store, whisper(id, "alice", "bob", std::string(10, 'x')));

    auto [ec, ms, more] = co_await store.async_history("bob", std::nullopt, 3, 1 << 20, use_tuple);
    BOOST_TEST((ids(ms) == std::vector<std::uint64_t>{1, 2, 3}));
    BOOST_TEST(more);
    std::tie(ec, ms, more) = co_await store.async_history("bob", 3, 3, 1 << 20, use_tuple);
    BOOST_TEST((ids(ms) == std::vector<std::uint64_t>{4, 5, 6}));
    BOOST_TEST(more);
    std::tie(ec, ms, more) = co_await store.async_history("bob", 7, 3, 1 << 20, use_tuple);
    BOOST_TEST((ids(ms) == std::vector<std::uint64_t>{8, 9, 10}));
    BOOST_TEST(!more);  // exactly the rest
    std::tie(ec, ms, more) = co_await store.async_history("bob", 10, 3, 1 << 20, use_tuple);
    BOOST_TEST(ms.empty());
    BOOST_TEST(!more);

    // Bytes: each message is 10 + 5 + 3 = 18; at least one even when too big.
    std::tie(ec, ms, more) = co_await store.async_history("bob", std::nullopt, 100, 40, use_tuple);
    BOOST_TEST((ids(ms) == std::vector<std::uint64_t>{1, 2}));
    BOOST_TEST(more);
    std::tie(ec, ms, more) = co_await store.async_history("bob", std::nullopt, 100, 1, use_tuple);
    BOOST_TEST((ids(ms) == std::vector<std::uint64_t>{1}));
    BOOST_TEST(more);

    // The cursor only moves forward, and history resumes after it.
    store.set_cursor("bob", 6);
    store.set_cursor("bob", 4);
    h = co_await history_ids(store, "bob");
    BOOST_TEST((h == std::vector<std::uint64_t>{7, 8, 9, 10}));
    h = co_await history_ids(store, "bob", 0);
    BOOST_TEST(h.size() == 10u);  // an explicit `after` wins
    store.set_cursor("bob", 10);
    h = co_await history_ids(store, "bob");
    BOOST_TEST(h.empty());
  });
  BOOST_TEST(store.max_id() == 10u);
}

BOOST_AUTO_TEST_CASE(retention_bounds_the_database) {
  temp_dir dir;
  const std::string path = dir.file("r.db");
  auto o = options(path);
  o.room_retention = 5;
  o.user_retention = 3;
  o.max_batch = 4;  // many batches: the kept counts must stay right across them
  std::uint64_t id = 0;
  for (int round = 0; round < 2; ++round) {  // the second round counts what the first left on disk
    chat_store store(o);
    run([&]() -> asio::awaitable<void> {
      std::vector<std::uint64_t> h;  // not co_await inside BOOST_TEST: GCC 12 miscompiles that
      store.join_room("lobby", "bob", 0);
      // Not awaited one by one: they share batches.
      std::vector<std::future<void>> pending;
      for (int i = 0; i < 40; ++i) {
        ++id;
        pending.push_back(store.async_append(
            i % 2 ? whisper(id, "alice", "bob", "w") : room_message(id, "alice", "lobby", "r"), asio::use_future));
      }
      co_await append(store, whisper(++id, "alice", "carol", "c"));
      for (auto& f : pending) f.get();  // all done already: FIFO
      auto [ec, ms, more] = co_await store.async_history("bob", 0, 1000, 1 << 20, use_tuple);
      BOOST_TEST(!ec);
      BOOST_TEST(!more);
      std::size_t rooms = 0, whispers = 0;
      for (auto& m : ms) (m.kind == target_kind::room ? rooms : whispers)++;
      BOOST_TEST(rooms == 5u);
      BOOST_TEST(whispers == 3u);
      BOOST_TEST(ms.back().id == id - 1);  // the newest are the ones kept
    });
    BOOST_TEST(count_from_outside(path, "SELECT count(*) FROM messages") == 5 + 3 + (round + 1));  // carol: 1, then 2
    BOOST_TEST(store.max_id() == id);
  }
}

BOOST_AUTO_TEST_CASE(survives_reopening) {
  temp_dir dir;
  const std::string path = dir.file("chat.db");
  {
    chat_store store(options(path));
    run([&]() -> asio::awaitable<void> {
      std::vector<std::uint64_t> h;  // not co_await inside BOOST_TEST: GCC 12 miscompiles that
      auto [ec] = co_await store.async_create_account("bob", "hash-b", use_tuple);
      BOOST_TEST(!ec);
      std::tie(ec) = co_await store.async_create_account("alice", "hash-a", use_tuple);
      store.join_room("lobby", "bob", 0);
      co_await append(store, room_message(41, "alice", "lobby", "kept"));
      co_await append(store, whisper(42, "alice", "bob", "kept too"));
    });
    store.set_cursor("alice", 500);  // not awaited: the destructor still commits it
  }
  chat_store store(options(path));
  BOOST_TEST((store.account_names() == std::vector<std::string>{"alice", "bob"}));
  BOOST_TEST(store.max_id() == 500u);  // cursors count too
  run([&]() -> asio::awaitable<void> {
    std::vector<std::uint64_t> h;  // not co_await inside BOOST_TEST: GCC 12 miscompiles that
    auto [ec, hash] = co_await store.async_password_hash("bob", use_tuple);
    BOOST_TEST(hash == "hash-b");
    h = co_await history_ids(store, "bob");
    BOOST_TEST((h == std::vector<std::uint64_t>{41, 42}));
    auto [ec2, rooms] = co_await store.async_rooms_of("bob", use_tuple);
    BOOST_TEST((rooms == std::vector<std::string>{"lobby"}));
    std::tie(ec) = co_await store.async_create_account("bob", "again", use_tuple);
    BOOST_TEST((ec == errc::errc::name_registered));
  });
  BOOST_TEST(count_from_outside(path, "SELECT count(*) FROM accounts") == 2);
  // The WAL journal is what lets the outside reader in while the store writes.
  BOOST_TEST(count_from_outside(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1);
}

BOOST_AUTO_TEST_CASE(completion_follows_the_commit) {
  temp_dir dir;
  const std::string path = dir.file("commit.db");
  chat_store store(options(path));
  asio::io_context io;
  int checked = 0;
  // Inside each completion, another connection already sees the row.
  store.async_create_account(
      "dave", "h", asio::bind_executor(io, [&](std::error_code ec) {
        BOOST_TEST(!ec);
        BOOST_TEST(count_from_outside(path, "SELECT count(*) FROM accounts WHERE name = 'dave'") == 1);
        ++checked;
      }));
  for (std::uint64_t id = 1; id <= 20; ++id) {
    store.async_append(whisper(id, "eve", "dave", "m"), asio::bind_executor(io, [&, id](std::error_code ec) {
                         BOOST_TEST(!ec);
                         const std::string sql = "SELECT count(*) FROM messages WHERE id = " + std::to_string(id);
                         BOOST_TEST(count_from_outside(path, sql.c_str()) == 1);
                         ++checked;
                       }));
  }
  io.run();
  BOOST_TEST(checked == 21);
  BOOST_TEST(store.worker().batches() >= 1u);
}

BOOST_AUTO_TEST_CASE(history_off_stores_no_messages) {
  auto o = options(":memory:");
  o.history = false;
  chat_store store(o);
  run([&]() -> asio::awaitable<void> {
    std::vector<std::uint64_t> h;  // not co_await inside BOOST_TEST: GCC 12 miscompiles that
    co_await append(store, whisper(1, "alice", "bob", "not kept"));
    co_await append(store, room_message(2, "alice", "lobby", "not kept"));
    store.join_room("lobby", "bob", 0);
    h = co_await history_ids(store, "bob");
    BOOST_TEST(h.empty());
    auto [ec] = co_await store.async_create_account("bob", "h", use_tuple);  // accounts still are
    BOOST_TEST(!ec);
  });
  BOOST_TEST(store.account_names().size() == 1u);
  BOOST_TEST(store.max_id() == 0u);
}

BOOST_AUTO_TEST_CASE(a_failed_operation_spares_the_others) {
  chat_store store(options(":memory:"));
  run([&]() -> asio::awaitable<void> {
    co_await append(store, whisper(1, "alice", "bob", "first"));
    auto [ec] = co_await store.async_append(whisper(1, "alice", "bob", "same id"), use_tuple);
    BOOST_TEST(static_cast<bool>(ec));
    BOOST_TEST((ec.category() == hcp::sqlite_category()));
    stored_message to_all = whisper(2, "alice", "", "x");
    to_all.kind = target_kind::all;
    std::tie(ec) = co_await store.async_append(std::move(to_all), use_tuple);
    BOOST_TEST((ec == std::errc::invalid_argument));
    co_await append(store, whisper(3, "alice", "bob", "third"));
    auto [ec2, ms, more] = co_await store.async_history("bob", 0, 10, 1 << 20, use_tuple);
    BOOST_TEST((ids(ms) == std::vector<std::uint64_t>{1, 3}));
    BOOST_TEST(ms[0].text == "first");
  });
}

BOOST_AUTO_TEST_CASE(open_errors) {
  temp_dir dir;
  try {
    chat_store store(options(dir.file("no/such/dir/x.db")));
    BOOST_FAIL("opened a database in a missing directory");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).starts_with("cannot open database " + dir.file("no/such/dir/x.db") + ": "),
               e.what());
  }
  const std::string junk = dir.file("junk.db");
  std::ofstream(junk) << std::string(4096, 'j');
  try {
    chat_store store(options(junk));
    BOOST_FAIL("opened a file that is not a database");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).starts_with("cannot open database " + junk + ": "), e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
