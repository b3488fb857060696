// room_directory: join (created on demand, `added`, join order), leave (the
// room goes with its last member), list and rooms_of, the limits, room names
// (rules, exact comparison), each room's hub delivering to its subscribers
// only, and joins and leaves from several threads.

#include <asio/io_context.hpp>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <howdy/outbox.hpp>
#include <howdy/room_directory.hpp>
#include <howdy/shared_buffer.hpp>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using strings = std::vector<std::string>;

struct fixture {
  asio::io_context ctx{1};
  howdy::room_directory dir{{ctx.get_executor()}};

  // Joins and checks the result is consistent with the error.
  std::error_code join(std::string_view room, std::string_view user, bool* added_out = nullptr) {
    bool added = true;
    std::error_code ec;
    auto r = dir.join(room, user, added, ec);
    BOOST_TEST(static_cast<bool>(r) == !ec);
    if (ec) BOOST_TEST(!added);
    if (r) {
      BOOST_TEST(r->name() == room);
      BOOST_TEST(r->has_member(user));
    }
    if (added_out) *added_out = added;
    return ec;
  }
  std::error_code leave(std::string_view room, std::string_view user) {
    std::error_code ec;
    auto r = dir.leave(room, user, ec);
    BOOST_TEST(static_cast<bool>(r) == !ec);
    if (r) BOOST_TEST(!r->has_member(user));
    return ec;
  }
};

