// name_registry: uniqueness, reserved names, rules, leases (scope, move,
// disconnect), watchers and snapshots, async_claim (callback, use_awaitable,
// deferred, cancellation), a claiming race, protected names and the registry's
// error category.

#include <boost/test/unit_test.hpp>

#include "test_streams.hpp"

#include <howdy/name_registry.hpp>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

using registry = howdy::name_registry<int>;
using namespace std::chrono_literals;

std::error_code claim_error(registry& r, std::string_view name) {
  std::error_code ec;
  auto l = r.claim(name, 0, ec);
  BOOST_TEST(static_cast<bool>(l) == !ec);
  return ec;
}

// The owner of `name`, -1 for none (printable, unlike std::optional).
int owner_of(const registry& r, std::string_view name) { return r.find(name).value_or(-1); }

using howdy_test::run_until;

}  // namespace

BOOST_AUTO_TEST_SUITE(name_registry)

BOOST_AUTO_TEST_CASE(duplicate_names_are_taken) {
  registry r;
  std::error_code ec;
  auto alice = r.claim("alice", 1, ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(static_cast<bool>(alice));
  BOOST_TEST(alice.name() == "alice");
  auto again = r.claim("alice", 2, ec);
  BOOST_TEST(ec == howdy::error::name_taken);
  BOOST_TEST(!again);
  BOOST_TEST(owner_of(r, "alice") == 1);  // the first owner keeps it
  // Case matters by default.
  auto upper = r.claim("Alice", 3, ec);
  BOOST_TEST(!ec);
  BOOST_TEST(r.size() == 2u);
}

BOOST_AUTO_TEST_CASE(find_each_looks_up_a_list_in_order) {
  howdy::name_rules rules;
  rules.case_insensitive = true;
  registry r(rules);
  std::error_code ec;
  auto bob = r.claim("Bob", 7, ec);
  BOOST_TEST_REQUIRE(!ec);
  r.protect("carol");
  const std::vector<std::string> names{"carol", "bob", "dave", "BOB"};
  std::vector<std::string> seen;
  std::vector<int> owners;
  std::vector<bool> protected_names;
  r.find_each(names, [&](const std::string& name, const int* owner, bool is_protected) {
    seen.push_back(name);
    owners.push_back(owner ? *owner : -1);
    protected_names.push_back(is_protected);
  });
  BOOST_TEST(seen == names, boost::test_tools::per_element());
  BOOST_TEST(owners == (std::vector<int>{-1, 7, -1, 7}), boost::test_tools::per_element());
  BOOST_TEST(protected_names == (std::vector<bool>{true, false, false, false}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(case_insensitive_names) {
  howdy::name_rules rules;
  rules.case_insensitive = true;
  registry r(rules);
  std::error_code ec;
  auto bob = r.claim("Bob", 7, ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(claim_error(r, "bob") == howdy::error::name_taken);
  BOOST_TEST(claim_error(r, "BOB") == howdy::error::name_taken);
  BOOST_TEST(owner_of(r, "bOB") == 7);
  BOOST_TEST(bob.name() == "Bob");           // as claimed
  BOOST_TEST(r.snapshot().names == std::vector<std::string>{"Bob"}, boost::test_tools::per_element());
  // Only ASCII letters fold.
  auto e1 = r.claim("\xC3\xA9", 1, ec);  // é
  BOOST_TEST(!ec);
  BOOST_TEST(claim_error(r, "\xC3\x89") == std::error_code{});  // É is another name
}

BOOST_AUTO_TEST_CASE(reserved_names) {
  registry r({}, {"admin", "Server"});
  BOOST_TEST(claim_error(r, "admin") == howdy::error::name_reserved);
  BOOST_TEST(claim_error(r, "Server") == howdy::error::name_reserved);
  BOOST_TEST(r.check("admin") == howdy::error::name_reserved);
  BOOST_TEST(claim_error(r, "Admin") == std::error_code{});  // case-sensitive registry
  BOOST_TEST(r.size() == 0u);                                // (that lease was dropped at once)

  howdy::name_rules rules;
  rules.case_insensitive = true;
  registry ci(rules, {"admin", "Server"});
  for (const char* n : {"admin", "ADMIN", "aDmIn", "server", "SERVER", "Server"})
    BOOST_TEST(claim_error(ci, n) == howdy::error::name_reserved, n);
  BOOST_TEST(claim_error(ci, "admins") == std::error_code{});
  BOOST_TEST(ci.size() == 0u);
}

BOOST_AUTO_TEST_CASE(rules_length_in_bytes) {
  howdy::name_rules rules;
  rules.max_bytes = 8;
  registry r(rules);
  BOOST_TEST(r.check("abcdefgh") == std::error_code{});
  BOOST_TEST(r.check("abcdefghi") == howdy::error::name_invalid);
  BOOST_TEST(r.check("") == howdy::error::name_invalid);
  // Four 2-byte characters fit, five do not (10 bytes, 5 characters).
  BOOST_TEST(r.check("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9") == std::error_code{});
  BOOST_TEST(r.check("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9") == howdy::error::name_invalid);
  // Two 4-byte characters fit; a third does not.
  BOOST_TEST(r.check("\xF0\x9F\x98\x80\xF0\x9F\x98\x80") == std::error_code{});
  BOOST_TEST(r.check("\xF0\x9F\x98\x80\xF0\x9F\x98\x80!") == howdy::error::name_invalid);

  howdy::name_rules min3;
  min3.min_bytes = 3;
  registry r3(min3);
  BOOST_TEST(r3.check("ab") == howdy::error::name_invalid);
  BOOST_TEST(r3.check("\xC3\xA9") == howdy::error::name_invalid);  // one character, 2 bytes
  BOOST_TEST(r3.check("a\xC3\xA9") == std::error_code{});
}

BOOST_AUTO_TEST_CASE(rules_invalid_utf8_and_overlong) {
  registry r;
  const std::vector<std::string> bad = {
      "\xC3",                   // truncated 2-byte sequence
      "ab\xE2\x82",             // truncated 3-byte sequence at the end
      "\xC3(",                  // lead byte followed by a non-continuation
      "\x80",                   // lone continuation byte
      "\xFF", "\xFE",           // never valid
      "\xC0\xAF",               // overlong '/'
      "\xC1\xBF",               // overlong U+007F
      "\xE0\x80\xAF",           // overlong '/' in 3 bytes
      "\xE0\x9F\xBF",           // overlong U+07FF
      "\xF0\x80\x80\xAF",       // overlong '/' in 4 bytes
      "\xF0\x8F\xBF\xBF",       // overlong U+FFFF
      "\xED\xA0\x80",           // UTF-16 surrogate U+D800
      "\xED\xBF\xBF",           // surrogate U+DFFF
      "\xF4\x90\x80\x80",       // above U+10FFFF
      "\xF5\x80\x80\x80",       // lead byte beyond U+10FFFF
      "ok\xC3\xA9\xA9",         // an extra continuation byte
  };
  for (auto& n : bad) {
    BOOST_TEST_CONTEXT("name bytes " << n.size()) {
      BOOST_TEST(r.check(n) == howdy::error::name_invalid);
      BOOST_TEST(claim_error(r, n) == howdy::error::name_invalid);
    }
  }
  // The boundaries just inside are fine.
  // (U+0080, the smallest 2-byte one, is a C1 control: see rules_control_characters.)
  for (const char* n : {"\xC2\xA0", "\xDF\xBF", "\xE0\xA0\x80", "\xEF\xBF\xBD", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF",
                        "\xED\x9F\xBF", "\xEE\x80\x80"})
    BOOST_TEST(r.check(n) == std::error_code{});
  BOOST_TEST(r.size() == 0u);
}

BOOST_AUTO_TEST_CASE(rules_control_characters) {
  registry r;
  for (std::string n : {"a\tb", "a\nb", "\r", "bell\a", "del\x7F", "\xC2\x80", "\xC2\x85", "\xC2\x9F", "esc\x1B[0m"})
    BOOST_TEST(r.check(n) == howdy::error::name_invalid);
  BOOST_TEST(r.check(std::string("nul\0x", 5)) == howdy::error::name_invalid);
  for (std::string n : {"a b", "~tilde~", "\xC2\xA0nbsp", "caf\xC3\xA9", "\xE2\x9C\x93"}) BOOST_TEST(r.check(n) == std::error_code{});
  // Custom rules: letters and digits only.
  howdy::name_rules rules;
  rules.allow = [](char32_t c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  registry strict(rules);
  BOOST_TEST(strict.check("abc123") == std::error_code{});
  BOOST_TEST(strict.check("abc 123") == howdy::error::name_invalid);
}

BOOST_AUTO_TEST_CASE(lease_released_on_scope_exit) {
  registry r;
  std::error_code ec;
  {
    auto l = r.claim("carol", 1, ec);
    BOOST_TEST_REQUIRE(!ec);
    BOOST_TEST(r.find("carol").has_value());
  }
  BOOST_TEST(!r.find("carol").has_value());
  BOOST_TEST(r.size() == 0u);
  auto again = r.claim("carol", 2, ec);
  BOOST_TEST(!ec);
  again.release();
  BOOST_TEST(!again);
  BOOST_TEST(!r.find("carol"));
  again.release();  // twice is harmless
}

BOOST_AUTO_TEST_CASE(lease_moves) {
  registry r;
  std::error_code ec;
  auto a = r.claim("dave", 1, ec);
  registry::lease b(std::move(a));
  BOOST_TEST(!a);  // NOLINT(bugprone-use-after-move): moved-from is empty
  BOOST_TEST(static_cast<bool>(b));
  BOOST_TEST(b.name() == "dave");
  a = registry::lease{};  // assigning an empty lease to the moved-from one frees nothing
  BOOST_TEST(owner_of(r, "dave") == 1);

  auto c = r.claim("erin", 2, ec);
  c = std::move(b);  // erin is freed, dave moves into c
  BOOST_TEST(!r.find("erin"));
  BOOST_TEST(owner_of(r, "dave") == 1);
  BOOST_TEST(c.name() == "dave");
  {
    std::vector<registry::lease> held;
    held.push_back(std::move(c));
    for (int i = 0; i < 20; ++i) held.push_back(r.claim(std::string("n").append(std::to_string(i)), i, ec));  // vector growth moves them
    BOOST_TEST(r.size() == 21u);
  }
  BOOST_TEST(r.size() == 0u);
}

BOOST_AUTO_TEST_CASE(lease_released_when_the_session_disconnects) {
  // A session coroutine claims the name its client sends and holds the lease
  // while the connection lasts.
  asio::io_context ctx(1);
  registry r;
  asio::ip::tcp::acceptor acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0});
  asio::ip::tcp::socket client(ctx);
  bool claimed = false, ended = false;
  std::error_code claim_ec, read_ec;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto socket = co_await acceptor.async_accept(asio::use_awaitable);
        char buf[64];
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
        BOOST_TEST_REQUIRE(!ec);
        auto lease = r.claim(std::string_view(buf, n), 42, claim_ec);
        claimed = true;
        for (;;) {  // the session: read until the peer goes away
          auto [e, m] = co_await socket.async_read_some(asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
          if (e) {
            read_ec = e;
            break;
          }
        }
        ended = true;
      },
      asio::detached);
  client.connect(acceptor.local_endpoint());
  asio::write(client, asio::buffer(std::string("frank")));
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return claimed; }));
  BOOST_TEST_REQUIRE(!claim_ec);
  BOOST_TEST(owner_of(r, "frank") == 42);
  BOOST_TEST(claim_error(r, "frank") == howdy::error::name_taken);
  client.close();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return ended; }));
  BOOST_TEST(read_ec == asio::error::eof);
  BOOST_TEST(!r.find("frank"));
  BOOST_TEST(claim_error(r, "frank") == std::error_code{});
}

