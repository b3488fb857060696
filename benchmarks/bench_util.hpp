// benchmarks/bench_util.hpp
//
// Small self-contained pieces of howdy-bench that know nothing about sockets:
// the payload format, the latency histogram, /proc and getrusage readers and
// a minimal JSON writer.

#ifndef HOWDY_BENCHMARKS_BENCH_UTIL_HPP
#define HOWDY_BENCHMARKS_BENCH_UTIL_HPP

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

namespace detail {
inline constexpr char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::uint8_t, 256> make_digit_table() noexcept {
  std::array<std::uint8_t, 256> t{};
  t.fill(0x80);  // not a digit
  for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(digits[i])] = i;
  return t;
}
inline constexpr std::array<std::uint8_t, 256> digit_table = make_digit_table();
}  // namespace detail

// CLOCK_MONOTONIC in nanoseconds (the clock of std::chrono::steady_clock on
// Linux, so timer deadlines and payload stamps share one time base).
inline std::uint64_t mono_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

inline std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// ---------------------------------------------------------------------------
// Payload: S bytes of printable ASCII (never 0x01..0x05, CR or LF), so the
// same bytes are valid HCP/1 text, HCP/2 UTF-8 text, RESP and NATS payloads.
//
//   [0, 4)    publisher id      4 base64url digits (24 bits)
//   [4, 14)   sequence          10 digits (60 bits), per publisher, from 0
//   [14, 24)  scheduled send    10 digits (60 bits), CLOCK_MONOTONIC ns
//   [24, S)   filler            a slice of a fixed pseudo-random pattern,
//                               chosen by a hash of (publisher, sequence)
//
// The filler makes corruption, truncation and splicing detectable with one
// memcmp per message.
// ---------------------------------------------------------------------------
class payload_codec {
 public:
  static constexpr std::size_t header_size = 24;
  static constexpr std::size_t min_size = header_size;
  static constexpr std::uint64_t max_publishers = 1u << 24;

  struct fields {
    std::uint32_t publisher;
    std::uint64_t seq;
    std::uint64_t stamp_ns;
  };

  explicit payload_codec(std::size_t size) : size_(size) {
    // Filler pattern: printable 0x21..0x7E, deterministic.
    pattern_.resize(pattern_span + size);
    std::uint64_t state = 0x486F776479ull;  // "Howdy"
    for (auto& ch : pattern_) {
      state = splitmix64(state);
      ch = char(0x21 + state % 94);
    }
  }

  std::size_t size() const noexcept { return size_; }

  void write(char* out, std::uint32_t publisher, std::uint64_t seq, std::uint64_t stamp_ns) const noexcept {
    put(out, publisher, 4);
    put(out + 4, seq, 10);
    put(out + 14, stamp_ns, 10);
    std::memcpy(out + header_size, filler(publisher, seq), size_ - header_size);
  }

  // False when the size, a digit or the filler is wrong.
  bool read(std::string_view p, fields& f) const noexcept {
    if (p.size() != size_) return false;
    std::uint64_t pub = 0, seq = 0, stamp = 0;
    if (!get(p.data(), 4, pub) || !get(p.data() + 4, 10, seq) || !get(p.data() + 14, 10, stamp)) return false;
    f = {std::uint32_t(pub), seq, stamp};
    return std::memcmp(p.data() + header_size, filler(f.publisher, seq), size_ - header_size) == 0;
  }

 private:
  static constexpr std::size_t pattern_span = 4096;

  static void put(char* out, std::uint64_t v, int n) noexcept {
    for (int i = n - 1; i >= 0; --i, v >>= 6) out[i] = detail::digits[v & 63];
  }
  static bool get(char const* in, int n, std::uint64_t& v) noexcept {
    std::uint8_t bad = 0;
    v = 0;
    for (int i = 0; i < n; ++i) {
      auto const d = detail::digit_table[static_cast<unsigned char>(in[i])];
      bad |= d;
      v = (v << 6) | (d & 63u);
    }
    return (bad & 0x80) == 0;
  }
  char const* filler(std::uint32_t publisher, std::uint64_t seq) const noexcept {
    auto const h = splitmix64((std::uint64_t(publisher) << 40) ^ seq);
    return pattern_.data() + (h % pattern_span);
  }

  std::size_t size_;
  std::string pattern_;
};

