// howdy-server: the HCP chat server (HCP/1 and HCP/2 on one port).
#include "chat_server.hpp"
#include "cli.hpp"

#include <asio/signal_set.hpp>
#include <cxxopts.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <thread>

namespace {

const hcp::cli::parser command_line("howdy-server");

[[noreturn]] void fail(const std::string& message, int status = 2) { command_line.fail(message, status); }

}  // namespace

int main(int argc, char** argv) {
  cxxopts::Options options("howdy-server", "The Howdy chat server: HCP/1 and HCP/2 clients on one TCP port.");
  // Numbers are read as strings so that a bad value gets our own clear message.
  options.add_options()
    ("host", "address to listen on (IPv4 or IPv6)", cxxopts::value<std::string>()->default_value("127.0.0.1"))
    ("port", "TCP port; 0 picks a free one", cxxopts::value<std::string>()->default_value("20002"))
    ("threads", "network threads", cxxopts::value<std::string>()->default_value(std::to_string(std::max(1u, std::thread::hardware_concurrency()))))
    ("max-frame", "largest HCP/2 frame length / HCP/1 packet, bytes", cxxopts::value<std::string>()->default_value("65536"))
    ("max-connections", "connections beyond this are closed at once", cxxopts::value<std::string>()->default_value("10000"))
    ("outbox-bytes", "bytes queued for one client before it counts as too slow", cxxopts::value<std::string>()->default_value("4194304"))
    ("slow-consumer", "what to do with a client that falls behind: disconnect or drop (oldest messages)", cxxopts::value<std::string>()->default_value("disconnect"))
    ("handshake-timeout", "seconds from connect to an accepted name", cxxopts::value<std::string>()->default_value("10"))
    ("idle-timeout", "seconds without a frame before a client is closed; 0 = never", cxxopts::value<std::string>()->default_value("0"))
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
  howdy::server_options server_options;
  server_options.max_connections = command_line.number<std::size_t>(args, "max-connections", 1, 10'000'000);

  auto log = spdlog::stderr_color_mt("howdy");
  log->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  log->set_level(args.count("quiet") ? spdlog::level::warn : args.count("verbose") ? spdlog::level::debug : spdlog::level::info);

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

  howdy::io_context_pool pool(threads);
  hcp::chat_server chat(pool, config, log);
  howdy::tcp_server server(pool, [&](asio::ip::tcp::socket& s) { return chat.session(s); }, server_options);
  server.on_problem([&](const std::string& what) { log->warn("{}", what); });

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

  if (auto listen_ec = server.listen({address, static_cast<std::uint16_t>(port)}))
    fail("cannot listen on " + host + ":" + std::to_string(port) + ": " + listen_ec.message(), 1);
  const auto bound = server.local_endpoint();
  const std::string shown = bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
  std::printf("listening on %s:%u\n", shown.c_str(), static_cast<unsigned>(bound.port()));
  std::fflush(stdout);
  log->info("listening on {}:{} with {} thread(s)", shown, bound.port(), threads);
  server.start();

  pool.run();
  return 0;
}