BOOST_AUTO_TEST_CASE(watchers_see_joins_and_leaves_in_order) {
  registry r;
  std::vector<howdy::presence_event> events;
  const auto id = r.watch([&](const howdy::presence_event& e) { events.push_back(e); });
  std::error_code ec;
  auto a = r.claim("a", 1, ec);
  auto b = r.claim("b", 2, ec);
  BOOST_TEST(claim_error(r, "a") == howdy::error::name_taken);  // a failed claim is no event
  BOOST_TEST(claim_error(r, "\xFF") == howdy::error::name_invalid);
  const auto snap = r.snapshot();
  a.release();
  auto c = r.claim("c", 3, ec);
  b.release();

  BOOST_TEST_REQUIRE(events.size() == 5u);
  const std::vector<std::pair<howdy::presence, std::string>> want = {
      {howdy::presence::joined, "a"}, {howdy::presence::joined, "b"}, {howdy::presence::left, "a"},
      {howdy::presence::joined, "c"}, {howdy::presence::left, "b"}};
  for (std::size_t i = 0; i < events.size(); ++i) {
    BOOST_TEST((events[i].change == want[i].first), "event " << i);
    BOOST_TEST(events[i].name == want[i].second);
    if (i > 0) BOOST_TEST(events[i].sequence == events[i - 1].sequence + 1);
  }
  // The snapshot holds everything up to its sequence; the events after it continue from there.
  BOOST_TEST(snap.sequence == events[1].sequence);
  BOOST_TEST(snap.names == (std::vector<std::string>{"a", "b"}), boost::test_tools::per_element());
  BOOST_TEST(r.snapshot().sequence == events.back().sequence);
  BOOST_TEST(r.snapshot().names == std::vector<std::string>{"c"}, boost::test_tools::per_element());

  // Replaying the events after a snapshot onto it gives the current state.
  std::vector<std::string> replay = snap.names;
  for (auto& e : events) {
    if (e.sequence <= snap.sequence) continue;
    if (e.change == howdy::presence::joined) replay.push_back(e.name);
    else replay.erase(std::find(replay.begin(), replay.end(), e.name));
  }
  BOOST_TEST(replay == r.snapshot().names, boost::test_tools::per_element());

  r.unwatch(id);
  c.release();
  BOOST_TEST(events.size() == 5u);
}