// ---------------------------------------------------------------------------
// Log-linear latency histogram (HdrHistogram-like): values below 128 ns are
// exact, above that every power of two is split into 128 buckets, so a
// reported value is within 1/128 (0.8 %) of the true one. Fixed memory
// (~39 KiB), no stored samples; values above 2^44 ns (~4.9 h) are clamped.
// ---------------------------------------------------------------------------
class histogram {
 public:
  void record(std::uint64_t v) noexcept {
    ++counts_[index(v)];
    ++count_;
    sum_ += v;
    max_ = std::max(max_, v);
  }

  void merge(histogram const& o) noexcept {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
  }

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return count_ ? double(sum_) / double(count_) : 0.0; }

  // Value at percentile p (0..100): the middle of the bucket holding it,
  // never above the exact maximum.
  std::uint64_t percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    auto target = std::uint64_t(std::ceil(p / 100.0 * double(count_)));
    target = std::clamp<std::uint64_t>(target, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= target) return std::min(middle(i), max_);
    }
    return max_;
  }

 private:
  static constexpr int sub_bits = 7;
  static constexpr int max_bits = 44;
  static constexpr std::size_t sub_count = std::size_t(1) << sub_bits;

  static std::size_t index(std::uint64_t v) noexcept {
    if (v < sub_count) return std::size_t(v);
    if (v >> max_bits) v = (std::uint64_t(1) << max_bits) - 1;
    int const msb = 63 - std::countl_zero(v);
    int const shift = msb - sub_bits;
    return (std::size_t(shift + 1) << sub_bits) + std::size_t((v >> shift) & (sub_count - 1));
  }
  static std::uint64_t middle(std::size_t i) noexcept {
    if (i < sub_count) return i;
    int const shift = int(i >> sub_bits) - 1;
    std::uint64_t const low = (sub_count + (i & (sub_count - 1))) << shift;
    return low + ((std::uint64_t(1) << shift) >> 1);
  }

  std::array<std::uint64_t, std::size_t(max_bits - sub_bits + 1) << sub_bits> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

// ---------------------------------------------------------------------------
// Process figures.
// ---------------------------------------------------------------------------
struct proc_sample {
  double cpu_s = 0;           // utime + stime (clock ticks: 10 ms steps)
  double run_s = -1;          // time on a CPU of the live threads, ns-exact (schedstat); -1 if unknown
  std::uint64_t rss_kib = 0;  // VmRSS
  std::uint64_t hwm_kib = 0;  // VmHWM (peak RSS)
};

// utime + stime in seconds, from the fields of a /proc .../stat line after the
// command name's ")": field 3 (state) is token 0, so utime (14) is token 11.
inline double stat_cpu_seconds(std::string const& after_name) {
  std::istringstream fields(after_name);
  std::string tok;
  unsigned long long utime = 0, stime = 0;
  for (int i = 0; i <= 12 && fields >> tok; ++i) {
    if (i == 11) utime = std::stoull(tok);
    if (i == 12) stime = std::stoull(tok);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// Time on a CPU of every live thread of a process, from the nanosecond run
// times of /proc/PID/task/TID/schedstat (the scheduler's exact accounting, so
// a 50 ms setup is not rounded to ticks); -1 when the kernel has no schedstat.
inline double sched_run_seconds(int pid) {
  std::string const base = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(base.c_str());
  if (!dir) return -1;
  unsigned long long ns = 0;
  bool any = false;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(base + "/" + e->d_name + "/schedstat");
    unsigned long long v = 0;
    if (in >> v) {  // a thread that ended meanwhile is skipped
      ns += v;
      any = true;
    }
  }
  closedir(dir);
  return any ? double(ns) / 1e9 : -1;
}

// Reads /proc/PID/stat and /proc/PID/status; nullopt when the process is gone.
inline std::optional<proc_sample> sample_process(int pid) {
  proc_sample s;
  std::string const base = "/proc/" + std::to_string(pid);
  {
    std::ifstream in(base + "/stat");
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    auto const close = line.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) return std::nullopt;
    s.cpu_s = stat_cpu_seconds(line.substr(close + 1));
  }
  s.run_s = sched_run_seconds(pid);
  {
    std::ifstream in(base + "/status");
    std::string line;
    while (std::getline(in, line)) {
      auto value = [&](std::string_view key) -> std::optional<std::uint64_t> {
        if (line.compare(0, key.size(), key) != 0) return std::nullopt;
        return std::strtoull(line.c_str() + key.size(), nullptr, 10);
      };
      if (auto v = value("VmRSS:")) s.rss_kib = *v;
      if (auto v = value("VmHWM:")) s.hwm_kib = *v;
    }
  }
  return s;
}

