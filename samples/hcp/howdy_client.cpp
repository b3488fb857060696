// howdy-client: the console chat client (HCP/2, or HCP/1 with --protocol hcp1).
//
// On a terminal it runs an ncurses UI (client/tui.hpp). Otherwise (stdin
// not a terminal, e.g. a pipe or a file) it is a plain line-oriented program
// (client/line_mode.hpp): each input line is a name proposal, a command or a
// chat line, and each event is one line on stdout, flushed at once, so
// scripts and tests can drive it. This file reads the options, connects, and
// puts the session (client/hcp2_session.hpp or client/hcp1_session.hpp)
// together with its view and its input.
//
// Accounts (HCP/2): instead of a name, "/login NAME PASSWORD" or "/register
// NAME PASSWORD". The password is the line's last word; the UI hides it as it
// is typed and keeps it out of the line recall. In line mode it is read from
// the input as typed (so it sits in whatever file or pipe feeds the client),
// and the client never prints it. It is never taken from the command line
// (other users can read a program's arguments).
#include "cli.hpp"
#include "client/app.hpp"
#include "client/connection.hpp"
#include "client/line_mode.hpp"
#include "client/tui.hpp"
#include "wire/common.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <cxxopts.hpp>

#include <clocale>
#include <cmath>
#include <csignal>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <unistd.h>