BOOST_AUTO_TEST_CASE(snapshot_lists_in_join_order) {
  registry r;
  std::error_code ec;
  std::vector<registry::lease> held;
  for (const char* n : {"zed", "amy", "mia", "bob"}) held.push_back(r.claim(n, 0, ec));
  held[1].release();  // amy leaves
  held.push_back(r.claim("amy", 0, ec));  // and comes back last
  BOOST_TEST(r.snapshot().names == (std::vector<std::string>{"zed", "mia", "bob", "amy"}), boost::test_tools::per_element());
  std::vector<std::string> seen;
  r.for_each([&](const std::string& n, int) { seen.push_back(n); });
  std::sort(seen.begin(), seen.end());
  BOOST_TEST(seen == (std::vector<std::string>{"amy", "bob", "mia", "zed"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(find_returns_the_owner) {
  registry r;
  std::error_code ec;
  auto x = r.claim("x", 10, ec);
  auto y = r.claim("y", 20, ec);
  BOOST_TEST(owner_of(r, "x") == 10);
  BOOST_TEST(owner_of(r, "y") == 20);
  BOOST_TEST(!r.find("z"));
  BOOST_TEST(!r.find("X"));
  BOOST_TEST(!r.find("\xFF"));  // an invalid name is simply not there
}

BOOST_AUTO_TEST_CASE(async_claim_with_use_awaitable) {
  asio::io_context ctx(1);
  registry r({}, {"root"});
  bool done = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto lease = co_await r.async_claim("gina", 5, asio::use_awaitable);
        BOOST_TEST(lease.name() == "gina");
        BOOST_TEST(owner_of(r, "gina") == 5);
        // Failures come as exceptions with use_awaitable...
        try {
          auto again = co_await r.async_claim("gina", 6, asio::use_awaitable);
          BOOST_TEST(false, "claimed a taken name");
        } catch (const std::system_error& e) {
          BOOST_TEST(e.code() == howdy::error::name_taken);
        }
        // ...or as an error code with as_tuple.
        auto [ec, none] = co_await r.async_claim("root", 7, asio::experimental::as_tuple(asio::use_awaitable));
        BOOST_TEST(ec == howdy::error::name_reserved);
        BOOST_TEST(!none);
        done = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return done; }));
  BOOST_TEST(!r.find("gina"));  // the lease ended with the coroutine

  // A callback (bound to ctx: a callback with no associated executor would
  // complete on asio's system executor, another thread): completes as if by
  // post, not inside the call.
  bool called = false;
  r.async_claim("hank", 8, asio::bind_executor(ctx, [&](std::error_code ec, registry::lease l) {
    called = true;
    BOOST_TEST(!ec);
    BOOST_TEST(l.name() == "hank");
  }));
  BOOST_TEST(!called);
  BOOST_TEST(run_until(ctx, [&] { return called; }));
  BOOST_TEST(!r.find("hank"));
}

BOOST_AUTO_TEST_CASE(async_claim_completes_on_the_given_executor) {
  asio::io_context ctx(1);
  registry r;
  // A plain callback with the caller's executor: runs there, as if by post.
  bool called = false;
  r.async_claim(ctx.get_executor(), "ida", 1, [&](std::error_code ec, registry::lease l) {
    called = true;
    BOOST_TEST(ctx.get_executor().running_in_this_thread());
    BOOST_TEST(!ec);
    BOOST_TEST(l.name() == "ida");
  });
  BOOST_TEST(!called);
  BOOST_TEST(owner_of(r, "ida") == 1);  // claimed at once; only the completion waits
  BOOST_TEST(run_until(ctx, [&] { return called; }));
  BOOST_TEST(!r.find("ida"));

  // The handler's own executor wins over the given one.
  asio::io_context other(1);
  bool on_other = false;
  r.async_claim(ctx.get_executor(), "jo", 2, asio::bind_executor(other, [&](std::error_code ec, registry::lease) {
    on_other = other.get_executor().running_in_this_thread();
    BOOST_TEST(!ec);
  }));
  ctx.restart();
  ctx.poll();
  BOOST_TEST(!on_other);
  BOOST_TEST(run_until(other, [&] { return on_other; }));

  // Errors come the same way.
  std::error_code got;
  std::error_code never = howdy::error::name_invalid;
  r.async_claim(ctx.get_executor(), "", 3, [&](std::error_code ec, registry::lease l) {
    got = ec;
    BOOST_TEST(!l);
  });
  BOOST_TEST(run_until(ctx, [&] { return got == never; }));
}

BOOST_AUTO_TEST_CASE(async_claim_with_deferred) {
  asio::io_context ctx(1);
  registry r;
  // Nothing happens until the deferred operation is launched.
  auto op = r.async_claim(ctx.get_executor(), "kim", 4, asio::experimental::deferred);
  BOOST_TEST(!r.find("kim"));
  bool called = false;
  std::move(op)([&](std::error_code ec, registry::lease l) {
    called = true;
    BOOST_TEST(!ec);
    BOOST_TEST(l.name() == "kim");
    BOOST_TEST(owner_of(r, "kim") == 4);
  });
  BOOST_TEST(run_until(ctx, [&] { return called; }));
  BOOST_TEST(!r.find("kim"));

  // In a coroutine.
  bool done = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto op = r.async_claim("lou", 5, asio::experimental::deferred);
        auto lease = co_await std::move(op)(asio::use_awaitable);
        BOOST_TEST(lease.name() == "lou");
        done = true;
      },
      asio::detached);
  BOOST_TEST(run_until(ctx, [&] { return done; }));
  BOOST_TEST(!r.find("lou"));
}