// CPU of each thread of a process (/proc/PID/task/TID/stat), so a report can
// tell the network threads from, say, a database thread. Empty when the
// process is gone.
struct thread_sample {
  int tid = 0;
  std::string comm;  // the thread's name (the process name unless the thread set one)
  double cpu_s = 0;  // utime + stime
};

inline std::vector<thread_sample> sample_threads(int pid) {
  std::vector<thread_sample> out;
  std::string const base = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* dir = opendir(base.c_str())) {
    while (dirent* e = readdir(dir)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      std::ifstream in(base + "/" + e->d_name + "/stat");
      std::string line;
      if (!std::getline(in, line)) continue;  // the thread ended meanwhile
      auto const open = line.find('(');
      auto const close = line.rfind(')');
      if (open == std::string::npos || close == std::string::npos || close < open) continue;
      thread_sample t;
      t.tid = std::atoi(e->d_name);
      t.comm = line.substr(open + 1, close - open - 1);
      t.cpu_s = stat_cpu_seconds(line.substr(close + 1));
      out.push_back(std::move(t));
    }
    closedir(dir);
  }
  std::sort(out.begin(), out.end(), [](auto const& a, auto const& b) { return a.tid < b.tid; });
  return out;
}

// Per-thread CPU spent between two samples (threads present in `after`;
// a thread started meanwhile counts from 0), busiest first.
inline std::vector<thread_sample> thread_delta(std::vector<thread_sample> const& before,
                                               std::vector<thread_sample> const& after) {
  std::vector<thread_sample> out;
  for (auto const& a : after) {
    thread_sample d = a;
    for (auto const& b : before)
      if (b.tid == a.tid) d.cpu_s = a.cpu_s - b.cpu_s;
    out.push_back(std::move(d));
  }
  std::stable_sort(out.begin(), out.end(), [](auto const& x, auto const& y) { return x.cpu_s > y.cpu_s; });
  return out;
}

struct self_cpu {
  double user_s = 0;
  double sys_s = 0;
  static self_cpu now() noexcept {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto sec = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return {sec(ru.ru_utime), sec(ru.ru_stime)};
  }
};

// ---------------------------------------------------------------------------
// Minimal JSON writer: objects, arrays, strings, numbers, booleans.
// ---------------------------------------------------------------------------
class json_writer {
 public:
  json_writer& begin_object(std::string_view key = {}) {
    open(key, '{');
    return *this;
  }
  json_writer& end_object() {
    close('}');
    return *this;
  }
  json_writer& begin_array(std::string_view key = {}) {
    open(key, '[');
    return *this;
  }
  json_writer& end_array() {
    close(']');
    return *this;
  }

  json_writer& field(std::string_view key, std::string_view v) {
    prefix(key);
    quote(v);
    return *this;
  }
  json_writer& field(std::string_view key, char const* v) { return field(key, std::string_view(v)); }
  json_writer& field(std::string_view key, bool v) {
    prefix(key);
    out_ += v ? "true" : "false";
    return *this;
  }
  json_writer& field(std::string_view key, double v) {
    prefix(key);
    if (!std::isfinite(v)) {
      out_ += "null";
      return *this;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    out_ += buf;
    return *this;
  }
  template <class T>
  requires std::is_integral_v<T> &&(!std::is_same_v<T, bool>)json_writer& field(std::string_view key, T v) {
    prefix(key);
    out_ += std::to_string(v);
    return *this;
  }
  json_writer& null_field(std::string_view key) {
    prefix(key);
    out_ += "null";
    return *this;
  }

  std::string const& str() const noexcept { return out_; }

 private:
  void prefix(std::string_view key) {
    if (need_comma_) out_ += ',';
    need_comma_ = true;
    if (!key.empty()) {
      quote(key);
      out_ += ':';
    }
  }
  void open(std::string_view key, char c) {
    prefix(key);
    out_ += c;
    need_comma_ = false;
  }
  void close(char c) {
    out_ += c;
    need_comma_ = true;
  }
  void quote(std::string_view s) {
    out_ += '"';
    for (char ch : s) {
      auto const u = static_cast<unsigned char>(ch);
      if (ch == '"' || ch == '\\') {
        out_ += '\\';
        out_ += ch;
      } else if (u < 0x20 || u >= 0x7F) {  // non-ASCII: keep the JSON valid whatever the bytes
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", u);
        out_ += buf;
      } else {
        out_ += ch;
      }
    }
    out_ += '"';
  }

  std::string out_;
  bool need_comma_ = false;
};

}  // namespace bench

#endif
