// howdy-server: the HCP chat server (HCP/1, HCP/2 and the seed-002 text protocol on one port).
#include "cli.hpp"
#include "server/chat_server.hpp"

#include <asio/signal_set.hpp>
#include <cxxopts.hpp>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <thread>

namespace {

const hcp::cli::parser command_line("howdy-server");

// The log's writing thread (see make_log); set by main.
std::shared_ptr<spdlog::details::thread_pool>* log_threads = nullptr;

[[noreturn]] void fail(const std::string& message, int status = 2) {
  if (log_threads) log_threads->reset();  // writes what was logged before
  command_line.fail(message, status);
}

// The log: asynchronous, so a network thread never waits for stderr. Its queue
// is bounded and its oldest lines give way when a flood fills it, so logging
// never blocks either; one thread writes. Destroying `threads` writes every
// line still queued, then stops that thread.
std::shared_ptr<spdlog::logger> make_log(const std::shared_ptr<spdlog::details::thread_pool>& threads,
                                         spdlog::level::level_enum level) {
  auto log = std::make_shared<spdlog::async_logger>("howdy", std::make_shared<spdlog::sinks::stderr_color_sink_mt>(),
                                                    threads, spdlog::async_overflow_policy::overrun_oldest);
  log->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  log->set_level(level);
  return log;
}

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options options("howdy-server", "The Howdy chat server: HCP/1, HCP/2 and seed-002 text clients on one TCP port.");
  // Numbers are read as strings so that a bad value gets our own clear message.
  options.add_options()
    ("host", "address to listen on (IPv4 or IPv6)", cxxopts::value<std::string>()->default_value("127.0.0.1"))
    ("port", "TCP port; 0 picks a free one", cxxopts::value<std::string>()->default_value(std::to_string(hcp::default_port)))
    ("threads", "network threads", cxxopts::value<std::string>()->default_value(std::to_string(std::max(1u, std::thread::hardware_concurrency()))))
    ("max-frame", "largest HCP/2 frame length / HCP/1 packet, bytes", cxxopts::value<std::string>()->default_value("65536"))
    ("max-connections", "connections beyond this are closed at once", cxxopts::value<std::string>()->default_value("10000"))
    ("max-connections-per-address", "connections from one client address (loopback too) beyond this are closed at once; 0 = no limit", cxxopts::value<std::string>()->default_value("256"))
    ("message-rate", "chat messages a connection may send per second, on average; more get an error; 0 = no limit", cxxopts::value<std::string>()->default_value("1000"))
    ("message-burst", "chat messages a connection may send at once, above --message-rate", cxxopts::value<std::string>()->default_value("5000"))
    ("flood-disconnect-after", "seconds a sender may stay over --message-rate (refused with no 1 s pause) before it is disconnected; 0 = never", cxxopts::value<std::string>()->default_value("10"))
    ("outbox-bytes", "bytes queued for one client before it counts as too slow", cxxopts::value<std::string>()->default_value("4194304"))
    ("slow-consumer", "what to do with a client that falls behind: disconnect or drop (oldest messages)", cxxopts::value<std::string>()->default_value("disconnect"))
    ("handshake-timeout", "seconds from connect to an accepted name", cxxopts::value<std::string>()->default_value("10"))
    ("idle-timeout", "seconds without a frame before a client is closed; 0 = never", cxxopts::value<std::string>()->default_value("0"))
    ("auth", "accounts: off, optional (guests may use free names) or required", cxxopts::value<std::string>()->default_value("optional"))
    ("db", "SQLite database for accounts, rooms and history (':memory:' keeps nothing)", cxxopts::value<std::string>()->default_value("howdy.db"))
    ("history", "store whispers to accounts and room messages for later delivery: on or off", cxxopts::value<std::string>()->default_value("on"))
    ("history-per-room", "messages kept per room", cxxopts::value<std::string>()->default_value("1000"))
    ("history-per-user", "whispers kept per account", cxxopts::value<std::string>()->default_value("1000"))
    ("pwhash", "password hashing cost: interactive, or min (tests only: fast and weak)", cxxopts::value<std::string>()->default_value("interactive"))
    ("presence-tick-ms", "joins and leaves are batched and sent once per this many ms (at least); 0 = at once", cxxopts::value<std::string>()->default_value("50"))
    ("presence-tick-per-client-us", "presence batches are at least this many us per client that hears presence apart (1 s at 10,000 with 100)", cxxopts::value<std::string>()->default_value("100"))
    ("hcp1-list-rate", "MiB/s of HCP/1 user lists to everyone in all (or after 1 s without joins or leaves); 0 = every tick", cxxopts::value<std::string>()->default_value("128"))
    ("min-password-length", "shortest password REGISTER accepts, in bytes (1..1024; LOGIN takes any stored one)", cxxopts::value<std::string>()->default_value("8"))
    ("login-attempts", "sign-in attempts per name in a burst (one more every 12 s; an address gets 4x)", cxxopts::value<std::string>()->default_value("5"))
    ("q,quiet", "log warnings and errors only")
    ("v,verbose", "log debug details too (never message text)")
    ("h,help", "show this help");