BOOST_AUTO_TEST_CASE(async_claim_cancelled_before_completion_gives_the_name_back) {
  asio::io_context ctx(1);
  registry r;
  std::vector<howdy::presence_event> events;
  r.watch([&](const howdy::presence_event& e) { events.push_back(e); });
  asio::cancellation_signal cancel;
  std::optional<std::error_code> got;
  r.async_claim(ctx.get_executor(), "max", 6,
                asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, registry::lease l) {
                  got = ec;
                  BOOST_TEST(!l);
                }));
  BOOST_TEST(owner_of(r, "max") == 6);
  cancel.emit(asio::cancellation_type::terminal);
  BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
  BOOST_TEST(*got == asio::error::operation_aborted);
  BOOST_TEST(!r.find("max"));
  BOOST_TEST_REQUIRE(events.size() == 2u);  // it joined, then left
  BOOST_TEST((events[1].change == howdy::presence::left));

  // A cancellation after completion changes nothing.
  got.reset();
  registry::lease kept;
  r.async_claim(ctx.get_executor(), "max", 7,
                asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, registry::lease l) {
                  got = ec;
                  kept = std::move(l);
                }));
  BOOST_TEST(run_until(ctx, [&] { return got.has_value(); }));
  cancel.emit(asio::cancellation_type::terminal);
  BOOST_TEST(!*got);
  BOOST_TEST(owner_of(r, "max") == 7);
}

