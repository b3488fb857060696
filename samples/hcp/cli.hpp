// What the sample programs share on the command line: one clear line and exit
// status 2 for bad usage, --help, and numbers checked against their range.
#pragma once

#include <cxxopts.hpp>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

namespace hcp::cli {

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
