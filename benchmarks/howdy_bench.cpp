// benchmarks/howdy_bench.cpp
//
// howdy-bench: a fan-out load generator for Howdy (HCP/2, HCP/1) and, for
// comparison, Redis pub/sub and NATS. It opens N subscriber and P publisher
// connections to a server on loopback, waits until every one is registered,
// publishes M messages of S bytes and checks every delivery: lost,
// duplicated, reordered and corrupt messages are counted, latency goes into a
// log-linear histogram, and the server's CPU and memory are read from /proc.
//
// With --room (HCP/2), every client also JOINs one room and publishers SEND
// to that room instead of to everyone. HCP/2 publishers time the server's
// SENT for each message (with history on, SENT follows the database commit).
//
// Presence: HCP/2 clients opt out of it (HELLO flag "no presence") unless
// --presence; HCP/1 clients cannot, and each one's last user list is checked
// to name every connection of the run. Frames no check needs (USERS, JOINED,
// LEFT, user lists, frame types unknown here) are read, counted and skipped.
// After the last registration the run waits until nothing arrives for
// --settle-quiet (what the joins queued is flushed) and reports the server's
// CPU for the setup; with --connect-concurrency 1 clients register one by one.
//
// It only connects to an already running server; it never starts or stops
// processes. Everything is bounded in time (--timeout).
//
// Design: C++20 coroutines on standalone Asio. One io_context per thread
// (--threads, default 1); a connection lives on one io_context and is only
// touched by its thread. Threads share nothing but a few atomic counters.
// Subscribers read into a reusable buffer (>= 16 KiB) and parse every
// complete message in it: no syscall and no allocation per message.

#include <sys/resource.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>  // Asio 1.22: as_tuple is still experimental
#include <atomic>
#include <charconv>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cxxopts.hpp>
#include <hcp/wire/common.hpp>
#include <hcp/wire/hcp1.hpp>
#include <hcp/wire/hcp2.hpp>
#include <howdy/utf8.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_util.hpp"