BOOST_AUTO_TEST_CASE(registry_errors_have_their_own_category) {
  const std::error_code ec = howdy::error::name_taken;
  BOOST_TEST(ec.category().name() == std::string("howdy.registry"));
  BOOST_TEST(&ec.category() == &howdy::error::get_registry_category());
  BOOST_TEST(ec.message() == "that name is already taken");
  BOOST_TEST(std::error_code(howdy::error::name_reserved).message() == "that name is reserved");
  BOOST_TEST(std::error_code(howdy::error::name_invalid).message() == "that name is not allowed");
  // The old spelling is the same code.
  // Same numbers in another category are other codes.
  BOOST_TEST(std::error_code(howdy::error::name_taken) != std::error_code(howdy::error::end_of_stream));
  BOOST_TEST((std::error_code(howdy::error::name_taken) != howdy::condition::peer_gone));
}

BOOST_AUTO_TEST_CASE(name_rules_accept_what_check_accepts) {
  howdy::name_rules rules{.min_bytes = 2, .max_bytes = 4};
  BOOST_TEST(rules.accepts("ab"));
  BOOST_TEST(rules.accepts("\xC3\xA9\xC3\xA9"));
  BOOST_TEST(!rules.accepts("a"));
  BOOST_TEST(!rules.accepts("abcde"));
  BOOST_TEST(!rules.accepts("a\xFF"));
  BOOST_TEST(!rules.accepts("a\x01"));  // the default refuses control characters
  rules.allow = nullptr;                // any code point, still strict UTF-8
  BOOST_TEST(rules.accepts("a\x01"));
  BOOST_TEST(!rules.accepts("\xC0\x80"));
}