  const auto args = command_line.parse(options, argc, argv);

  const std::string host = args["host"].as<std::string>();
  std::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) fail("--host '" + host + "' is not an IP address");
  const auto port = command_line.number<unsigned>(args, "port", 0, 65535);
  const auto threads = command_line.number<unsigned>(args, "threads", 1, 256);

  hcp::server_config config;
  config.max_frame = command_line.number<std::uint32_t>(args, "max-frame", 256, 16 * 1024 * 1024);
  config.outbox_bytes = command_line.number<std::size_t>(args, "outbox-bytes", 4096, std::size_t(1) << 34);
  config.handshake_timeout = std::chrono::seconds(command_line.number<unsigned>(args, "handshake-timeout", 1, 86400));
  config.idle_timeout = std::chrono::seconds(command_line.number<unsigned>(args, "idle-timeout", 0, 86400 * 7));
  const auto policy = args["slow-consumer"].as<std::string>();
  if (policy == "drop") config.slow_consumer = howdy::overflow_policy::drop_oldest;
  else if (policy != "disconnect") fail("--slow-consumer must be 'disconnect' or 'drop', not '" + policy + "'");
  const auto auth = args["auth"].as<std::string>();
  if (auth == "off") config.auth = hcp::auth_mode::off;
  else if (auth == "required") config.auth = hcp::auth_mode::required;
  else if (auth != "optional") fail("--auth must be 'off', 'optional' or 'required', not '" + auth + "'");
  config.store.path = args["db"].as<std::string>();
  if (config.store.path.empty()) fail("--db must name a file (or ':memory:')");
  const auto history = args["history"].as<std::string>();
  if (history != "on" && history != "off") fail("--history must be 'on' or 'off', not '" + history + "'");
  config.store.history = history == "on";
  config.store.room_retention = command_line.number<std::size_t>(args, "history-per-room", 1, 10'000'000);
  config.store.user_retention = command_line.number<std::size_t>(args, "history-per-user", 1, 10'000'000);
  const auto pwhash = args["pwhash"].as<std::string>();
  if (pwhash == "min") config.pwhash = hcp::pwhash_cost::min;
  else if (pwhash != "interactive") fail("--pwhash must be 'interactive' or 'min', not '" + pwhash + "'");
  config.min_password_length = command_line.number<std::size_t>(args, "min-password-length", 1, hcp::max_password_length);
  const auto attempts = command_line.number<unsigned>(args, "login-attempts", 1, 1000);
  config.attempts_per_name.burst = attempts;
  config.attempts_per_address.burst = 4.0 * attempts;
  config.presence_tick = std::chrono::milliseconds(command_line.number<unsigned>(args, "presence-tick-ms", 0, 60'000));
  config.hcp1_list_rate = command_line.number<std::size_t>(args, "hcp1-list-rate", 0, 1'000'000) << 20;
  config.presence_tick_per_client =
      std::chrono::microseconds(command_line.number<unsigned>(args, "presence-tick-per-client-us", 0, 10'000));
  config.max_connections_per_address = command_line.number<std::size_t>(args, "max-connections-per-address", 0, 10'000'000);
  config.message_rate = command_line.number<unsigned>(args, "message-rate", 0, 10'000'000);
  config.message_burst = command_line.number<unsigned>(args, "message-burst", 1, 10'000'000);
  config.flood_disconnect_after = std::chrono::seconds(command_line.number<unsigned>(args, "flood-disconnect-after", 0, 86400));
  howdy::server_options server_options;
  server_options.max_connections = command_line.number<std::size_t>(args, "max-connections", 1, 10'000'000);

  // The logger outlives its thread pool: destroying the pool writes the lines
  // still queued and joins the writing thread, and only then is the logger (its
  // sink and formatter, which that thread used) freed.
  std::shared_ptr<spdlog::logger> log;
  // Declared before everything that logs, so destroyed after it: the last
  // lines (the shutdown messages tests read) are written before exit.
  auto log_pool = std::make_shared<spdlog::details::thread_pool>(8192, 1);
  log_threads = &log_pool;
  log = make_log(log_pool, args.count("quiet") ? spdlog::level::warn : args.count("verbose") ? spdlog::level::debug : spdlog::level::info);

  // Each connection is a file descriptor: ask for what the limit allows (as Redis does).
  if (rlimit fds{}; ::getrlimit(RLIMIT_NOFILE, &fds) == 0) {
    const rlim_t wanted = static_cast<rlim_t>(server_options.max_connections) + 64;
    if (fds.rlim_cur < wanted) {
      fds.rlim_cur = std::min(wanted, fds.rlim_max);
      ::setrlimit(RLIMIT_NOFILE, &fds);
    }
    if (fds.rlim_cur < wanted)
      log->warn("only {} file descriptors allowed (ulimit -n): fewer than --max-connections {} can connect",
                fds.rlim_cur, server_options.max_connections);
  }

  // Declared before the pool, so that it outlives the sessions the pool's
  // io_contexts may still hold when they are destroyed.
  std::unique_ptr<hcp::chat_server> chat_ptr;
  howdy::io_context_pool pool(threads);
  howdy::tcp_server server(pool, [&](asio::ip::tcp::socket& s) { return chat_ptr->session(s); }, server_options);
  server.on_problem([&](const std::string& what) { log->warn("{}", what); });
  // Listening comes before the chat server starts its threads (the store's, the
  // password hashing's): fail() exits, and exit() must not destroy what a running
  // thread still uses (Asio's system context, which the store's futures go through).
  if (auto listen_ec = server.listen({address, static_cast<std::uint16_t>(port)}))
    fail("cannot listen on " + hcp::cli::host_port_text(host, static_cast<std::uint16_t>(port)) + ": " + listen_ec.message(), 1);
  try {
    chat_ptr = std::make_unique<hcp::chat_server>(pool, config, log);
  } catch (const std::exception& e) {
    fail(e.what(), 1);
  }
  auto& chat = *chat_ptr;

  // SIGINT/SIGTERM: stop accepting, let sessions flush for a bounded time, stop.
  // Installed before the ready line, so a signal right after it is handled.
  asio::signal_set signals(pool.context(0), SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code sig_ec, int signal) {
    if (sig_ec) return;
    log->info("signal {} received: shutting down ({} connection(s) open)", signal, server.connections());
    chat.set_stopping();
    asio::co_spawn(pool.context(0), server.drain(config.shutdown_grace + std::chrono::seconds(1)),
                   [&](std::exception_ptr, bool all_ended) {
                     if (!all_ended) log->warn("{} connection(s) did not close in time", server.connections());
                     log->info("stopped");
                     pool.stop();
                   });
  });

  const auto shown = hcp::cli::endpoint_text(server.local_endpoint());
  std::printf("listening on %s\n", shown.c_str());
  std::fflush(stdout);
  log->info("listening on {} with {} thread(s)", shown, threads);
  server.start();

  pool.run();
  chat.close();
  return 0;
}