namespace {

using asio::awaitable;
using asio::ip::tcp;
using bench::mono_ns;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

enum class protocol { hcp2, hcp1, redis, nats };
enum class role : std::uint8_t { subscriber, publisher };

constexpr std::size_t batch_bytes = 64 * 1024;          // most bytes a publisher writes at once
constexpr std::uint32_t max_accepted_frame = 1u << 24;  // larger HCP/2 length fields are garbage
constexpr std::size_t max_line = 64 * 1024;             // longest RESP/NATS control line accepted
constexpr std::size_t max_gap_ranges = 4096;            // per (subscriber, publisher) stream
constexpr std::uint64_t max_timed_acks = 1u << 22;      // per publisher; beyond, SENTs are counted, not timed

std::string fmt(char const* f, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

// ===========================================================================
// Options
// ===========================================================================
struct options {
  protocol proto = protocol::hcp2;
  std::string proto_name = "hcp2";
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::uint64_t subscribers = 100;
  std::uint64_t publishers = 1;
  std::uint64_t messages = 10000;  // total, over all publishers
  std::size_t size = 64;
  double rate = 0;  // total msgs/s; 0 = max rate with flow control
  std::uint64_t window = 256;
  std::uint64_t connect_concurrency = 64;
  unsigned threads = 1;
  double drain_timeout = 10;
  double timeout = 120;
  bool idle = false;
  double hold = 10;
  int server_pid = 0;
  std::string channel = "howdy.bench";
  std::string name_prefix;  // HCP user names: <prefix>s<i>, <prefix>p<i>
  std::string room;         // HCP/2: JOIN this room and SEND to it; empty = SEND to all
  std::size_t read_buffer = 16 * 1024;
  bool json = false;
  bool presence = false;         // HCP/2: HELLO without the no-presence flag (HCP/1 always has presence)
  std::uint32_t hello_flags = 0;  // HCP/2: more HELLO flag bits, ORed in
  double settle_quiet = 0.2;     // seconds without a received byte that end setup
};

[[noreturn]] void usage_error(std::string const& msg) {
  std::cerr << "howdy-bench: " << msg << "\n(see howdy-bench --help)\n";
  std::exit(2);
}

options parse_options(int argc, char** argv) {
  cxxopts::Options spec("howdy-bench",
                        "Fan-out load generator: N subscribers and P publishers on one loopback server.\n"
                        "Each publisher sends its share of --messages to every subscriber; every delivery is\n"
                        "checked (lost, duplicated, reordered, corrupt) and timed. Exit status: 0 clean run,\n"
                        "1 integrity or connection errors or timeout, 2 bad usage or setup failure.\n");
  spec.set_width(100);
  // clang-format off
    spec.add_options()
        ("p,protocol", "hcp2, hcp1, redis (RESP SUBSCRIBE/PUBLISH) or nats (SUB/PUB)",
            cxxopts::value<std::string>()->default_value("hcp2"))
        ("H,host", "server address; loopback only (127.0.0.0/8, ::1, localhost)",
            cxxopts::value<std::string>()->default_value("127.0.0.1"))
        ("P,port", "server port (default: 20002 hcp1/hcp2, 6379 redis, 4222 nats)",
            cxxopts::value<unsigned>())
        ("n,subscribers", "subscriber connections N",
            cxxopts::value<std::uint64_t>()->default_value("100"))
        ("publishers", "publisher connections P",
            cxxopts::value<std::uint64_t>()->default_value("1"))
        ("m,messages", "TOTAL messages published, split evenly over the publishers; "
            "every subscriber should receive all of them (deliveries = messages x N)",
            cxxopts::value<std::uint64_t>()->default_value("10000"))
        ("s,size", "payload bytes per message (24..60000)",
            cxxopts::value<std::size_t>()->default_value("64"))
        ("r,rate", "TOTAL messages/s over all publishers, open loop: each message carries its "
            "scheduled send time, so a stalled server cannot hide latency. 0 = as fast as "
            "the flow-control window allows (latency then counts from the actual send)",
            cxxopts::value<double>()->default_value("0"))
        ("w,window", "max-rate mode: keep (published x N - deliveries) <= window x N",
            cxxopts::value<std::uint64_t>()->default_value("256"))
        ("connect-concurrency", "connections being connected and registered at once",
            cxxopts::value<std::uint64_t>()->default_value("64"))
        ("threads", "generator threads (one io_context each)",
            cxxopts::value<unsigned>()->default_value("1"))
        ("drain-timeout", "seconds to wait for the last deliveries after publishing; "
            "anything not delivered by then is lost",
            cxxopts::value<double>()->default_value("10"))
        ("timeout", "overall limit in seconds; the run stops and reports when it is reached",
            cxxopts::value<double>()->default_value("120"))
        ("idle", "memory mode: connect and register N subscribers, hold them --hold seconds, "
            "report the server's RSS (and per connection) without publishing")
        ("hold", "seconds to hold the connections in --idle mode",
            cxxopts::value<double>()->default_value("10"))
        ("server-pid", "server process to read CPU and memory from (/proc/PID)",
            cxxopts::value<int>())
        ("channel", "redis channel / nats subject",
            cxxopts::value<std::string>()->default_value("howdy.bench"))
        ("name-prefix", "prefix of the HCP user names (s0.., p0..), e.g. when a server still "
            "holds the names of an earlier run",
            cxxopts::value<std::string>()->default_value(""))
        ("room", "hcp2 only: after NAME_OK every client JOINs room NAME and waits for its own "
            "ROOM_JOINED; publishers then SEND to the room (target kind 2) instead of to all",
            cxxopts::value<std::string>()->default_value(""))
        ("read-buffer", "bytes read at once per connection (>= 16384)",
            cxxopts::value<std::size_t>()->default_value("16384"))
        ("presence", "hcp2: HELLO without the \"no presence\" flag, so every client gets USERS and "
            "JOINED/LEFT (or whatever presence frames the server sends; read and counted, not checked). "
            "HCP/1 clients always get the user list (one cannot opt out): their last list is checked")
        ("hello-flags", "hcp2: extra HELLO flag bits ORed in, e.g. 0x2 (decimal or 0x hex)",
            cxxopts::value<std::string>()->default_value("0"))
        ("settle-quiet", "seconds with no byte received on any connection that end setup after the "
            "last registration (the presence backlog is flushed); bounded by --drain-timeout. The "
            "server's setup CPU is read then",
            cxxopts::value<double>()->default_value("0.2"))
        ("json", "print one JSON object on stdout instead of the table")
        ("h,help", "show this help");
  // clang-format on

  cxxopts::ParseResult r;
  try {
    r = spec.parse(argc, argv);
  } catch (std::exception const& e) {
    usage_error(e.what());
  }
  if (r.count("help")) {
    std::cout << spec.help() << "\nExamples:\n"
              << "  howdy-bench -p nats -P 4222 -n 1000 -m 20000 --server-pid $(pidof nats-server)\n"
              << "  howdy-bench -p redis -P 6379 -n 1000 -m 3000 --rate 100 --json\n"
              << "  howdy-bench -p hcp2 -n 5000 --idle --hold 5 --server-pid PID\n"
              << "  howdy-bench -p hcp2 -n 1000 -m 5000 --room lobby --server-pid PID\n"
              << "  howdy-bench -p hcp2 --presence -n 1000 -m 5000 --connect-concurrency 1 --server-pid PID\n"
              << "  howdy-bench -p hcp1 -n 1000 -m 5000 --connect-concurrency 1 --server-pid PID\n";
    std::exit(0);
  }
  if (!r.unmatched().empty()) usage_error("unexpected argument '" + r.unmatched().front() + "'");

  options o;
  try {
    o.proto_name = r["protocol"].as<std::string>();
    if (o.proto_name == "hcp2")
      o.proto = protocol::hcp2;
    else if (o.proto_name == "hcp1")
      o.proto = protocol::hcp1;
    else if (o.proto_name == "redis")
      o.proto = protocol::redis;
    else if (o.proto_name == "nats")
      o.proto = protocol::nats;
    else
      usage_error("unknown --protocol '" + o.proto_name + "' (hcp2, hcp1, redis, nats)");

    o.host = r["host"].as<std::string>();
    unsigned const default_port = o.proto == protocol::redis  ? 6379
                                  : o.proto == protocol::nats ? 4222
                                                              : hcp::default_port;
    unsigned const port = r.count("port") ? r["port"].as<unsigned>() : default_port;
    if (port == 0 || port > 65535) usage_error("--port must be 1..65535");
    o.port = std::uint16_t(port);
    o.subscribers = r["subscribers"].as<std::uint64_t>();
    o.publishers = r["publishers"].as<std::uint64_t>();
    o.messages = r["messages"].as<std::uint64_t>();
    o.size = r["size"].as<std::size_t>();
    o.rate = r["rate"].as<double>();
    o.window = r["window"].as<std::uint64_t>();
    o.connect_concurrency = r["connect-concurrency"].as<std::uint64_t>();
    o.threads = r["threads"].as<unsigned>();
    o.drain_timeout = r["drain-timeout"].as<double>();
    o.timeout = r["timeout"].as<double>();
    o.idle = r.count("idle") > 0;
    o.hold = r["hold"].as<double>();
    if (r.count("server-pid")) o.server_pid = r["server-pid"].as<int>();
    o.channel = r["channel"].as<std::string>();
    o.name_prefix = r["name-prefix"].as<std::string>();
    o.room = r["room"].as<std::string>();
    o.read_buffer = r["read-buffer"].as<std::size_t>();
    o.json = r.count("json") > 0;
    o.presence = r.count("presence") > 0;
    o.settle_quiet = r["settle-quiet"].as<double>();
    std::string const flags = r["hello-flags"].as<std::string>();
    char* end = nullptr;
    errno = 0;
    unsigned long long const bits = std::strtoull(flags.c_str(), &end, 0);
    if (flags.empty() || *end != '\0' || errno != 0 || bits > 0xFFFFFFFFull || flags[0] == '-')
      usage_error("--hello-flags must be a 32-bit number (decimal or 0x hex)");
    o.hello_flags = std::uint32_t(bits);
  } catch (std::exception const& e) {
    usage_error(e.what());
  }

  if (o.idle) o.publishers = 0;
  if (o.subscribers < 1) usage_error("--subscribers must be at least 1");
  if (!o.idle && o.publishers < 1) usage_error("--publishers must be at least 1");
  if (o.publishers >= bench::payload_codec::max_publishers) usage_error("--publishers must be below 16777216");
  if (!o.idle && o.messages < 1) usage_error("--messages must be at least 1");
  if (o.messages >= (std::uint64_t(1) << 59)) usage_error("--messages is too large");
  if (o.size < bench::payload_codec::min_size || o.size > 60000)
    usage_error("--size must be 24..60000 bytes (24 is the payload's own header)");
  if (!(o.rate >= 0) || o.rate > 1e9) usage_error("--rate must be 0 (max) or a positive number of messages/s");
  if (o.window < 1) usage_error("--window must be at least 1");
  if (o.connect_concurrency < 1) usage_error("--connect-concurrency must be at least 1");
  if (o.threads < 1 || o.threads > 64) usage_error("--threads must be 1..64");
  if (!(o.timeout > 0) || !(o.drain_timeout > 0) || !(o.hold >= 0) || o.timeout > 86400)
    usage_error("--timeout and --drain-timeout must be positive, --hold not negative");
  if (o.read_buffer < 16 * 1024 || o.read_buffer > (64u << 20)) usage_error("--read-buffer must be 16384..67108864");
  if (o.channel.empty() || o.channel.find_first_of(" \t\r\n") != std::string::npos)
    usage_error("--channel must be non-empty without spaces");
  if (o.name_prefix.size() > 40 || !howdy::is_valid_utf8(o.name_prefix) ||
      o.name_prefix.find_first_of(std::string_view("\0\x01\x02\x03\x04\x05", 6)) != std::string::npos)
    usage_error("--name-prefix must be at most 40 bytes of UTF-8 without control bytes 0x00..0x05");
  if (o.server_pid < 0) usage_error("--server-pid must be a process id");
  if (!(o.settle_quiet >= 0) || o.settle_quiet > 60) usage_error("--settle-quiet must be 0..60 seconds");
  if ((o.presence || o.hello_flags) && o.proto != protocol::hcp2 && o.proto != protocol::hcp1)
    usage_error("--presence and --hello-flags are for hcp2 (hcp1 clients always get presence)");
  if (o.hello_flags && o.proto != protocol::hcp2) usage_error("--hello-flags needs --protocol hcp2");
  if (o.proto == protocol::hcp1) o.presence = true;
  if (!o.room.empty()) {
    if (o.proto != protocol::hcp2) usage_error("--room needs --protocol hcp2 (rooms are HCP/2 only)");
    bool control = false;
    for (char ch : o.room) control |= static_cast<unsigned char>(ch) < 0x20;
    if (o.room.size() > hcp::name_field_size || !howdy::is_valid_utf8(o.room) || control)
      usage_error("--room must be 1..64 bytes of UTF-8 without control characters");
  }

  // Loopback only: benchmarks never target anything else.
  if (o.host == "localhost") o.host = "127.0.0.1";
  asio::error_code ec;
  auto const addr = asio::ip::make_address(o.host, ec);
  if (ec || !addr.is_loopback())
    usage_error("--host must be a loopback address (127.0.0.1, ::1 or localhost), not '" + o.host +
                "': benchmarks never target anything but this machine");

  if (!o.idle && o.rate > 0) {
    double const needed = double(o.messages) / o.rate + o.drain_timeout;
    if (needed > o.timeout)
      usage_error(
          fmt("publishing %llu messages at %g msg/s plus the drain timeout needs %g s, "
              "more than --timeout %g s",
              (unsigned long long)o.messages, o.rate, needed, o.timeout));
  }
  if (o.idle && o.hold >= o.timeout) usage_error("--hold must be shorter than --timeout");
  return o;
}

// Raises the soft RLIMIT_NOFILE to the hard limit; exits when that is not enough.
void ensure_fd_limit(std::uint64_t connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  std::uint64_t const needed = connections + 64;  // stdio, epoll, eventfds, /proc reads
  if (rl.rlim_cur != RLIM_INFINITY && needed > rl.rlim_cur) {
    std::cerr << "howdy-bench: " << connections << " connections need about " << needed
              << " file descriptors, but the hard limit (ulimit -Hn) is " << rl.rlim_cur
              << ": raise it or use fewer connections\n";
    std::exit(2);
  }
}

// ===========================================================================
// Run state
// ===========================================================================
struct error_counts {
  std::uint64_t connect_failed = 0;   // TCP connect failed
  std::uint64_t register_failed = 0;  // connected but not registered/subscribed
  std::uint64_t disconnected = 0;     // closed or reset by the server mid-run
  std::uint64_t protocol = 0;         // unparseable stream
  std::uint64_t stray_bytes = 0;      // HCP/1 bytes outside any packet (skipped)
  std::uint64_t server_errors = 0;    // ERROR frames, -ERR replies
  std::uint64_t write_failed = 0;     // publisher writes that failed
  std::uint64_t dropped_notices = 0;  // messages the server said it dropped (HCP/2 DROPPED)
  std::uint64_t acks_missing = 0;     // HCP/2 SENDs answered by neither SENT nor ERROR
  std::uint64_t acks_unexpected = 0;  // SENTs for no message sent, or a second SENT for one
  std::uint64_t internal = 0;         // exceptions escaping a coroutine (a bug)
  // The first few distinct messages, with the first connection that had
  // each and how often it occurred.
  struct sample {
    std::string text;
    std::string first;
    std::uint64_t count;
  };
  std::vector<sample> samples;

  void note(std::string text, std::string_view who = {}, std::uint64_t times = 1) {
    for (auto& s : samples)
      if (s.text == text) {
        s.count += times;
        return;
      }
    if (samples.size() < 8) samples.push_back({std::move(text), std::string(who), times});
  }
  void merge(error_counts const& o) {
    connect_failed += o.connect_failed;
    register_failed += o.register_failed;
    disconnected += o.disconnected;
    protocol += o.protocol;
    stray_bytes += o.stray_bytes;
    server_errors += o.server_errors;
    write_failed += o.write_failed;
    dropped_notices += o.dropped_notices;
    acks_missing += o.acks_missing;
    acks_unexpected += o.acks_unexpected;
    internal += o.internal;
    for (auto const& s : o.samples) note(s.text, s.first, s.count);
  }
};

struct conn;

// One thread running one io_context, and what only that thread touches.
struct worker {
  asio::io_context ioc{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  bench::histogram latency;
  bench::histogram ack_latency;  // publisher: from the message's stamp to its SENT
  std::uint64_t last_delivery_ns = 0;
  std::uint64_t subscriber_reads = 0;  // read completions on subscriber sockets
  // Frames no benchmark check needs (presence: HCP/2 USERS, JOINED, LEFT or any
  // frame type unknown here; HCP/1 user lists), read and counted only.
  std::uint64_t other_frames = 0;
  std::uint64_t other_bytes = 0;
  std::atomic<std::uint64_t> last_rx_ns{0};  // last read completion on any connection (settle)
  error_counts errors;
  std::vector<conn*> conns;
};

struct run_state {
  explicit run_state(options const& o) : opt(o), codec(o.size) {}

  options const& opt;
  bench::payload_codec codec;
  tcp::endpoint endpoint;
  std::vector<std::uint64_t> planned;        // messages per publisher
  std::vector<std::string> publisher_names;  // "p0", "p1", ...
  std::size_t wire_size = 0;                 // bytes of one published message
  std::string text_prefix;                   // redis/nats publish command before the payload
  std::string redis_message_prefix;          // a redis message push up to the payload length
  std::string join_frame;                    // HCP/2 JOIN --room
  hcp::hcp2::target_kind send_kind = hcp::hcp2::target_kind::all;
  std::uint64_t wake_threshold = 1;  // publisher resumes when this many messages fit
  double ns_per_message = 0;         // rate mode schedule step
  std::uint64_t schedule_start_ns = 0;

  std::vector<std::unique_ptr<worker>> workers;
  std::vector<std::unique_ptr<conn>> conns;  // subscribers [0, N), publishers [N, N+P)
  std::vector<conn*> publishers;

  std::atomic<std::uint64_t> next_conn{0};
  std::atomic<std::uint64_t> registered{0};
  std::atomic<std::uint64_t> setup_failed{0};
  std::atomic<std::uint64_t> setup_done_ns{0};
  std::atomic<std::uint64_t> alive_subscribers{0};
  std::atomic<std::uint64_t> published{0};  // messages handed to the socket, all publishers
  std::atomic<std::uint64_t> accounted{0};  // deliveries + detected gaps, live subscribers
  std::atomic<std::uint64_t> answered{0};   // HCP/2: SENDs answered by SENT or ERROR, all publishers
  std::atomic<std::uint64_t> first_publish_ns{0};
  std::atomic<std::uint64_t> publishers_done{0};
  std::atomic<int> waiters{0};
  std::atomic<int> live{0};  // running coroutines
  std::atomic<bool> stopping{false};
  std::atomic<bool> flow_stalled{false};
  std::atomic<std::uint64_t> lists_complete{0};  // HCP/1: subscribers whose last user list names everyone

  std::uint64_t total_conns() const { return opt.subscribers + opt.publishers; }
  bool tracks_acks() const { return opt.proto == protocol::hcp2; }
};

struct live_guard {
  run_state& run;
  explicit live_guard(run_state& r) : run(r) { run.live.fetch_add(1); }
  ~live_guard() { run.live.fetch_sub(1); }
  live_guard(live_guard const&) = delete;
  live_guard& operator=(live_guard const&) = delete;
};

// Missing sequence numbers [first, last) of one publisher, seen by one subscriber.
struct gap {
  std::uint64_t first, last;
};

struct stream_state {
  std::uint64_t next = 0;                  // highest sequence seen + 1
  std::unique_ptr<std::vector<gap>> gaps;  // allocated on the first gap only
};

// joining: NAME_OK received, JOIN sent, waiting for our own ROOM_JOINED (--room).
enum class phase : std::uint8_t { connecting, handshake, joining, registered };

struct conn {
  conn(run_state& r, worker& w, role ro, std::uint32_t i) : run(r), wk(w), kind(ro), id(i), sock(w.ioc), timer(w.ioc) {
    name = r.opt.name_prefix + (ro == role::subscriber ? "s" : "p") + std::to_string(i);
    // Room for several whole messages even when --size is large.
    in.resize(std::max(r.opt.read_buffer, 4 * (r.opt.size + 512)));
    if (ro == role::subscriber) streams.resize(r.opt.publishers);
  }

  run_state& run;
  worker& wk;
  role kind;
  std::uint32_t id;  // subscriber index or publisher id
  std::string name;
  tcp::socket sock;
  asio::steady_timer timer;
  phase ph = phase::connecting;
  bool failed = false;
  bool dead = false;
  std::string fail_reason;

  // Input stream.
  std::vector<char> in;
  std::size_t in_len = 0;
  std::uint64_t skip = 0;  // HCP/2: bytes of a skipped frame still to come
  bool in_update = false;  // HCP/1: inside a type-4 name list
  bool pong_owed = false;  // NATS: server sent PING
  bool join_owed = false;  // HCP/2 --room: NAME_OK arrived, JOIN not yet written
  // HCP/1 user lists: only the last one's count is kept (a list ends where the
  // next packet starts, so the count of the list being read is the last one's).
  std::uint64_t lists = 0;       // type-4 packets received
  std::uint64_t list_names = 0;  // names in the last one
  bool list_complete = false;    // list_names == every bench connection (counted in run.lists_complete)

  // Subscriber.
  std::vector<stream_state> streams;  // one per publisher
  std::uint64_t received = 0, missing = 0, duplicated = 0, reordered = 0, corrupt = 0;
  std::uint64_t accounted = 0;  // received + missing already added to run.accounted

  // Publisher.
  std::atomic<bool> waiting{false};
  std::uint64_t sent = 0;
  std::uint64_t finish_ns = 0;
  std::unique_ptr<char[]> out;
  std::size_t out_cap = 0;
  std::string scratch;                     // one payload, for the HCP encoders
  std::vector<std::uint64_t> send_stamps;  // HCP/2: stamp of message seq until its SENT (0 = answered)
  std::uint64_t acks = 0, nacks = 0;       // SENT / ERROR frames received after registration
  std::uint64_t answered = 0;              // acks + nacks already added to run.answered

  void fail(std::string reason) {
    if (!failed) {
      failed = true;
      fail_reason = std::move(reason);
    }
  }
};

// ===========================================================================
// Deliveries
// ===========================================================================
void add_gap(stream_state& s, std::uint64_t first, std::uint64_t last) {
  if (!s.gaps) s.gaps = std::make_unique<std::vector<gap>>();
  if (s.gaps->size() == max_gap_ranges)  // bounded: the oldest stays counted as lost
    s.gaps->erase(s.gaps->begin());
  s.gaps->push_back({first, last});
}

// A sequence number below `next`: true if it fills a gap (a late, reordered
// message), false if it was already received (a duplicate).
bool fill_gap(stream_state& s, std::uint64_t seq) {
  if (!s.gaps) return false;
  auto& v = *s.gaps;
  auto it = std::upper_bound(v.begin(), v.end(), seq, [](std::uint64_t x, gap const& g) { return x < g.first; });
  if (it == v.begin()) return false;
  --it;
  if (seq >= it->last) return false;
  if (it->first + 1 == it->last)
    v.erase(it);
  else if (seq == it->first)
    ++it->first;
  else if (seq + 1 == it->last)
    --it->last;
  else {
    gap const tail{seq + 1, it->last};
    it->last = seq;
    v.insert(it + 1, tail);
  }
  return true;
}

// One message received by a subscriber. `sender` is checked when the
// protocol carries it (HCP), empty otherwise.
void deliver(conn& c, std::string_view payload, std::string_view sender, std::uint64_t now) {
  bench::payload_codec::fields f{};
  if (!c.run.codec.read(payload, f) || f.publisher >= c.streams.size() || f.seq >= c.run.planned[f.publisher] ||
      (!sender.empty() && sender != c.run.publisher_names[f.publisher])) {
    ++c.corrupt;
    return;
  }
  stream_state& s = c.streams[f.publisher];
  if (f.seq == s.next) {
    ++s.next;
  } else if (f.seq > s.next) {
    add_gap(s, s.next, f.seq);
    c.missing += f.seq - s.next;
    s.next = f.seq + 1;
  } else if (fill_gap(s, f.seq)) {
    ++c.reordered;
    --c.missing;
  } else {
    ++c.duplicated;
    return;
  }
  ++c.received;
  c.wk.latency.record(now > f.stamp_ns ? now - f.stamp_ns : 0);
}

// ===========================================================================
// Stream parsers: consume every complete message in [p, p+n), return the
// bytes consumed. Fatal problems set c.failed.
// ===========================================================================
std::span<const std::byte> bytes_of(char const* p, std::size_t n) { return {reinterpret_cast<std::byte const*>(p), n}; }

void server_error(conn& c, std::string text) {
  ++c.wk.errors.server_errors;
  if (c.ph == phase::handshake || c.ph == phase::joining) {
    c.fail("server refused registration: " + text);
  } else {
    if (c.kind == role::publisher) ++c.nacks;  // answers a SEND (HCP/2), so it is no missing SENT
    c.wk.errors.note("server error: " + text, c.name);
  }
}

// A SENT for the publisher's message `client_ref` (= its sequence number while
// it fits in 32 bits, which is when the stamps are kept).
void note_ack(conn& c, std::uint32_t client_ref, std::uint64_t now) {
  ++c.acks;
  if (c.send_stamps.empty()) return;  // too many messages to time: counted only
  if (client_ref >= c.sent || c.send_stamps[client_ref] == 0) {
    ++c.wk.errors.acks_unexpected;
    c.wk.errors.note("SENT for a message not sent or already answered", c.name);
    return;
  }
  std::uint64_t const stamp = c.send_stamps[client_ref];
  c.send_stamps[client_ref] = 0;
  c.wk.ack_latency.record(now > stamp ? now - stamp : 0);
}

// --- HCP/2 -------------------------------------------------------------------
void handle_hcp2_frame(conn& c, std::span<const std::byte> frame, std::uint8_t type, std::uint64_t now) {
  namespace h2 = hcp::hcp2;
  auto const f = h2::parse(frame);
  if (auto const* m = std::get_if<h2::message>(&f)) {
    // As strict as the payload: a message must also come the way it was sent.
    std::string_view const room = c.run.opt.room;
    bool const routed =
        room.empty() ? m->kind == h2::target_kind::all : m->kind == h2::target_kind::room && m->target == room;
    if (routed)
      deliver(c, m->text, m->sender, now);
    else
      ++c.corrupt;
  } else if (auto const* s = std::get_if<h2::sent>(&f)) {
    if (c.kind == role::publisher && c.ph == phase::registered) note_ack(c, s->client_ref, now);
  } else if (auto const* ok = std::get_if<h2::name_ok>(&f)) {
    if (c.ph == phase::handshake) {
      if (ok->value != c.name) {
        c.fail("NAME_OK for another name");
      } else if (c.run.opt.room.empty()) {
        c.ph = phase::registered;
      } else {
        c.ph = phase::joining;  // establish() writes the JOIN
        c.join_owed = true;
      }
    }
  } else if (auto const* j = std::get_if<h2::room_joined>(&f)) {
    // Every member hears of every join; ours is the one that counts.
    if (c.ph == phase::joining && j->room == c.run.opt.room && j->user == c.name) c.ph = phase::registered;
  } else if (auto const* no = std::get_if<h2::name_refused>(&f)) {
    c.fail("NAME_REFUSED " + std::to_string(no->code) + ": " + std::string(no->reason));
  } else if (auto const* e = std::get_if<h2::error>(&f)) {
    server_error(c, "ERROR " + std::to_string(e->code) + ": " + std::string(e->text));
  } else if (auto const* d = std::get_if<h2::dropped>(&f)) {
    c.wk.errors.dropped_notices += d->count;
  } else if (std::holds_alternative<h2::parse_error>(f)) {
    if (type == std::uint8_t(h2::frame_type::message) && c.kind == role::subscriber)
      ++c.corrupt;
    else
      c.fail("malformed HCP/2 frame of type " + std::to_string(type));
  }
}

std::size_t parse_hcp2(conn& c, char const* p, std::size_t n, std::uint64_t now) {
  namespace h2 = hcp::hcp2;
  std::size_t pos = 0;
  while (pos < n) {
    if (c.skip > 0) {
      auto const take = std::size_t(std::min<std::uint64_t>(c.skip, n - pos));
      pos += take;
      c.skip -= take;
      continue;
    }
    if (n - pos < h2::header_size) break;
    auto const* u = reinterpret_cast<unsigned char const*>(p + pos);
    std::uint32_t const len = std::uint32_t(u[0]) << 24 | std::uint32_t(u[1]) << 16 | std::uint32_t(u[2]) << 8 | u[3];
    std::uint8_t const type = u[4];
    if (len == 0 || len > max_accepted_frame) {
      c.fail("invalid HCP/2 frame length " + std::to_string(len));
      return pos;
    }
    std::size_t const total = 4 + std::size_t(len);
    bool wanted = false;
    switch (h2::frame_type(type)) {
      case h2::frame_type::message:
        wanted = c.kind == role::subscriber;
        break;
      case h2::frame_type::sent:
        wanted = c.kind == role::publisher;
        break;
      case h2::frame_type::room_joined:
        wanted = c.ph == phase::joining;
        break;
      case h2::frame_type::name_ok:
      case h2::frame_type::name_refused:
      case h2::frame_type::error:
      case h2::frame_type::dropped:
        wanted = true;
        break;
      default:
        break;  // WELCOME, USERS, JOINED, LEFT, ROOM_JOINED once joined, PONG: skipped unread
    }
    if (wanted && total > c.in.size()) {
      if (type == std::uint8_t(h2::frame_type::message)) ++c.corrupt;  // cannot be one of ours
      wanted = false;
    }
    if (!wanted) {
      ++c.wk.other_frames;
      c.wk.other_bytes += total;
      c.skip = total;
      continue;
    }
    if (n - pos < total) break;
    handle_hcp2_frame(c, bytes_of(p + pos, total), type, now);
    if (c.failed) return pos;
    pos += total;
  }
  return pos;
}

// --- HCP/1 -------------------------------------------------------------------
// One more name in the user list being read: is it now complete (all our
// connections, the one reading it included, as presence.hpp lists them)?
void note_list_name(conn& c) {
  ++c.list_names;
  bool const complete = c.list_names == c.run.total_conns();
  if (complete == c.list_complete) return;
  c.list_complete = complete;
  if (c.kind == role::subscriber) {
    if (complete)
      c.run.lists_complete.fetch_add(1);
    else
      c.run.lists_complete.fetch_sub(1);
  }
}

// Types 1-3 are 65 bytes, type 4 is 64-byte name blocks up to the next packet
// start, type 5 is 129 bytes + text. Our texts are exactly --size bytes, so a
// type 5 is complete at 129 + size; a packet start inside it means the server
// cut it short (the reference server does): counted corrupt, parsing resumes
// at that byte.
std::size_t parse_hcp1(conn& c, char const* p, std::size_t n, std::uint64_t now) {
  namespace h1 = hcp::hcp1;
  auto const is_start = [](char ch) { return h1::is_type_byte(std::byte(static_cast<unsigned char>(ch))); };
  std::size_t const message_size = h1::message_header_size + c.run.codec.size();
  std::size_t pos = 0;
  while (pos < n) {
    if (c.in_update) {
      if (is_start(p[pos])) {
        c.in_update = false;
        continue;
      }
      if (n - pos < hcp::name_field_size) break;
      pos += hcp::name_field_size;
      c.wk.other_bytes += hcp::name_field_size;
      note_list_name(c);
      continue;
    }
    switch (static_cast<unsigned char>(p[pos])) {
      case 0x01:
      case 0x02:
      case 0x03: {
        if (n - pos < h1::name_packet_size) return pos;
        auto const pk = h1::parse_name_packet(bytes_of(p + pos, h1::name_packet_size));
        if (pk && c.ph == phase::handshake && pk->name.name == c.name) {
          if (pk->kind == h1::type::ack)
            c.ph = phase::registered;
          else if (pk->kind == h1::type::nak)
            c.fail("name refused (type 3 nak)");
        }
        pos += h1::name_packet_size;
        break;
      }
      case 0x04:
        c.in_update = true;
        ++pos;
        ++c.wk.other_frames;
        ++c.wk.other_bytes;
        ++c.lists;
        c.list_names = 0;
        if (c.list_complete) {
          c.list_complete = false;
          if (c.kind == role::subscriber) c.run.lists_complete.fetch_sub(1);
        }
        break;
      case 0x05: {
        std::size_t const avail = std::min(n - pos, message_size);
        std::size_t k = 1;
        while (k < avail && !is_start(p[pos + k])) ++k;
        if (k < avail) {  // cut short by the next packet
          if (c.kind == role::subscriber) ++c.corrupt;
          pos += k;
          break;
        }
        if (avail < message_size) return pos;
        if (c.kind == role::subscriber) {
          auto const m = h1::parse_message(bytes_of(p + pos, message_size));
          if (m && m->receiver == "All")
            deliver(c, m->text, m->sender, now);
          else
            ++c.corrupt;
        }
        pos += message_size;
        break;
      }
      default:  // outside any packet: skip to the next packet start
        ++c.wk.errors.stray_bytes;
        ++pos;
    }
  }
  return pos;
}

// --- Redis (RESP2) -------------------------------------------------------------
enum class resp { ok, incomplete, bad };

bool to_int(std::string_view s, std::int64_t& v) {
  auto const [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// One CRLF-terminated line starting at q; `line` excludes the type byte and CRLF.
resp read_line(char const*& q, char const* end, std::string_view& line) {
  auto const* nl = static_cast<char const*>(std::memchr(q, '\n', std::size_t(end - q)));
  if (!nl) return std::size_t(end - q) > max_line ? resp::bad : resp::incomplete;
  if (nl == q || nl[-1] != '\r') return resp::bad;
  line = std::string_view(q + 1, std::size_t(nl - 1 - (q + 1)));
  q = nl + 1;
  return resp::ok;
}

// A non-array RESP value: '$' bulk (value = contents), or ':' '+' '-' (value = line).
resp read_item(char const*& q, char const* end, char& type, std::string_view& value) {
  if (q >= end) return resp::incomplete;
  type = *q;
  char const* cur = q;
  std::string_view line;
  if (auto r = read_line(cur, end, line); r != resp::ok) return r;
  if (type == ':' || type == '+' || type == '-') {
    value = line;
    q = cur;
    return resp::ok;
  }
  if (type != '$') return resp::bad;
  std::int64_t len = 0;
  if (!to_int(line, len) || len > std::int64_t(max_accepted_frame)) return resp::bad;
  if (len < 0) {  // null bulk string
    value = {};
    q = cur;
    return resp::ok;
  }
  if (end - cur < len + 2) return resp::incomplete;
  if (cur[len] != '\r' || cur[len + 1] != '\n') return resp::bad;
  value = std::string_view(cur, std::size_t(len));
  q = cur + len + 2;
  return resp::ok;
}

std::size_t parse_redis(conn& c, char const* p, std::size_t n, std::uint64_t now) {
  char const* const end = p + n;
  char const* cur = p;
  std::string_view const fast = c.run.redis_message_prefix;
  while (cur < end) {
    // Fast path for the common case, a complete message on our channel:
    // "*3\r\n$7\r\nmessage\r\n$<n>\r\n<channel>\r\n$<size>\r\n<payload>\r\n".
    if (c.kind == role::subscriber && std::size_t(end - cur) > fast.size() &&
        std::memcmp(cur, fast.data(), fast.size()) == 0) {
      char const* q = cur + fast.size();
      std::size_t len = 0;
      int digits = 0;
      while (q < end && *q >= '0' && *q <= '9' && digits < 9) {
        len = len * 10 + std::size_t(*q++ - '0');
        ++digits;
      }
      if (q < end && *q == '\r' && digits > 0) {
        if (std::size_t(end - q) < 2 + len + 2) break;  // incomplete
        if (q[1] == '\n' && q[2 + len] == '\r' && q[3 + len] == '\n') {
          deliver(c, std::string_view(q + 2, len), {}, now);
          cur = q + 4 + len;
          continue;
        }
      } else if (q == end) {
        break;  // incomplete
      }
      // anything else: let the general parser judge it
    }
    char const* q = cur;
    std::string_view elems[3];
    std::int64_t count = 0;
    char type = *q;
    resp r = resp::ok;
    if (type == '*') {
      std::string_view line;
      r = read_line(q, end, line);
      if (r == resp::ok && (!to_int(line, count) || count < 0 || count > 16)) r = resp::bad;
      for (std::int64_t i = 0; r == resp::ok && i < count; ++i) {
        char t = 0;
        std::string_view v;
        r = read_item(q, end, t, v);
        if (i < 3) elems[i] = v;
      }
    } else {
      r = read_item(q, end, type, elems[0]);
    }
    if (r == resp::incomplete) break;
    if (r == resp::bad) {
      c.fail("malformed RESP from server");
      break;
    }
    cur = q;

    if (type == '*') {
      if (count == 3 && elems[0] == "message") {
        if (c.kind == role::subscriber) deliver(c, elems[2], {}, now);
      } else if (count == 3 && elems[0] == "subscribe" && c.ph == phase::handshake) {
        c.ph = phase::registered;
      }
    } else if (type == '-') {
      server_error(c, std::string(elems[0]));
    } else if (type == '+' && elems[0] == "PONG" && c.ph == phase::handshake) {
      c.ph = phase::registered;  // publisher's PING answered
    }                            // ':' = a PUBLISH reply (receiver count)
    if (c.failed) break;
  }
  return std::size_t(cur - p);
}

// --- NATS ------------------------------------------------------------------------
std::size_t parse_nats(conn& c, char const* p, std::size_t n, std::uint64_t now) {
  std::size_t pos = 0;
  while (pos < n) {
    auto const* nl = static_cast<char const*>(std::memchr(p + pos, '\n', n - pos));
    if (!nl) {
      if (n - pos > max_line) c.fail("NATS control line too long");
      break;
    }
    std::string_view line(p + pos, std::size_t(nl - (p + pos)));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t const body = std::size_t(nl + 1 - p);
    if (line.starts_with("MSG ")) {  // MSG <subject> <sid> [reply-to] <#bytes>
      std::int64_t size = -1;
      auto const sp = line.rfind(' ');
      if (!to_int(line.substr(sp + 1), size) || size < 0 || size > std::int64_t(max_accepted_frame)) {
        c.fail("malformed NATS MSG line");
        break;
      }
      if (n - body < std::size_t(size) + 2) break;
      if (c.kind == role::subscriber) deliver(c, std::string_view(p + body, std::size_t(size)), {}, now);
      pos = body + std::size_t(size) + 2;
      continue;
    }
    if (line == "PING")
      c.pong_owed = true;
    else if (line == "PONG" && c.ph == phase::handshake)
      c.ph = phase::registered;
    else if (line.starts_with("-ERR"))
      server_error(c, std::string(line));
    // INFO, +OK: nothing to do
    pos = body;
    if (c.failed) break;
  }
  return pos;
}

std::size_t parse_input(conn& c, char const* p, std::size_t n, std::uint64_t now) {
  switch (c.run.opt.proto) {
    case protocol::hcp2:
      return parse_hcp2(c, p, n, now);
    case protocol::hcp1:
      return parse_hcp1(c, p, n, now);
    case protocol::redis:
      return parse_redis(c, p, n, now);
    case protocol::nats:
      return parse_nats(c, p, n, now);
  }
  return 0;
}

// ===========================================================================
// Flow control (max-rate mode)
// ===========================================================================
// Messages that may still be published so that, on average over the live
// subscribers, no more than --window messages are undelivered.
std::uint64_t window_allowance(run_state& run, std::uint64_t published) {
  std::uint64_t const alive = run.alive_subscribers.load();
  if (alive == 0) return run.opt.window;
  std::uint64_t const due = published * alive;
  std::uint64_t const done = run.accounted.load();
  std::uint64_t const pending = due > done ? (due - done + alive - 1) / alive : 0;
  return run.opt.window > pending ? run.opt.window - pending : 0;
}

void wake_publishers(run_state& run) {
  if (window_allowance(run, run.published.load()) < run.wake_threshold) return;
  for (conn* p : run.publishers)
    if (p->waiting.exchange(false)) asio::post(p->wk.ioc, [p] { p->timer.cancel(); });
}

// Data arrived on c: parse it, keep the unparsed tail, update the counters.
bool consume_input(conn& c, std::size_t n) {
  c.in_len += n;
  std::uint64_t const now = mono_ns();
  c.wk.last_rx_ns.store(now, std::memory_order_relaxed);
  std::uint64_t const received_before = c.received;
  std::size_t const used = parse_input(c, c.in.data(), c.in_len, now);
  if (c.failed) return false;
  if (used > 0) {
    std::memmove(c.in.data(), c.in.data() + used, c.in_len - used);
    c.in_len -= used;
  }
  if (c.in_len == c.in.size()) {
    c.fail("a message larger than the read buffer");
    return false;
  }
  if (c.kind == role::publisher && c.acks + c.nacks != c.answered) {
    c.run.answered.fetch_add(c.acks + c.nacks - c.answered);
    c.answered = c.acks + c.nacks;
  }
  if (c.kind == role::subscriber) {
    ++c.wk.subscriber_reads;
    if (c.received != received_before) c.wk.last_delivery_ns = now;
    std::uint64_t const total = c.received + c.missing;
    if (total != c.accounted && !c.dead) {
      c.run.accounted.fetch_add(total - c.accounted);
      c.accounted = total;
      if (c.run.waiters.load() > 0) wake_publishers(c.run);
    }
  }
  return true;
}

// ===========================================================================
// Connections
// ===========================================================================
std::string handshake_bytes(conn const& c) {
  auto const& ch = c.run.opt.channel;
  bool const sub = c.kind == role::subscriber;
  switch (c.run.opt.proto) {
    // Like Redis and NATS subscribers, ours ask for no presence events (see docs/protocol.md).
    // --presence: HELLO without that flag, as a chat client sends it.
    case protocol::hcp2:
      return hcp::hcp2::encode_hello(hcp::hcp2::version,
                                     (c.run.opt.presence ? 0 : hcp::hcp2::hello_no_presence) | c.run.opt.hello_flags) +
             hcp::hcp2::encode_name(c.name);
    case protocol::hcp1:
      return hcp::hcp1::encode_proposal(c.name);
    case protocol::redis:
      return sub ? "*2\r\n$9\r\nSUBSCRIBE\r\n$" + std::to_string(ch.size()) + "\r\n" + ch + "\r\n"
                 : std::string("*1\r\n$4\r\nPING\r\n");
    case protocol::nats: {
      std::string s = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
      if (sub) s += "SUB " + ch + " 1\r\n";
      return s + "PING\r\n";  // registered at the PONG: the SUB is then in effect
    }
  }
  return {};
}

std::string describe(asio::error_code ec) {
  if (ec == asio::error::eof) return "server closed the connection";
  return ec.message();
}

// Connects and registers c. True when registered.
awaitable<bool> establish(conn& c) {
  auto& errors = c.wk.errors;
  auto [cec] = co_await c.sock.async_connect(c.run.endpoint, use_tuple);
  if (cec || c.run.stopping.load()) {
    ++errors.connect_failed;
    errors.note("connect to " + c.run.opt.host + ":" + std::to_string(c.run.opt.port) + ": " +
                (cec ? cec.message() : "stopped"));
    co_return false;
  }
  asio::error_code ignored;
  c.sock.set_option(tcp::no_delay(true), ignored);
  c.ph = phase::handshake;

  auto fail = [&](std::string why) {
    ++errors.register_failed;
    errors.note(c.failed ? c.fail_reason : why, c.name);
    return false;
  };
  std::string const hello = handshake_bytes(c);
  auto [wec, wn] = co_await asio::async_write(c.sock, asio::buffer(hello), use_tuple);
  if (wec) co_return fail("registration: " + describe(wec));
  while (c.ph != phase::registered) {
    auto [rec, n] =
        co_await c.sock.async_read_some(asio::buffer(c.in.data() + c.in_len, c.in.size() - c.in_len), use_tuple);
    if (rec) co_return fail("registration: " + describe(rec));
    if (!consume_input(c, n)) co_return fail("registration failed");
    if (c.join_owed) {
      c.join_owed = false;
      auto [jec, jn] = co_await asio::async_write(c.sock, asio::buffer(c.run.join_frame), use_tuple);
      if (jec) co_return fail("JOIN: " + describe(jec));
    }
  }
  co_return true;
}

// Reads until the connection ends or the run stops.
awaitable<void> read_loop(conn& c) {
  live_guard live(c.run);
  static constexpr std::string_view pong = "PONG\r\n";
  for (;;) {
    auto [ec, n] =
        co_await c.sock.async_read_some(asio::buffer(c.in.data() + c.in_len, c.in.size() - c.in_len), use_tuple);
    if (c.run.stopping.load()) break;
    if (ec) {
      ++c.wk.errors.disconnected;
      c.wk.errors.note(describe(ec), c.name);
      break;
    }
    if (!consume_input(c, n)) {
      ++c.wk.errors.protocol;
      c.wk.errors.note(c.fail_reason, c.name);
      break;
    }
    if (c.pong_owed && c.kind == role::subscriber) {  // publishers add it to their next batch
      c.pong_owed = false;
      co_await asio::async_write(c.sock, asio::buffer(pong), use_tuple);
    }
  }
  if (c.run.stopping.load()) co_return;
  c.dead = true;
  asio::error_code ignored;
  c.sock.close(ignored);
  if (c.kind == role::subscriber) {  // stop waiting for it in flow control and drain
    if (c.list_complete) {
      c.list_complete = false;
      c.run.lists_complete.fetch_sub(1);
    }
    c.run.accounted.fetch_sub(c.accounted);
    c.run.alive_subscribers.fetch_sub(1);
    wake_publishers(c.run);
  }
}

// Exceptions are bugs here: count them instead of losing them.
template <class Awaitable>
void spawn(worker& w, Awaitable&& a) {
  asio::co_spawn(w.ioc, std::forward<Awaitable>(a), [&w](std::exception_ptr e) {
    if (!e) return;
    ++w.errors.internal;
    try {
      std::rethrow_exception(e);
    } catch (std::exception const& x) {
      w.errors.note(std::string("internal error: ") + x.what());
    } catch (...) {
      w.errors.note("internal error");
    }
  });
}

// Takes connection indices until all are set up; --connect-concurrency of
// these run at once.
awaitable<void> setup_worker(run_state& run, worker& w) {
  live_guard live(run);
  std::uint64_t const subs = run.opt.subscribers;
  for (;;) {
    if (run.stopping.load()) co_return;
    std::uint64_t const idx = run.next_conn.fetch_add(1);
    if (idx >= run.total_conns()) co_return;
    bool const sub = idx < subs;
    auto& slot = run.conns[idx];
    slot =
        std::make_unique<conn>(run, w, sub ? role::subscriber : role::publisher, std::uint32_t(sub ? idx : idx - subs));
    conn& c = *slot;
    w.conns.push_back(&c);
    if (!co_await establish(c)) {
      asio::error_code ignored;
      c.sock.close(ignored);
      c.dead = true;
      run.setup_failed.fetch_add(1);
      continue;
    }
    if (sub) run.alive_subscribers.fetch_add(1);
    spawn(w, read_loop(c));
    if (run.registered.fetch_add(1) + 1 == run.total_conns()) run.setup_done_ns.store(mono_ns());
  }
}

// ===========================================================================
// Publishing
// ===========================================================================
// One publish command for message `seq` of publisher c, into out[0, wire_size).
void encode_message(conn& c, char* out, std::uint64_t seq, std::uint64_t stamp) {
  auto const& run = c.run;
  std::size_t const size = run.codec.size();
  std::span<std::byte> const dst(reinterpret_cast<std::byte*>(out), run.wire_size);
  switch (run.opt.proto) {
    case protocol::hcp2:
      run.codec.write(c.scratch.data(), c.id, seq, stamp);
      // The client_ref is the sequence number, so a SENT names the message it answers.
      hcp::hcp2::write_send(dst, std::uint32_t(seq), run.send_kind, run.opt.room, c.scratch);
      if (!c.send_stamps.empty()) c.send_stamps[seq] = stamp;
      break;
    case protocol::hcp1:
      run.codec.write(c.scratch.data(), c.id, seq, stamp);
      hcp::hcp1::write_message(dst, c.name, "All", c.scratch);
      break;
    case protocol::redis:
    case protocol::nats:
      std::memcpy(out, run.text_prefix.data(), run.text_prefix.size());
      run.codec.write(out + run.text_prefix.size(), c.id, seq, stamp);
      std::memcpy(out + run.text_prefix.size() + size, "\r\n", 2);
      break;
  }
}

// Max-rate mode: waits until the window has room, reserves up to `want`
// messages and returns how many; 0 when the run stops or deliveries stall.
awaitable<std::uint64_t> acquire_window(conn& c, std::uint64_t want) {
  run_state& run = c.run;
  std::uint64_t const enough = std::min(want, run.wake_threshold);
  auto const stall_limit = std::uint64_t(run.opt.drain_timeout * 1e9);
  std::uint64_t last_accounted = run.accounted.load();
  std::uint64_t stalled_since = mono_ns();
  for (;;) {
    if (run.stopping.load()) co_return 0;
    std::uint64_t cur = run.published.load();
    std::uint64_t const allowed = window_allowance(run, cur);
    if (allowed >= enough) {
      std::uint64_t const take = std::min(allowed, want);
      if (run.published.compare_exchange_weak(cur, cur + take)) co_return take;
      continue;
    }
    c.waiting.store(true);
    run.waiters.fetch_add(1);
    if (window_allowance(run, run.published.load()) < enough) {
      c.timer.expires_after(std::chrono::milliseconds(5));  // a safety net; deliveries wake us
      co_await c.timer.async_wait(use_tuple);
    }
    c.waiting.store(false);
    run.waiters.fetch_sub(1);

    std::uint64_t const acc = run.accounted.load();
    std::uint64_t const now = mono_ns();
    if (acc != last_accounted) {
      last_accounted = acc;
      stalled_since = now;
    } else if (now - stalled_since > stall_limit) {
      if (!run.flow_stalled.exchange(true))
        c.wk.errors.note(
            "no delivery for --drain-timeout while the window was full: publishing "
            "stopped",
            c.name);
      co_return 0;
    }
  }
}

awaitable<void> publish_loop(conn& c) {
  live_guard live(c.run);
  run_state& run = c.run;
  std::uint64_t const planned = run.planned[c.id];
  std::uint64_t const max_batch = std::max<std::size_t>(1, batch_bytes / run.wire_size);
  static constexpr std::string_view pong = "PONG\r\n";
  c.out_cap = max_batch * run.wire_size + pong.size();
  c.out = std::make_unique<char[]>(c.out_cap);
  c.scratch.assign(run.codec.size(), ' ');
  if (run.tracks_acks() && planned <= max_timed_acks) c.send_stamps.assign(planned, 0);

  std::uint64_t const publishers = run.opt.publishers;
  auto scheduled = [&](std::uint64_t seq) {
    return run.schedule_start_ns + std::uint64_t(double(seq * publishers + c.id) * run.ns_per_message);
  };

  std::uint64_t seq = 0;
  while (seq < planned && !run.stopping.load()) {
    std::uint64_t batch = 0;
    std::uint64_t now = mono_ns();
    if (run.opt.rate > 0) {
      if (std::uint64_t const due = scheduled(seq); due > now) {
        c.timer.expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
        co_await c.timer.async_wait(use_tuple);
        continue;  // re-check stop and time
      }
      while (batch < max_batch && seq + batch < planned && scheduled(seq + batch) <= now) ++batch;
      run.published.fetch_add(batch);
    } else {
      batch = co_await acquire_window(c, std::min(max_batch, planned - seq));
      if (batch == 0) break;
      now = mono_ns();
    }
    std::uint64_t expected = 0;
    run.first_publish_ns.compare_exchange_strong(expected, now);

    std::size_t len = 0;
    if (c.pong_owed) {
      c.pong_owed = false;
      std::memcpy(c.out.get(), pong.data(), pong.size());
      len = pong.size();
    }
    for (std::uint64_t i = 0; i < batch; ++i, len += run.wire_size)
      encode_message(c, c.out.get() + len, seq + i, run.opt.rate > 0 ? scheduled(seq + i) : now);
    seq += batch;
    c.sent = seq;
    auto [ec, n] = co_await asio::async_write(c.sock, asio::buffer(c.out.get(), len), use_tuple);
    if (ec) {
      if (!run.stopping.load() && !c.dead) {
        ++c.wk.errors.write_failed;
        c.wk.errors.note("publish: " + describe(ec), c.name);
      }
      break;
    }
  }
  c.finish_ns = mono_ns();
  run.publishers_done.fetch_add(1);
}

// ===========================================================================
// Orchestration (main thread)
// ===========================================================================
void start_workers(run_state& run) {
  for (unsigned i = 0; i < run.opt.threads; ++i) {
    auto w = std::make_unique<worker>();
    w->guard.emplace(w->ioc.get_executor());
    run.workers.push_back(std::move(w));
  }
  for (auto& w : run.workers) w->thread = std::thread([p = w.get()] { p->ioc.run(); });
}

// Closes every connection, lets the coroutines finish (bounded), stops the threads.
void stop_workers(run_state& run) {
  run.stopping.store(true);
  for (auto& w : run.workers)
    asio::post(w->ioc, [p = w.get()] {
      for (conn* c : p->conns) {
        asio::error_code ignored;
        c->sock.close(ignored);
        c->timer.cancel();
      }
    });
  auto const deadline = mono_ns() + 3'000'000'000ull;
  while (run.live.load() > 0 && mono_ns() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  for (auto& w : run.workers) {
    w->guard.reset();
    w->ioc.stop();
  }
  for (auto& w : run.workers) w->thread.join();
}

struct progress {
  bool enabled = isatty(STDERR_FILENO) == 1;
  std::uint64_t last_ns = 0;

  template <class F>
  void tick(F&& text) {
    if (!enabled) return;
    std::uint64_t const now = mono_ns();
    if (now - last_ns < 250'000'000ull) return;
    last_ns = now;
    std::string const s = text();
    std::fprintf(stderr, "\r\033[K%s", s.c_str());
    std::fflush(stderr);
  }
  void clear() {
    if (enabled) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
    }
  }
};

double seconds(std::uint64_t from_ns, std::uint64_t to_ns) {
  return to_ns > from_ns ? double(to_ns - from_ns) / 1e9 : 0.0;
}

// Everything the report needs, gathered after the threads have stopped.
struct results {
  std::string mode;
  std::string status = "ok";
  bool timed_out = false;
  bool setup_complete = false;
  double setup_s = 0;
  std::uint64_t registered = 0;
  std::uint64_t published = 0, expected = 0, delivered = 0;
  std::uint64_t lost = 0, duplicated = 0, reordered = 0, corrupt = 0;
  std::uint64_t subscriber_reads = 0;
  double publish_s = 0, delivery_s = 0;
  bench::histogram latency;
  bench::histogram ack_latency;
  std::uint64_t acks = 0;  // SENT frames received by publishers
  error_counts errors;
  bool flow_stalled = false;
  std::optional<bench::proc_sample> server_baseline, server_before, server_after;
  std::vector<bench::thread_sample> server_threads_before, server_threads;  // the latter: CPU over the run
  bench::self_cpu gen_before, gen_after, gen_total;
  bool server_gone = false;
  // Setup: the server from before the first connect to the last registration
  // and to the end of the settle (no byte received for --settle-quiet).
  std::optional<bench::proc_sample> server_setup_start, server_registered, server_settled;
  bench::self_cpu gen_setup_start, gen_settled;
  bool settled = false;
  double settle_s = 0;                         // last registration to settled (or to giving up)
  std::uint64_t alive_after_setup = 0;         // subscribers still connected when setup ended
  std::uint64_t subscribers_disconnected = 0;  // registered subscribers the server cut off at any time
  std::uint64_t other_frames = 0, other_bytes = 0;
  // HCP/1: subscribers whose last user list names every connection.
  std::uint64_t lists_complete = 0, lists_incomplete = 0, lists_received = 0;
  std::uint64_t list_min_names = 0;
};

void collect(run_state& run, results& res, std::uint64_t first_ns, std::uint64_t publish_end_ns) {
  std::uint64_t last_delivery = 0;
  for (auto& w : run.workers) {
    res.latency.merge(w->latency);
    res.ack_latency.merge(w->ack_latency);
    res.errors.merge(w->errors);
    last_delivery = std::max(last_delivery, w->last_delivery_ns);
    res.subscriber_reads += w->subscriber_reads;
    res.other_frames += w->other_frames;
    res.other_bytes += w->other_bytes;
  }
  std::vector<std::uint64_t> sent(run.opt.publishers, 0);
  for (conn* p : run.publishers) {
    sent[p->id] = p->sent;
    res.published += p->sent;
    res.acks += p->acks;
    if (run.tracks_acks() && p->sent > p->acks + p->nacks) res.errors.acks_missing += p->sent - p->acks - p->nacks;
  }
  if (res.errors.acks_missing)
    res.errors.note(fmt("%llu SEND(s) answered by neither SENT nor ERROR within --drain-timeout",
                        (unsigned long long)res.errors.acks_missing));
  std::uint64_t subscribers_registered = 0;
  for (std::uint64_t i = 0; i < run.opt.subscribers && i < run.conns.size(); ++i) {
    conn const* c = run.conns[i].get();
    if (!c || c->ph != phase::registered) continue;
    ++subscribers_registered;
    if (c->dead) ++res.subscribers_disconnected;
    if (run.opt.proto == protocol::hcp1) {
      res.lists_received += c->lists;
      if (c->list_complete && !c->dead)
        ++res.lists_complete;
      else
        ++res.lists_incomplete;
      res.list_min_names = subscribers_registered == 1 ? c->list_names : std::min(res.list_min_names, c->list_names);
    }
    res.delivered += c->received;
    res.duplicated += c->duplicated;
    res.reordered += c->reordered;
    res.corrupt += c->corrupt;
    res.lost += c->missing;
    for (std::size_t p = 0; p < c->streams.size(); ++p)
      if (sent[p] > c->streams[p].next) res.lost += sent[p] - c->streams[p].next;
  }
  res.expected = res.published * subscribers_registered;
  res.flow_stalled = run.flow_stalled.load();
  if (first_ns) {
    res.publish_s = seconds(first_ns, publish_end_ns);
    res.delivery_s = seconds(first_ns, last_delivery);
  }
}

// ===========================================================================
// Report
// ===========================================================================
bool has_errors(results const& r) {
  auto const& e = r.errors;
  return e.connect_failed || e.register_failed || e.disconnected || e.protocol || e.stray_bytes || e.server_errors ||
         e.write_failed || e.dropped_notices || e.acks_missing || e.acks_unexpected || e.internal || r.flow_stalled ||
         r.timed_out || r.server_gone || r.lists_incomplete;
}

void finish_status(results& r) {
  if (!r.setup_complete)
    r.status = "setup-failed";
  else if (r.timed_out)
    r.status = "timeout";
  else if (r.lost || r.duplicated || r.reordered || r.corrupt)
    r.status = "integrity-errors";
  else if (has_errors(r))
    r.status = "errors";
}

double per_million(double value, std::uint64_t deliveries) {
  return deliveries ? value / double(deliveries) * 1e6 : 0.0;
}

void print_json(options const& o, results const& r) {
  bench::json_writer j;
  j.begin_object();
  j.field("tool", "howdy-bench").field("ok", r.status == "ok").field("status", r.status);
  j.begin_object("params")
      .field("protocol", o.proto_name)
      .field("host", o.host)
      .field("port", unsigned(o.port))
      .field("mode", r.mode)
      .field("subscribers", o.subscribers)
      .field("publishers", o.publishers)
      .field("messages", o.messages)
      .field("size", std::uint64_t(o.size))
      .field("rate", o.rate)
      .field("window", o.window)
      .field("threads", o.threads)
      .field("connect_concurrency", o.connect_concurrency)
      .field("read_buffer", std::uint64_t(o.read_buffer))
      .field("drain_timeout_s", o.drain_timeout)
      .field("timeout_s", o.timeout)
      .field("hold_s", o.hold)
      .field("channel", o.channel)
      .field("room", o.room)
      .field("server_pid", o.server_pid)
      .end_object();
  j.begin_object("setup")
      .field("seconds", r.setup_s)
      .field("connections", o.subscribers + o.publishers)
      .field("registered", r.registered)
      .field("connect_failed", r.errors.connect_failed)
      .field("register_failed", r.errors.register_failed)
      .field("concurrency", o.connect_concurrency)
      .field("settled", r.settled)
      .field("settle_s", r.settle_s)
      .field("subscribers_cut_off", r.setup_complete ? o.subscribers - r.alive_after_setup : 0);
  // The server's CPU to register everyone (and to flush what that queued).
  if (r.server_setup_start && r.server_registered)
    j.field("server_cpu_registered_s", r.server_registered->cpu_s - r.server_setup_start->cpu_s);
  if (r.server_setup_start && r.server_settled) {
    j.field("server_cpu_s", r.server_settled->cpu_s - r.server_setup_start->cpu_s);
    if (r.server_settled->run_s >= 0 && r.server_setup_start->run_s >= 0)
      j.field("server_run_s", r.server_settled->run_s - r.server_setup_start->run_s);
  }
  if (r.settled || r.settle_s > 0)
    j.field("generator_cpu_s", (r.gen_settled.user_s + r.gen_settled.sys_s) -
                                   (r.gen_setup_start.user_s + r.gen_setup_start.sys_s));
  j.end_object();
  j.begin_object("presence")
      .field("mode", o.proto == protocol::hcp1 ? "hcp1-lists"
                     : o.proto != protocol::hcp2 ? "none"
                     : o.presence                ? "on"
                                                 : "off")
      .field("hello_flags", o.proto == protocol::hcp2 ? (o.presence ? 0u : unsigned(hcp::hcp2::hello_no_presence)) |
                                                            o.hello_flags
                                                      : 0u)
      .field("other_frames", r.other_frames)
      .field("other_bytes", r.other_bytes)
      .end_object();
  j.field("subscribers_disconnected", r.subscribers_disconnected);
  j.begin_object("user_lists");
  if (o.proto == protocol::hcp1)
    j.field("expected_names", o.subscribers + o.publishers)
        .field("received", r.lists_received)
        .field("complete", r.lists_complete)
        .field("incomplete", r.lists_incomplete)
        .field("min_names", r.list_min_names);
  j.end_object();
  j.field("published", r.published)
      .field("expected_deliveries", r.expected)
      .field("delivered", r.delivered)
      .field("lost", r.lost)
      .field("duplicated", r.duplicated)
      .field("reordered", r.reordered)
      .field("corrupt", r.corrupt)
      .field("publish_seconds", r.publish_s)
      .field("delivery_seconds", r.delivery_s)
      .field("messages_per_s", r.publish_s > 0 ? double(r.published) / r.publish_s : 0.0)
      .field("deliveries_per_s", r.delivery_s > 0 ? double(r.delivered) / r.delivery_s : 0.0);
  auto us = [](std::uint64_t ns) { return double(ns) / 1e3; };
  j.begin_object("latency_us")
      .field("count", r.latency.count())
      .field("mean", r.latency.mean() / 1e3)
      .field("p50", us(r.latency.percentile(50)))
      .field("p90", us(r.latency.percentile(90)))
      .field("p99", us(r.latency.percentile(99)))
      .field("p999", us(r.latency.percentile(99.9)))
      .field("max", us(r.latency.max()))
      .end_object();
  // HCP/2 only: each SEND's SENT, timed from the message's stamp (as latency_us).
  j.begin_object("acks");
  if (o.proto == protocol::hcp2 && !o.idle) {
    j.field("received", r.acks)
        .field("missing", r.errors.acks_missing)
        .field("unexpected", r.errors.acks_unexpected)
        .begin_object("latency_us")
        .field("count", r.ack_latency.count())
        .field("p50", us(r.ack_latency.percentile(50)))
        .field("p90", us(r.ack_latency.percentile(90)))
        .field("p99", us(r.ack_latency.percentile(99)))
        .field("p999", us(r.ack_latency.percentile(99.9)))
        .field("max", us(r.ack_latency.max()))
        .end_object();
  }
  j.end_object();
  j.begin_object("server");
  if (o.server_pid && r.server_after) {
    j.field("pid", o.server_pid);
    if (r.server_before) {
      double const cpu = r.server_after->cpu_s - r.server_before->cpu_s;
      j.field("cpu_s", cpu).field("cpu_s_per_million_deliveries", per_million(cpu, r.delivered));
    }
    j.field("rss_kib", r.server_after->rss_kib).field("peak_rss_kib", r.server_after->hwm_kib);
    if (r.server_baseline) {
      j.field("baseline_rss_kib", r.server_baseline->rss_kib);
      double const grown = (double(r.server_after->rss_kib) - double(r.server_baseline->rss_kib)) * 1024;
      j.field("rss_per_connection_bytes", r.registered ? grown / double(r.registered) : 0.0);
    }
    // CPU per server thread over the publish and drain phases, busiest first.
    j.begin_array("threads");
    for (auto const& t : r.server_threads)
      j.begin_object().field("tid", t.tid).field("name", t.comm).field("cpu_s", t.cpu_s).end_object();
    j.end_array();
  }
  j.end_object();
  double const gen_phase = (r.gen_after.user_s + r.gen_after.sys_s) - (r.gen_before.user_s + r.gen_before.sys_s);
  j.begin_object("generator")
      .field("cpu_user_s", r.gen_total.user_s)
      .field("cpu_sys_s", r.gen_total.sys_s)
      .field("publish_phase_cpu_s", gen_phase)
      .field("cpu_s_per_million_deliveries", per_million(gen_phase, r.delivered))
      .field("subscriber_reads", r.subscriber_reads)
      .field("deliveries_per_read", r.subscriber_reads ? double(r.delivered) / double(r.subscriber_reads) : 0.0)
      .end_object();
  j.begin_object("errors")
      .field("connect_failed", r.errors.connect_failed)
      .field("register_failed", r.errors.register_failed)
      .field("disconnected", r.errors.disconnected)
      .field("protocol", r.errors.protocol)
      .field("stray_bytes", r.errors.stray_bytes)
      .field("server_errors", r.errors.server_errors)
      .field("write_failed", r.errors.write_failed)
      .field("dropped_notices", r.errors.dropped_notices)
      .field("acks_missing", r.errors.acks_missing)
      .field("acks_unexpected", r.errors.acks_unexpected)
      .field("internal", r.errors.internal)
      .field("flow_control_stalled", r.flow_stalled)
      .field("timed_out", r.timed_out)
      .field("server_gone", r.server_gone);
  j.begin_array("samples");
  for (auto const& s : r.errors.samples)
    j.begin_object().field("message", s.text).field("first_connection", s.first).field("count", s.count).end_object();
  j.end_array().end_object();
  j.end_object();
  std::cout << j.str() << '\n';
}

std::string si(double v) {
  if (v >= 1e6) return fmt("%.2f M", v / 1e6);
  if (v >= 1e3) return fmt("%.1f k", v / 1e3);
  return fmt("%.0f ", v);
}

void print_table(options const& o, results const& r) {
  auto line = [](char const* label, std::string const& value) { std::printf("%-14s %s\n", label, value.c_str()); };
  std::printf("howdy-bench %s %s:%u  %s\n", o.proto_name.c_str(), o.host.c_str(), unsigned(o.port), r.mode.c_str());
  if (o.idle)
    line("connections", fmt("%llu subscribers, held %.1f s", (unsigned long long)o.subscribers, o.hold));
  else
    line("load", fmt("%llu subscribers, %llu publisher(s), %llu messages x %zu B%s, %s",
                     (unsigned long long)o.subscribers, (unsigned long long)o.publishers,
                     (unsigned long long)o.messages, o.size, o.room.empty() ? "" : (" to room " + o.room).c_str(),
                     o.rate > 0 ? fmt("%.6g msg/s open loop", o.rate).c_str()
                                : fmt("max rate, window %llu", (unsigned long long)o.window).c_str()));
  line("setup",
       fmt("%.3f s, %llu/%llu registered (%llu connecting at once)", r.setup_s, (unsigned long long)r.registered,
           (unsigned long long)(o.subscribers + o.publishers), (unsigned long long)o.connect_concurrency));
  if (r.setup_complete) {
    std::string s = fmt("%s after %.3f s more", r.settled ? "quiet" : "NOT quiet (gave up)", r.settle_s);
    if (r.server_setup_start && r.server_registered && r.server_settled)
      s += fmt("; server CPU %.3f s to the last registration, %.3f s to quiet",
               r.server_registered->cpu_s - r.server_setup_start->cpu_s,
               r.server_settled->cpu_s - r.server_setup_start->cpu_s);
    if (r.server_setup_start && r.server_settled && r.server_setup_start->run_s >= 0 && r.server_settled->run_s >= 0)
      s += fmt(" (%.4f s on a CPU, schedstat)", r.server_settled->run_s - r.server_setup_start->run_s);
    if (r.alive_after_setup < o.subscribers)
      s += fmt("; %llu subscribers cut off", (unsigned long long)(o.subscribers - r.alive_after_setup));
    line("settle", s);
  }
  if (o.presence || r.other_frames)
    line("presence", fmt("%s: %llu other frames, %.1f MiB, read and not checked",
                         o.proto == protocol::hcp1 ? "HCP/1 user lists" : o.presence ? "on" : "off",
                         (unsigned long long)r.other_frames, double(r.other_bytes) / 1048576));
  if (o.proto == protocol::hcp1)
    line("user lists", fmt("%llu subscribers' last list names all %llu, %llu do not (fewest names %llu)",
                           (unsigned long long)r.lists_complete, (unsigned long long)(o.subscribers + o.publishers),
                           (unsigned long long)r.lists_incomplete, (unsigned long long)r.list_min_names));
  if (!o.idle && r.setup_complete) {
    line("published", fmt("%llu messages in %.3f s (%smsg/s)", (unsigned long long)r.published, r.publish_s,
                          si(r.publish_s > 0 ? double(r.published) / r.publish_s : 0).c_str()));
    line("deliveries",
         fmt("%llu of %llu in %.3f s: %sdeliveries/s", (unsigned long long)r.delivered, (unsigned long long)r.expected,
             r.delivery_s, si(r.delivery_s > 0 ? double(r.delivered) / r.delivery_s : 0).c_str()));
    line("integrity",
         fmt("lost %llu, duplicated %llu, reordered %llu, corrupt %llu", (unsigned long long)r.lost,
             (unsigned long long)r.duplicated, (unsigned long long)r.reordered, (unsigned long long)r.corrupt));
    auto ms = [](std::uint64_t ns) { return double(ns) / 1e6; };
    line("latency ms",
         fmt("p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  (%s, n=%llu)", ms(r.latency.percentile(50)),
             ms(r.latency.percentile(90)), ms(r.latency.percentile(99)), ms(r.latency.percentile(99.9)),
             ms(r.latency.max()), o.rate > 0 ? "from scheduled send" : "from actual send",
             (unsigned long long)r.latency.count()));
    if (o.proto == protocol::hcp2)
      line("SENT ms",
           fmt("p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  (%llu SENT, %llu timed)", ms(r.ack_latency.percentile(50)),
               ms(r.ack_latency.percentile(90)), ms(r.ack_latency.percentile(99)), ms(r.ack_latency.max()),
               (unsigned long long)r.acks, (unsigned long long)r.ack_latency.count()));
  }
  if (o.server_pid && r.server_after) {
    std::string s = fmt("pid %d: RSS %.1f MiB, peak %.1f MiB", o.server_pid, double(r.server_after->rss_kib) / 1024,
                        double(r.server_after->hwm_kib) / 1024);
    if (r.server_before) {
      double const cpu = r.server_after->cpu_s - r.server_before->cpu_s;
      s += fmt("; CPU %.2f s = %.3f s per M deliveries", cpu, per_million(cpu, r.delivered));
    }
    if (r.server_baseline && r.registered)
      s += fmt("; baseline %.1f MiB, %.0f B per connection", double(r.server_baseline->rss_kib) / 1024,
               (double(r.server_after->rss_kib) - double(r.server_baseline->rss_kib)) * 1024 / double(r.registered));
    line("server", s);
    if (r.server_threads.size() > 1) {
      std::string t;
      for (std::size_t i = 0; i < r.server_threads.size() && i < 6; ++i)
        t += fmt("%s%d %s %.2f s", i ? ", " : "", r.server_threads[i].tid, r.server_threads[i].comm.c_str(),
                 r.server_threads[i].cpu_s);
      line("server CPU", "per thread: " + t);
    }
  }
  double const gen_phase = (r.gen_after.user_s + r.gen_after.sys_s) - (r.gen_before.user_s + r.gen_before.sys_s);
  if (o.idle || !r.setup_complete)
    line("generator", fmt("CPU user %.2f s, sys %.2f s", r.gen_total.user_s, r.gen_total.sys_s));
  else
    line("generator", fmt("CPU user %.2f s, sys %.2f s; publish phase %.2f s = %.3f s per M deliveries, "
                          "%.1f deliveries per read",
                          r.gen_total.user_s, r.gen_total.sys_s, gen_phase, per_million(gen_phase, r.delivered),
                          r.subscriber_reads ? double(r.delivered) / double(r.subscriber_reads) : 0.0));
  auto const& e = r.errors;
  std::string errs;
  auto add = [&](char const* what, std::uint64_t n) {
    if (n) errs += fmt("%s%s %llu", errs.empty() ? "" : ", ", what, (unsigned long long)n);
  };
  add("connect failed", e.connect_failed);
  add("registration failed", e.register_failed);
  add("disconnected", e.disconnected);
  add("protocol errors", e.protocol);
  add("stray bytes", e.stray_bytes);
  add("server errors", e.server_errors);
  add("publish writes failed", e.write_failed);
  add("dropped by server", e.dropped_notices);
  add("SENDs without SENT", e.acks_missing);
  add("unexpected SENT", e.acks_unexpected);
  add("internal errors", e.internal);
  if (r.flow_stalled) errs += errs.empty() ? "flow control stalled" : ", flow control stalled";
  if (r.timed_out) errs += errs.empty() ? "timed out" : ", timed out";
  if (r.server_gone) errs += errs.empty() ? "server process gone" : ", server process gone";
  add("subscribers whose last user list is incomplete", r.lists_incomplete);
  line("errors", errs.empty() ? "none" : errs);
  for (auto const& s : e.samples)
    line("", fmt("  %s (%s%s%llu times)", s.text.c_str(), s.first.c_str(), s.first.empty() ? "" : ", ",
                 (unsigned long long)s.count));
  line("result", r.status);
}

// ===========================================================================
// main
// ===========================================================================
int run_benchmark(options const& opt) {
  run_state run(opt);
  results res;
  res.mode = opt.idle ? "idle" : opt.rate > 0 ? "rate" : "max-rate";
  run.endpoint = tcp::endpoint(asio::ip::make_address(opt.host), opt.port);

  // Publisher shares and the encoded size of one message.
  for (std::uint64_t p = 0; p < opt.publishers; ++p) {
    run.planned.push_back(opt.messages / opt.publishers + (p < opt.messages % opt.publishers ? 1 : 0));
    run.publisher_names.push_back(opt.name_prefix + "p" + std::to_string(p));
  }
  std::string const payload_example(opt.size, 'x');
  switch (opt.proto) {
    case protocol::hcp2:
      run.wire_size = hcp::hcp2::send_size(opt.room, payload_example);
      if (!opt.room.empty()) {
        run.join_frame = hcp::hcp2::encode_join(opt.room);
        run.send_kind = hcp::hcp2::target_kind::room;
      }
      break;
    case protocol::hcp1:
      run.wire_size = hcp::hcp1::message_size(payload_example);
      break;
    case protocol::redis:
      run.text_prefix = "*3\r\n$7\r\nPUBLISH\r\n$" + std::to_string(opt.channel.size()) + "\r\n" + opt.channel +
                        "\r\n$" + std::to_string(opt.size) + "\r\n";
      run.wire_size = run.text_prefix.size() + opt.size + 2;
      run.redis_message_prefix =
          "*3\r\n$7\r\nmessage\r\n$" + std::to_string(opt.channel.size()) + "\r\n" + opt.channel + "\r\n$";
      break;
    case protocol::nats:
      run.text_prefix = "PUB " + opt.channel + " " + std::to_string(opt.size) + "\r\n";
      run.wire_size = run.text_prefix.size() + opt.size + 2;
      break;
  }
  run.wake_threshold = std::max<std::uint64_t>(1, opt.window / 4);
  run.ns_per_message = opt.rate > 0 ? 1e9 / opt.rate : 0;
  run.conns.resize(run.total_conns());

  auto sample_server = [&]() -> std::optional<bench::proc_sample> {
    if (!opt.server_pid) return std::nullopt;
    auto s = bench::sample_process(opt.server_pid);
    if (!s) res.server_gone = true;
    return s;
  };
  if (opt.server_pid && !bench::sample_process(opt.server_pid)) {
    std::cerr << "howdy-bench: --server-pid " << opt.server_pid << ": no such process (/proc)\n";
    return 2;
  }
  if (opt.idle) res.server_baseline = sample_server();

  std::uint64_t const start_ns = mono_ns();
  std::uint64_t const deadline = start_ns + std::uint64_t(opt.timeout * 1e9);
  progress prog;

  // ---- setup: connect and register everyone -------------------------------
  res.server_setup_start = sample_server();
  res.gen_setup_start = bench::self_cpu::now();
  start_workers(run);
  std::uint64_t const setup_workers = std::min(opt.connect_concurrency, run.total_conns());
  for (std::uint64_t i = 0; i < setup_workers; ++i) {
    worker& w = *run.workers[i % run.workers.size()];
    asio::post(w.ioc, [&run, &w] { spawn(w, setup_worker(run, w)); });
  }
  while (run.registered.load() + run.setup_failed.load() < run.total_conns()) {
    if (mono_ns() > deadline) {
      res.timed_out = true;
      break;
    }
    prog.tick([&] {
      return fmt("[setup] %llu/%llu registered, %llu failed, %.1f s", (unsigned long long)run.registered.load(),
                 (unsigned long long)run.total_conns(), (unsigned long long)run.setup_failed.load(),
                 seconds(start_ns, mono_ns()));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  res.registered = run.registered.load();
  res.setup_complete = res.registered == run.total_conns();
  std::uint64_t const setup_end = res.setup_complete ? run.setup_done_ns.load() : mono_ns();
  res.setup_s = seconds(start_ns, setup_end);
  if (res.setup_complete) {
    res.server_registered = sample_server();
    // ---- settle: until nothing arrived for --settle-quiet (what the joins queued, e.g.
    // presence, is flushed), bounded by --drain-timeout; then the setup's CPU is read.
    auto const quiet_ns = std::uint64_t(opt.settle_quiet * 1e9);
    std::uint64_t const settle_limit = std::min(deadline, setup_end + std::uint64_t(opt.drain_timeout * 1e9));
    for (;;) {
      std::uint64_t last_rx = setup_end;
      for (auto& w : run.workers) last_rx = std::max(last_rx, w->last_rx_ns.load(std::memory_order_relaxed));
      std::uint64_t const now = mono_ns();
      if (now >= last_rx + quiet_ns) {
        res.settled = true;
        break;
      }
      if (now > settle_limit) break;
      prog.tick([&] {
        return fmt("[settle] %llu registered, %.1f s since the last, %llu subscribers connected",
                   (unsigned long long)res.registered, seconds(setup_end, now),
                   (unsigned long long)run.alive_subscribers.load());
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    res.server_settled = sample_server();
    res.gen_settled = bench::self_cpu::now();
    res.settle_s = seconds(setup_end, mono_ns());
    res.alive_after_setup = run.alive_subscribers.load();
  }

  std::uint64_t publish_end_ns = 0;
  if (res.setup_complete && opt.idle) {
    // ---- idle: hold the connections, then read the server's memory ---------
    std::uint64_t const hold_end = mono_ns() + std::uint64_t(opt.hold * 1e9);
    while (mono_ns() < hold_end) {
      prog.tick([&] { return fmt("[hold] %.1f / %.1f s", seconds(setup_end, mono_ns()), opt.hold); });
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    res.server_after = sample_server();
  } else if (res.setup_complete) {
    // ---- publish ----------------------------------------------------------------
    for (std::uint64_t i = opt.subscribers; i < run.total_conns(); ++i) run.publishers.push_back(run.conns[i].get());
    res.server_before = sample_server();
    if (opt.server_pid) res.server_threads_before = bench::sample_threads(opt.server_pid);
    res.gen_before = bench::self_cpu::now();
    run.schedule_start_ns = mono_ns() + 1'000'000;  // first message 1 ms from now
    for (conn* p : run.publishers) asio::post(p->wk.ioc, [p] { spawn(p->wk, publish_loop(*p)); });

    auto delivered_text = [&](char const* ph) {
      std::uint64_t const first = run.first_publish_ns.load();
      double const t = first ? seconds(first, mono_ns()) : 0;
      std::uint64_t const acc = run.accounted.load();
      return fmt("[%s] published %llu/%llu, delivered %llu/%llu, %sdeliveries/s", ph,
                 (unsigned long long)run.published.load(), (unsigned long long)opt.messages, (unsigned long long)acc,
                 (unsigned long long)(run.published.load() * run.alive_subscribers.load()),
                 si(t > 0 ? double(acc) / t : 0).c_str());
    };
    while (run.publishers_done.load() < opt.publishers) {
      if (mono_ns() > deadline) {
        res.timed_out = true;
        break;
      }
      prog.tick([&] { return delivered_text("publish"); });
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    publish_end_ns = mono_ns();
    // ---- drain: wait (bounded) for the last deliveries, and HCP/2's SENTs -----------
    // The SENTs too, so the server's CPU below includes work done after the
    // last delivery (e.g. a database commit that SENT waits for).
    std::uint64_t const drain_end = std::min(deadline, publish_end_ns + std::uint64_t(opt.drain_timeout * 1e9));
    while (!res.timed_out) {
      if (run.accounted.load() >= run.published.load() * run.alive_subscribers.load() &&
          (!run.tracks_acks() || run.answered.load() >= run.published.load()) &&
          (opt.proto != protocol::hcp1 || run.lists_complete.load() >= run.alive_subscribers.load()))
        break;
      if (mono_ns() > drain_end) {
        res.timed_out = mono_ns() > deadline;
        break;
      }
      prog.tick([&] { return delivered_text("drain"); });
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    res.server_after = sample_server();
    if (opt.server_pid)
      res.server_threads = bench::thread_delta(res.server_threads_before, bench::sample_threads(opt.server_pid));
    res.gen_after = bench::self_cpu::now();
  } else if (opt.server_pid) {
    res.server_after = sample_server();
    res.server_settled = res.server_after;  // setup failed: the CPU until giving up (a lower bound)
  }
  prog.clear();
  stop_workers(run);
  res.gen_total = bench::self_cpu::now();

  // The publishers' own finish times end the publish phase (the polling loop is coarser).
  std::uint64_t last_finish = 0;
  for (conn* p : run.publishers) last_finish = std::max(last_finish, p->finish_ns);
  if (last_finish) publish_end_ns = last_finish;
  collect(run, res, run.first_publish_ns.load(), publish_end_ns);
  finish_status(res);

  if (opt.json)
    print_json(opt, res);
  else
    print_table(opt, res);

  // Free the connections while their io_contexts still exist.
  run.conns.clear();
  run.workers.clear();
  if (!res.setup_complete) return 2;
  return res.status == "ok" ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  options const opt = parse_options(argc, argv);
  ensure_fd_limit(opt.subscribers + opt.publishers);
  try {
    return run_benchmark(opt);
  } catch (std::exception const& e) {
    std::cerr << "howdy-bench: " << e.what() << '\n';
    return 2;
  }
}