BOOST_AUTO_TEST_CASE(eight_threads_race_for_the_same_names) {
  constexpr int threads = 8, names = 100;
  registry r;
  std::vector<howdy::presence_event> events;
  r.watch([&](const howdy::presence_event& e) { events.push_back(e); });  // called under the registry's lock
  std::vector<std::vector<registry::lease>> won(threads);
  std::vector<int> taken_errors(threads, 0);
  std::atomic<int> ready{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::vector<int> order(names);
      for (int i = 0; i < names; ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), std::mt19937(t));
      ++ready;
      while (ready < threads) std::this_thread::yield();  // start together
      for (int i : order) {
        std::error_code ec;
        auto l = r.claim("name" + std::to_string(i), t, ec);
        if (l) won[t].push_back(std::move(l));
        else if (ec == howdy::error::name_taken) ++taken_errors[t];
      }
    });
  for (auto& t : pool) t.join();

  std::size_t winners = 0, losers = 0;
  std::vector<int> owner_count(names, 0);
  for (int t = 0; t < threads; ++t) {
    winners += won[t].size();
    losers += taken_errors[t];
    for (auto& l : won[t]) {
      const int i = std::stoi(l.name().substr(4));
      ++owner_count[i];
      BOOST_TEST(owner_of(r, l.name()) == t);  // the registry agrees on who won
    }
  }
  BOOST_TEST(winners == std::size_t(names));
  BOOST_TEST(losers == std::size_t(names * (threads - 1)));
  for (int i = 0; i < names; ++i) BOOST_TEST(owner_count[i] == 1, "name" << i);
  BOOST_TEST(r.size() == std::size_t(names));
  BOOST_TEST_REQUIRE(events.size() == std::size_t(names));
  for (std::size_t i = 0; i < events.size(); ++i) BOOST_TEST(events[i].sequence == i + 1);

  // Releasing from all threads at once: 100 leaves, still numbered without gaps.
  pool.clear();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { won[t].clear(); });
  for (auto& t : pool) t.join();
  BOOST_TEST(r.size() == 0u);
  BOOST_TEST_REQUIRE(events.size() == std::size_t(2 * names));
  for (std::size_t i = 0; i < events.size(); ++i) BOOST_TEST(events[i].sequence == i + 1);
  BOOST_TEST(r.snapshot().sequence == std::uint64_t(2 * names));
}

// --- protected names ---------------------------------------------------------

namespace {
std::error_code claim_protected_error(registry& r, std::string_view name) {
  std::error_code ec;
  auto l = r.claim_protected(name, 0, ec);
  BOOST_TEST(static_cast<bool>(l) == !ec);
  return ec;
}
}  // namespace