// "name:members" per room, as list() gives them.
strings listing(const howdy::room_directory& d) {
  strings out;
  for (auto& l : d.list()) out.push_back(l.name + ":" + std::to_string(l.members));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(room_directory)

BOOST_FIXTURE_TEST_CASE(join_creates_rooms_and_keeps_join_order, fixture) {
  bool added = false;
  BOOST_TEST(!join("lobby", "alice", &added));
  BOOST_TEST(added);
  BOOST_TEST(!join("lobby", "bob", &added));
  BOOST_TEST(added);
  BOOST_TEST(!join("lobby", "alice", &added));  // twice is fine, and not new
  BOOST_TEST(!added);
  BOOST_TEST(!join("lobby", "carol"));
  auto lobby = dir.find("lobby");
  BOOST_TEST_REQUIRE(lobby);
  BOOST_TEST(lobby->members() == (strings{"alice", "bob", "carol"}), boost::test_tools::per_element());
  BOOST_TEST(lobby->size() == 3u);
  BOOST_TEST(!lobby->has_member("dave"));
  BOOST_TEST(!lobby->has_member("Alice"));

  // Another join returns the same room.
  bool again = true;
  std::error_code ec;
  BOOST_TEST(dir.join("lobby", "bob", again, ec) == lobby);

  BOOST_TEST(!join("zeta", "alice"));
  BOOST_TEST(!join("Lobby", "alice"));  // names compare exactly: another room
  BOOST_TEST(!join("alpha", "alice"));
  BOOST_TEST(dir.rooms_of("alice") == (strings{"lobby", "zeta", "Lobby", "alpha"}), boost::test_tools::per_element());
  BOOST_TEST(dir.rooms_of("bob") == (strings{"lobby"}), boost::test_tools::per_element());
  BOOST_TEST(dir.rooms_of("nobody").empty());
  const strings want = {"Lobby:1", "alpha:1", "lobby:3", "zeta:1"};  // sorted by bytes
  BOOST_TEST(listing(dir) == want, boost::test_tools::per_element());
  BOOST_TEST(!dir.find("nowhere"));
}

BOOST_FIXTURE_TEST_CASE(leave_and_the_room_goes_with_its_last_member, fixture) {
  BOOST_TEST(!join("r", "alice"));
  BOOST_TEST(!join("r", "bob"));
  BOOST_TEST(!join("r", "carol"));
  BOOST_TEST(leave("r", "dave") == howdy::error::not_a_member);
  BOOST_TEST(leave("nowhere", "alice") == howdy::error::not_a_member);
  BOOST_TEST(leave("", "alice") == howdy::error::not_a_member);

  std::error_code ec;
  auto r = dir.leave("r", "bob", ec);
  BOOST_TEST_REQUIRE(r);
  BOOST_TEST(!ec);
  BOOST_TEST(r->members() == (strings{"alice", "carol"}), boost::test_tools::per_element());
  BOOST_TEST(leave("r", "bob") == howdy::error::not_a_member);  // not twice
  BOOST_TEST(dir.rooms_of("bob").empty());
  BOOST_TEST(!join("r", "bob"));  // back in, now last
  BOOST_TEST(r->members() == (strings{"alice", "carol", "bob"}), boost::test_tools::per_element());

  for (const char* u : {"carol", "alice", "bob"}) BOOST_TEST(!leave("r", u));
  BOOST_TEST(!dir.find("r"));  // gone with its last member
  BOOST_TEST(dir.list().empty());
  BOOST_TEST(r->size() == 0u);  // the caller's pointer is still good
  BOOST_TEST(r->name() == "r");

  bool added = false;
  auto fresh = dir.join("r", "alice", added, ec);
  BOOST_TEST(added);
  BOOST_TEST((fresh != r));  // a new room under the old name
  BOOST_TEST(fresh->members() == (strings{"alice"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(room_limits) {
  asio::io_context ctx(1);
  howdy::room_options o;
  o.max_rooms = 3;
  o.max_rooms_per_member = 2;
  howdy::room_directory dir({ctx.get_executor()}, o);
  bool added = true;
  std::error_code ec;
  BOOST_TEST(dir.join("a", "alice", added, ec));
  BOOST_TEST(dir.join("b", "alice", added, ec));
  BOOST_TEST(!dir.join("c", "alice", added, ec));  // her third room
  BOOST_TEST(ec == howdy::error::room_limit);
  BOOST_TEST(!added);
  BOOST_TEST(!dir.find("c"));                     // not created by the refused join
  BOOST_TEST(dir.join("a", "alice", added, ec));  // joining again is no new room
  BOOST_TEST(!ec);
  BOOST_TEST(!added);

  BOOST_TEST(dir.join("c", "bob", added, ec));
  BOOST_TEST(!dir.join("d", "carol", added, ec));  // a fourth room
  BOOST_TEST(ec == howdy::error::room_limit);
  BOOST_TEST(dir.rooms_of("carol").empty());
  BOOST_TEST(dir.join("c", "carol", added, ec));  // an existing room is fine
  BOOST_TEST(!ec);
  BOOST_TEST(dir.list().size() == 3u);

  BOOST_TEST(dir.leave("a", "alice", ec));  // a closes (alice was its only member)
  BOOST_TEST(!dir.find("a"));
  BOOST_TEST(dir.join("d", "alice", added, ec));  // room under both limits again
  BOOST_TEST(added);
  BOOST_TEST(dir.rooms_of("alice") == (strings{"b", "d"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(room_names_follow_the_rules) {
  asio::io_context ctx(1);
  howdy::room_directory dir({ctx.get_executor()});
  bool added = true;
  std::error_code ec;
  for (std::string bad : {std::string(), std::string(65, 'x'), std::string("\xFF"), std::string("a\nb"),
                          std::string("\xC0\xAF"), std::string("nul\0x", 5), std::string("\xED\xA0\x80")}) {
    BOOST_TEST_CONTEXT("room name of " << bad.size() << " bytes") {
      BOOST_TEST(!dir.join(bad, "alice", added, ec));
      BOOST_TEST(ec == howdy::error::name_invalid);
      BOOST_TEST(!added);
    }
  }
  BOOST_TEST(dir.list().empty());
  BOOST_TEST(dir.rooms_of("alice").empty());
  for (std::string good : {std::string(64, 'x'), std::string("caf\xC3\xA9 & co"), std::string("#general")}) {
    BOOST_TEST(dir.join(good, "alice", added, ec));
    BOOST_TEST(!ec);
  }

  howdy::room_options o;
  o.rules.max_bytes = 4;
  o.rules.allow = [](char32_t c) { return c >= 'a' && c <= 'z'; };
  howdy::room_directory strict({ctx.get_executor()}, o);
  BOOST_TEST(strict.join("abcd", "u", added, ec));
  BOOST_TEST(!strict.join("abcde", "u", added, ec));
  BOOST_TEST(ec == howdy::error::name_invalid);
  BOOST_TEST(!strict.join("ab1", "u", added, ec));
  BOOST_TEST(ec == howdy::error::name_invalid);
}

BOOST_AUTO_TEST_CASE(needs_a_partition) { BOOST_CHECK_THROW(howdy::room_directory({}), std::invalid_argument); }

BOOST_AUTO_TEST_CASE(each_room_hub_delivers_to_its_subscribers) {
  asio::io_context ctx(1);
  howdy::room_directory dir({ctx.get_executor()});
  bool added = false;
  std::error_code ec;
  auto lobby = dir.join("lobby", "alice", added, ec);
  dir.join("lobby", "bob", added, ec);
  auto kitchen = dir.join("kitchen", "carol", added, ec);
  dir.join("kitchen", "alice", added, ec);
  BOOST_TEST_REQUIRE(lobby);
  BOOST_TEST_REQUIRE(kitchen);
  BOOST_TEST((&lobby->hub() != &kitchen->hub()));

  // One outbox per online user; alice's is in both rooms.
  auto alice = std::make_shared<howdy::outbox>(ctx.get_executor());
  auto bob = std::make_shared<howdy::outbox>(ctx.get_executor());
  auto carol = std::make_shared<howdy::outbox>(ctx.get_executor());
  std::vector<howdy::broadcast_hub::subscription> subs;
  subs.push_back(lobby->hub().subscribe(*alice));
  subs.push_back(lobby->hub().subscribe(*bob));
  subs.push_back(kitchen->hub().subscribe(*carol));
  subs.push_back(kitchen->hub().subscribe(*alice));
  BOOST_TEST(lobby->hub().subscriber_count() == 2u);

  lobby->hub().publish(howdy::shared_buffer::copy_of(std::string_view("hello lobby")), alice.get());  // from alice
  ctx.poll();
  BOOST_TEST(alice->queued_frames() == 0u);  // the sender is skipped
  BOOST_TEST(bob->queued_frames() == 1u);
  BOOST_TEST(carol->queued_frames() == 0u);  // another room

  kitchen->hub().publish(howdy::shared_buffer::copy_of(std::string_view("hello kitchen")));
  ctx.restart();
  ctx.poll();
  BOOST_TEST(alice->queued_frames() == 1u);
  BOOST_TEST(bob->queued_frames() == 1u);
  BOOST_TEST(carol->queued_frames() == 1u);
}

BOOST_AUTO_TEST_CASE(joins_and_leaves_from_many_threads) {
  constexpr int threads = 4, users = 50, rooms = 5, rounds = 20;
  asio::io_context ctx(1);
  howdy::room_directory dir({ctx.get_executor()});
  std::atomic<int> errors{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int round = 0; round < rounds; ++round)
        for (int u = 0; u < users; ++u) {
          const std::string user = std::string("t").append(std::to_string(t)).append("u").append(std::to_string(u));
          // Odd rounds join and stay: five rounds reach all five rooms, the
          // later ones find the user there already. Even rounds join a
          // temporary room and leave it at once.
          const bool stay = round % 2 == 1;
          const std::string room = (stay ? "room" : "temp") + std::to_string((u + round) % rooms);
          bool added = false;
          std::error_code ec;
          auto r = dir.join(room, user, added, ec);
          if (!r || added != (!stay || round < 2 * rooms) || !r->has_member(user)) ++errors;
          if (!stay && (!dir.leave(room, user, ec) || ec)) ++errors;
        }
    });
  std::thread reader([&] {  // reads rooms while they change
    while (!done)
      for (auto& l : dir.list())
        if (auto r = dir.find(l.name)) {
          const auto m = r->members();
          if (m.size() > std::size_t(threads * users)) ++errors;
          (void)dir.rooms_of(m.empty() ? std::string() : m.front());
        }
  });
  for (auto& t : pool) t.join();
  done = true;
  reader.join();
  BOOST_TEST(errors == 0);
  BOOST_TEST(dir.list().size() == std::size_t(rooms));  // the temporary rooms closed
  std::size_t memberships = 0;
  for (auto& l : dir.list()) {
    auto r = dir.find(l.name);
    BOOST_TEST_REQUIRE(r);
    BOOST_TEST(r->size() == l.members);
    memberships += l.members;
  }
  BOOST_TEST(memberships == std::size_t(threads * users * rooms));
  BOOST_TEST(dir.rooms_of("t0u0").size() == std::size_t(rooms));
}

BOOST_AUTO_TEST_SUITE_END()
