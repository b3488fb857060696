// What the sample programs share on the command line: one clear line and exit
// status 2 for bad usage, --help, and numbers checked against their range.
#pragma once

#include <asio/ip/tcp.hpp>
#include <cxxopts.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

namespace hcp::cli {

// Addresses as the programs print them, IPv6 literals in brackets (shared by
// the server and the client; use these, don't write the brackets again):
//   host_port_text("::1", 20002) == "[::1]:20002", host_port_text("localhost", 1) == "localhost:1".
inline std::string host_port_text(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  std::string out;
  out.reserve(host.size() + 8);
  if (v6) out += '[';
  out += host;
  if (v6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

// "a.b.c.d:port" or "[v6]:port".
inline std::string endpoint_text(const asio::ip::tcp::endpoint& endpoint) {
  return host_port_text(endpoint.address().to_string(), endpoint.port());
}

class parser {
 public:
  explicit parser(std::string program) : program_(std::move(program)) {}

  [[noreturn]] void fail(const std::string& message, int status = 2) const {
    std::cerr << program_ << ": " << message << "\n";
    std::exit(status);
  }

  // Parses `argv`; prints the help and exits 0 for --help.
  cxxopts::ParseResult parse(cxxopts::Options& options, int argc, char** argv) const {
    cxxopts::ParseResult args;
    try {
      args = options.parse(argc, argv);
    } catch (const std::exception& e) {
      fail(std::string(e.what()) + " (see --help)");
    }
    if (args.count("help")) {
      std::cout << options.help() << "\n";
      std::exit(0);
    }
    if (!args.unmatched().empty()) fail("unexpected argument '" + args.unmatched().front() + "' (see --help)");
    return args;
  }

  // The option's value (read as a string, so a bad one gets this message) as
  // a number from `min` to `max`.
  template <class T>
  T number(const cxxopts::ParseResult& args, const std::string& option, T min, T max) const {
    const auto text = args[option].as<std::string>();
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    bool ok = ec == std::errc{} && end == text.data() + text.size() && !(value < min) && !(max < value);
    if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(value);
    if (!ok)
      fail("--" + option + " must be a " + (std::is_floating_point_v<T> ? "number" : "whole number") + " from " +
           to_text(min) + " to " + to_text(max) + ", not '" + text + "'");
    return value;
  }

 private:
  template <class T>
  static std::string to_text(T v) {
    if constexpr (std::is_floating_point_v<T>) {
      auto s = std::to_string(v);
      s.erase(s.find_last_not_of('0') + 1);
      if (s.back() == '.') s.pop_back();
      return s;
    } else {
      return std::to_string(v);
    }
  }

  std::string program_;
};

}  // namespace hcp::cli