BOOST_AUTO_TEST_CASE(protected_names_are_only_for_claim_protected) {
  registry r;
  BOOST_TEST(!r.is_protected("alice"));
  r.protect("alice");
  BOOST_TEST(r.is_protected("alice"));
  BOOST_TEST(!r.is_protected("Alice"));  // case-sensitive registry
  BOOST_TEST(claim_error(r, "alice") == howdy::error::name_held);
  BOOST_TEST(r.size() == 0u);

  std::error_code ec;
  auto owner = r.claim_protected("alice", 1, ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(owner.name() == "alice");
  BOOST_TEST(owner_of(r, "alice") == 1);
  // Held: the account holder gets name_taken, a guest still hears it is protected.
  BOOST_TEST(claim_protected_error(r, "alice") == howdy::error::name_taken);
  BOOST_TEST(claim_error(r, "alice") == howdy::error::name_held);
  BOOST_TEST(owner_of(r, "alice") == 1);
  owner.release();
  BOOST_TEST(claim_error(r, "alice") == howdy::error::name_held);  // still the account's when offline

  r.unprotect("alice");
  BOOST_TEST(!r.is_protected("alice"));
  BOOST_TEST(claim_error(r, "alice") == std::error_code{});
  r.unprotect("alice");  // twice is harmless
  r.unprotect("never");

  // claim_protected also takes names nobody protected.
  BOOST_TEST(claim_protected_error(r, "bob") == std::error_code{});
  BOOST_TEST(!r.is_protected("bob"));
}

BOOST_AUTO_TEST_CASE(protected_names_after_rules_and_reserved) {
  registry r({}, {"admin"});
  r.protect("admin");
  r.protect("\xFF");
  r.protect("");
  BOOST_TEST(claim_error(r, "admin") == howdy::error::name_reserved);
  BOOST_TEST(claim_protected_error(r, "admin") == howdy::error::name_reserved);
  BOOST_TEST(claim_error(r, "\xFF") == howdy::error::name_invalid);
  BOOST_TEST(claim_protected_error(r, "\xFF") == howdy::error::name_invalid);
  BOOST_TEST(claim_error(r, "") == howdy::error::name_invalid);
  BOOST_TEST(r.check("admin") == howdy::error::name_reserved);
  r.protect("carol");
  BOOST_TEST(r.check("carol") == std::error_code{});  // check() is about rules and reserved names only
  BOOST_TEST(r.size() == 0u);
}

BOOST_AUTO_TEST_CASE(protected_names_fold_case_with_the_registry) {
  howdy::name_rules rules;
  rules.case_insensitive = true;
  registry r(rules);
  r.protect("Bob");
  for (const char* n : {"Bob", "bob", "BOB", "bOb"}) {
    BOOST_TEST(r.is_protected(n), n);
    BOOST_TEST(claim_error(r, n) == howdy::error::name_held, n);
  }
  std::error_code ec;
  auto l = r.claim_protected("BOB", 2, ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(l.name() == "BOB");  // as claimed
  BOOST_TEST(claim_protected_error(r, "bob") == howdy::error::name_taken);
  l.release();
  r.unprotect("bOB");
  BOOST_TEST(!r.is_protected("Bob"));
  BOOST_TEST(claim_error(r, "bob") == std::error_code{});
}

BOOST_AUTO_TEST_CASE(protecting_a_held_name_leaves_its_holder) {
  registry r;
  std::vector<howdy::presence_event> events;
  r.watch([&](const howdy::presence_event& e) { events.push_back(e); });
  std::error_code ec;
  auto guest = r.claim("carl", 3, ec);
  BOOST_TEST_REQUIRE(!ec);
  r.protect("carl");
  BOOST_TEST(owner_of(r, "carl") == 3);
  BOOST_TEST(static_cast<bool>(guest));
  guest.release();
  BOOST_TEST(claim_error(r, "carl") == howdy::error::name_held);
  BOOST_TEST(events.size() == 2u);  // the join and the leave; protecting is no presence event
}

BOOST_AUTO_TEST_CASE(async_claim_refuses_protected_names) {
  asio::io_context ctx(1);
  registry r;
  r.protect("dora");
  bool done = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto [ec, none] = co_await r.async_claim("dora", 1, asio::experimental::as_tuple(asio::use_awaitable));
        BOOST_TEST(ec == howdy::error::name_held);
        BOOST_TEST(!none);
        auto [ec2, other] = co_await r.async_claim("dana", 2, asio::experimental::as_tuple(asio::use_awaitable));
        BOOST_TEST(!ec2);
        BOOST_TEST(other.name() == "dana");
        done = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return done; }));
  BOOST_TEST(r.size() == 0u);
}

BOOST_AUTO_TEST_CASE(threads_claim_and_protect_concurrently) {
  // Account holders (claim_protected) and guests (claim) race for protected
  // names while other names are protected and unprotected: guests never get a
  // protected name, each protected name has exactly one holder.
  constexpr int threads = 8, names = 100;
  registry r;
  for (int i = 0; i < names; ++i) r.protect("acct" + std::to_string(i));
  std::vector<std::vector<registry::lease>> won(threads);
  std::vector<int> refused(threads, 0);
  std::atomic<int> ready{0};
  std::atomic<bool> toggling{true};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::vector<int> order(names);
      for (int i = 0; i < names; ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), std::mt19937(t));
      ++ready;
      while (ready < threads) std::this_thread::yield();
      for (int i : order) {
        std::error_code ec;
        const std::string name = "acct" + std::to_string(i);
        auto l = t % 2 ? r.claim(name, t, ec) : r.claim_protected(name, t, ec);
        if (l)
          won[t].push_back(std::move(l));
        else if (ec == howdy::error::name_held)
          ++refused[t];
      }
    });
  std::thread toggler([&] {
    for (int k = 0; toggling; ++k) {
      const std::string name = "other" + std::to_string(k % 10);
      r.protect(name);
      (void)r.is_protected(name);
      r.unprotect(name);
    }
  });
  for (auto& t : pool) t.join();
  toggling = false;
  toggler.join();

  std::vector<int> holders(names, 0);
  for (int t = 0; t < threads; ++t) {
    if (t % 2) {
      BOOST_TEST(won[t].empty(), "guest thread " << t);
      BOOST_TEST(refused[t] == names);
    }
    for (auto& l : won[t]) ++holders[std::stoi(l.name().substr(4))];
  }
  for (int i = 0; i < names; ++i) BOOST_TEST(holders[i] == 1, "acct" << i);
  BOOST_TEST(r.size() == std::size_t(names));
  for (int k = 0; k < 10; ++k) BOOST_TEST(!r.is_protected("other" + std::to_string(k)));
}