namespace {

using namespace hcp::client;

const hcp::cli::parser command_line("howdy-client");

[[noreturn]] void fail(const std::string& message, int status = 2) { command_line.fail(message, status); }

struct settings {
  std::string host;
  std::uint16_t port = hcp::default_port;
  std::optional<std::string> name;
  wire protocol = wire::hcp2;
  double connect_timeout_s = 10;
  bool reconnect = true;
  double reconnect_max_s = 30;
  bool verbose = false;
};

settings parse_options(int argc, char** argv) {
  cxxopts::Options options("howdy-client",
                           "The Howdy chat client (HCP/2 or HCP/1). On a terminal: a full-screen UI; otherwise one "
                           "input line in, one event line out. Type /help once connected for the commands; over HCP/2 "
                           "sign in with /login NAME PASSWORD or /register NAME PASSWORD instead of a name (in line "
                           "mode that line is read from the input like any other, never from the command line).");
  // Numbers are read as strings so that a bad value gets our own clear message.
  options.add_options()
    ("host", "server address or host name", cxxopts::value<std::string>()->default_value("127.0.0.1"))
    ("port", "server TCP port", cxxopts::value<std::string>()->default_value(std::to_string(hcp::default_port)))
    ("name", "the name to ask for (if absent, you are asked)", cxxopts::value<std::string>())
    ("protocol", "hcp2 or hcp1", cxxopts::value<std::string>()->default_value("hcp2"))
    ("connect-timeout", "seconds to keep trying to connect", cxxopts::value<std::string>()->default_value("10"))
    ("no-reconnect", "terminal UI: exit when the connection is lost instead of reconnecting (line mode never "
                     "reconnects)")
    ("reconnect-max-delay", "longest wait in seconds between reconnect attempts (they back off from 0.5 s, with "
                            "jitter)", cxxopts::value<std::string>()->default_value("30"))
    ("v,verbose", "terminal UI: show the protocol's error codes next to the messages")
    ("h,help", "show this help");

  const auto args = command_line.parse(options, argc, argv);

  settings s;
  s.host = args["host"].as<std::string>();
  if (s.host.empty()) fail("--host must not be empty");

  s.port = static_cast<std::uint16_t>(command_line.number<unsigned>(args, "port", 1, 65535));

  if (args.count("name")) {
    auto name = args["name"].as<std::string>();
    if (name.size() > hcp::name_field_size)
      fail("--name is " + std::to_string(name.size()) + " bytes long; names are at most " +
           std::to_string(hcp::name_field_size) + " bytes");
    if (!hcp::is_valid_name(name))
      fail("--name must be 1 to " + std::to_string(hcp::name_field_size) +
           " bytes of UTF-8 without control characters");
    s.name = std::move(name);
  }

  const auto protocol = args["protocol"].as<std::string>();
  if (protocol == "hcp1") s.protocol = wire::hcp1;
  else if (protocol != "hcp2") fail("--protocol must be 'hcp2' or 'hcp1', not '" + protocol + "'");

  s.connect_timeout_s = command_line.number<double>(args, "connect-timeout", 0, 86400);
  s.reconnect = !args.count("no-reconnect");
  s.reconnect_max_s = command_line.number<double>(args, "reconnect-max-delay", 0.5, 86400);
  s.verbose = args.count("verbose") > 0;
  return s;
}

int run(const settings& s, bool terminal) {
  asio::io_context io;
  // Caught through asio before curses starts, so that curses installs no
  // handlers of its own for them: Ctrl-C quits cleanly, and a resize wakes
  // the io_context instead of waiting for the next key.
  asio::signal_set interrupts(io, SIGINT, SIGTERM);
  std::optional<asio::signal_set> resizes;
  if (terminal) resizes.emplace(io, SIGWINCH);

  std::unique_ptr<view> out;
  curses_view* ui = nullptr;
  std::unique_ptr<app> client;
  std::shared_ptr<stdin_lines> input;
  int status = 1;
  bool finished = false;
  std::string farewell;  // printed after the UI is gone (terminal mode)

  std::exception_ptr failure;

  // Every way into the client from outside its coroutines goes through here:
  // an exception ends the session (its coroutines finish) and is rethrown
  // after io.run(), never from inside it with coroutines still suspended.
  auto guarded = [&](auto&& f) {
    try {
      f();
    } catch (...) {
      if (!failure) failure = std::current_exception();
      if (client && !finished) client->abort();
      else io.stop();
    }
  };

  const std::string address = hcp::cli::host_port_text(s.host, s.port);
  auto interrupt = [&] {
    guarded([&] {
      if (client && !finished) {
        client->on_interrupt();
      } else {
        io.stop();
      }
    });
  };

  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (;;) {
      auto [ec, signal] = co_await interrupts.async_wait(as_tuple_awaitable);
      if (ec) co_return;
      interrupt();
    }
  }, asio::detached);
  if (resizes)
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      for (;;) {
        auto [ec, signal] = co_await resizes->async_wait(as_tuple_awaitable);
        if (ec) co_return;
        if (ui) guarded([&] { ui->resized(); });
      }
    }, asio::detached);

  app_options options;
  options.host = s.host;
  options.port = s.port;
  options.address = address;
  options.protocol = s.protocol;
  options.name = s.name;
  options.connect_timeout = std::chrono::milliseconds(static_cast<long long>(std::llround(s.connect_timeout_s * 1000)));
  options.terminal = terminal;
  options.reconnect = s.reconnect;
  options.reconnect_max = std::chrono::milliseconds(static_cast<long long>(std::llround(s.reconnect_max_s * 1000)));
  options.verbose = s.verbose;

  if (terminal) {
    const std::string title = "howdy-client " + address + (s.protocol == wire::hcp1 ? " HCP/1" : " HCP/2");
    auto view = std::make_unique<curses_view>(
        io.get_executor(), title,
        curses_view::callbacks{[&](std::string line) {
                                 bool taken = true;
                                 guarded([&] { taken = client->on_line(std::move(line)); });
                                 return taken;
                               },
                               interrupt});
    ui = view.get();
    out = std::move(view);
  } else {
    out = std::make_unique<line_view>();
  }
  client = std::make_unique<app>(io.get_executor(), *out, std::move(options));
  if (!terminal) {
    input = std::make_shared<stdin_lines>();
    input->start(io.get_executor(), [&](std::string line) { guarded([&] { client->on_line(std::move(line)); }); },
                 [&] { guarded([&] { client->on_end_of_input(); }); });
  }

  asio::co_spawn(io, client->run(), [&](std::exception_ptr e, int result) {
    status = result;
    finished = true;
    if (e && !failure) failure = e;
    farewell = client->farewell();
    if (!failure && ui && client->lost()) {
      // Leave the last messages readable until the user has seen them.
      farewell = client->last_line();
      ui->connection_status("disconnected");
      ui->show("Press any key to exit.");
      ui->wait_for_any_key([&] { io.stop(); });
      return;
    }
    io.stop();
  });

  try {
    io.run();
  } catch (...) {
    // Not expected (see `guarded`): coroutines may still be suspended in `io`
    // and use the session, so do not unwind them; restore the terminal and go.
    if (input) input->close();
    out.reset();
    std::cerr << "howdy-client: internal error\n";
    std::_Exit(1);
  }
  if (input) input->close();
  client.reset();
  out.reset();  // ends curses: the terminal is back to normal before anything else is printed
  if (failure) std::rethrow_exception(failure);
  if (!farewell.empty()) std::cerr << "howdy-client: " << farewell << "\n";
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  const settings s = parse_options(argc, argv);
  // The UI needs a terminal on both ends; with stdin or stdout redirected the
  // client is a line-oriented program instead.
  const bool terminal = ::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO);
  if (terminal) std::setlocale(LC_ALL, "");  // ncursesw draws UTF-8 only in a UTF-8 locale
  try {
    return run(s, terminal);
  } catch (const std::exception& e) {
    std::cerr << "howdy-client: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "howdy-client: unexpected error\n";
  }
  return 1;
}
