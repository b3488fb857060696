// howdy-client: times as the terminal UI shows them at the start of each
// line: "HH:MM:SS" local time, with the date in front for a time that is not
// from today (history can be days old; a bare time would mislead).
#pragma once

#include "../wire/common.hpp"  // now_us()

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace hcp::client {

// A timestamp (microseconds since the Unix epoch) as local "HH:MM:SS", or
// "YYYY-MM-DD HH:MM:SS" when `with_date_if_old` and it is not from today.
inline std::string clock_time(std::uint64_t timestamp_us, bool with_date_if_old = false) {
  const auto t = static_cast<std::time_t>(timestamp_us / 1000000);
  std::tm when{};
  if (!::localtime_r(&t, &when)) return "??:??:??";
  bool today = true;
  if (with_date_if_old) {
    const std::time_t now_t = std::time(nullptr);
    std::tm now{};
    today = ::localtime_r(&now_t, &now) && now.tm_year == when.tm_year && now.tm_yday == when.tm_yday;
  }
  char out[32];
  const auto n = std::strftime(out, sizeof out, today ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &when);
  return n ? std::string(out, n) : std::string("??:??:??");
}

}  // namespace hcp::client