namespace {
// Caller-supplied keys, as a chat server would give them (with Unicode case
// folding and confusable skeletons); here: lower-case ASCII, and a likeness
// that also takes '0' for 'o' and "rn" for "m".
std::string lower_key(std::string_view name) {
  std::string k(name);
  for (char& c : k) c = howdy::detail::ascii_lower(c);
  return k;
}
std::string like_key(std::string_view name) {
  std::string k = lower_key(name), out;
  for (std::size_t i = 0; i < k.size(); ++i) {
    if (k[i] == '0') out += 'o';
    else if (k.compare(i, 2, "rn") == 0) out += 'm', ++i;
    else out += k[i];
  }
  return out;
}
howdy::name_rules keyed_rules(bool with_likeness) {
  howdy::name_rules rules;
  rules.key = lower_key;
  if (with_likeness) rules.likeness = like_key;
  return rules;
}
}  // namespace

BOOST_AUTO_TEST_CASE(caller_keys_make_one_name_and_keep_the_claimed_one) {
  registry r(keyed_rules(false), {"All"});
  std::error_code ec;
  auto dave = r.claim("Dave", 1, ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(dave.name() == "Dave");
  BOOST_TEST(claim_error(r, "DAVE") == howdy::error::name_taken);
  BOOST_TEST(claim_error(r, "dave") == howdy::error::name_taken);
  BOOST_TEST(owner_of(r, "dAVE") == 1);
  BOOST_TEST(r.name_of("dave").value_or("") == "Dave");
  BOOST_TEST(!r.name_of("d4ve"));
  BOOST_TEST(r.snapshot().names == std::vector<std::string>{"Dave"}, boost::test_tools::per_element());
  BOOST_TEST(claim_error(r, "ALL") == howdy::error::name_reserved);  // reserved names by key too
  BOOST_TEST(r.check("all") == howdy::error::name_reserved);
  // The key replaces case_insensitive's folding; without a likeness, look-alikes are other names.
  BOOST_TEST(claim_error(r, "Dav3") == std::error_code{});
  BOOST_TEST(!r.held_like("Dav3x"));
  BOOST_TEST(r.held_like("DAVE").value_or("") == "Dave");
  dave.release();
  BOOST_TEST(!r.name_of("dave"));
  BOOST_TEST(claim_error(r, "DAVE") == std::error_code{});
}

BOOST_AUTO_TEST_CASE(protected_names_keep_away_their_look_alikes) {
  registry r(keyed_rules(true));
  r.protect("modern");
  BOOST_TEST(r.is_protected("MODERN"));     // same key
  BOOST_TEST(!r.is_protected("rnodern"));   // only looks like it
  BOOST_TEST(r.protected_name("Modern").value_or("") == "modern");
  BOOST_TEST(!r.protected_name("rnodern"));
  BOOST_TEST(r.protected_like("rnodern").value_or("") == "modern");
  BOOST_TEST(r.protected_like("m0dern").value_or("") == "modern");
  BOOST_TEST(!r.protected_like("madern"));
  for (const char* n : {"modern", "MODERN", "rnodern", "m0dern", "RN0DERN"})
    BOOST_TEST(claim_error(r, n) == howdy::error::name_held, n);
  BOOST_TEST(claim_error(r, "madern") == std::error_code{});
  // The holder of a look-alike protected later is found; its lease frees it.
  std::error_code ec;
  auto guest = r.claim("b0b", 2, ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(r.held_like("bob").value_or("") == "b0b");
  BOOST_TEST(r.held_like("BOB").value_or("") == "b0b");
  BOOST_TEST(!r.held_like("rob"));
  guest.release();
  BOOST_TEST(!r.held_like("bob"));
  // claim_protected is not stopped by a look-alike; unprotect frees the look-alikes.
  auto owner = r.claim_protected("rnodern", 3, ec);
  BOOST_TEST(!ec);
  owner.release();
  r.unprotect("MODERN");
  BOOST_TEST(!r.protected_like("rnodern"));
  BOOST_TEST(claim_error(r, "rnodern") == std::error_code{});
}

BOOST_AUTO_TEST_CASE(two_protected_look_alikes_are_both_kept) {
  // Say, two accounts made before the rules: each stays protected, and
  // unprotecting one leaves the other's look-alikes kept away.
  registry r(keyed_rules(true));
  r.protect("modern");
  r.protect("rnodern");
  r.unprotect("modern");
  BOOST_TEST(claim_error(r, "m0dern") == howdy::error::name_held);
  BOOST_TEST(r.protected_like("modern").value_or("") == "rnodern");
  r.unprotect("rnodern");
  BOOST_TEST(claim_error(r, "m0dern") == std::error_code{});
}

BOOST_AUTO_TEST_SUITE_END()
