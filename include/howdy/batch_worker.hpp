// A dedicated thread for blocking work (say, SQLite statements): jobs run one
// at a time in the order they were queued, grouped into batches so that one
// commit covers many jobs. A job completes only after its batch's end_batch
// returned, so "done" means committed; the network threads never block on it.
#pragma once

#include <algorithm>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/system_executor.hpp>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <howdy/error.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace howdy {

struct batch_worker_options {
  std::size_t max_batch = 256;                 // jobs run between one begin_batch and its end_batch
  std::size_t max_queue = 65536;               // beyond this, async_run completes with error::worker_busy
  std::function<void()> begin_batch;           // e.g. SQL BEGIN; runs on the worker thread
  std::function<std::error_code()> end_batch;  // e.g. COMMIT; its error goes to every job of the batch
};

namespace detail {
template <class R>
struct batch_signature {
  using type = void(std::error_code, R);
};
template <>
struct batch_signature<void> {
  using type = void(std::error_code);
};
}  // namespace detail

class batch_worker {
 public:
  // Starts the thread.
  explicit batch_worker(batch_worker_options o = {}) : options_(std::move(o)) {
    options_.max_batch = std::max<std::size_t>(options_.max_batch, 1);
    thread_ = std::thread([this] { loop(); });
  }

  // Runs what is queued, then joins. Not from a job (the thread cannot join itself).
  ~batch_worker() {
    stop();
    if (thread_.joinable()) thread_.join();
  }

  batch_worker(const batch_worker&) = delete;
  batch_worker& operator=(const batch_worker&) = delete;

  // Runs fn() on the worker thread inside a batch and completes with
  // void(std::error_code, R) (void(std::error_code) when R is void) after the
  // batch's end_batch returned. The completion is posted to the handler's
  // associated executor (Asio's system executor for a plain callback), which is
  // kept busy meanwhile (io_context::run does not return while a job is out).
  // Errors: error::worker_busy (queue full), error::worker_stopped, the
  // end_batch error, std::errc::io_error when fn or the batch hooks throw; R is
  // value-initialized on any error. Thread-safe; FIFO; never completes inline.
  template <class Fn, class CompletionToken>
  auto async_run(Fn fn, CompletionToken&& token) {
    using result = std::decay_t<std::invoke_result_t<Fn&>>;
    static_assert(std::is_void_v<result> || std::is_default_constructible_v<result>,
                  "batch_worker: the result must be default-constructible (it is value-initialized on errors)");
    return asio::async_initiate<CompletionToken, typename detail::batch_signature<result>::type>(
        [this](auto handler, Fn f) {
          std::unique_ptr<job> j =
              std::make_unique<completion_job<Fn, decltype(handler), result>>(std::move(f), std::move(handler));
          if (const auto ec = enqueue(j)) j->complete(ec);
        },
        token, std::move(fn));
  }

  // Fire and forget: same ordering and batching, no completion (a throw is
  // swallowed). False when the queue is full or the worker stopped.
  template <class Fn>
  bool post(Fn fn) {
    std::unique_ptr<job> j = std::make_unique<plain_job<Fn>>(std::move(fn));
    return !enqueue(j);
  }

  // Refuses new jobs (error::worker_stopped); what is queued still runs.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wakeup_.notify_all();
  }

  // Jobs waiting for a batch (not those of the batch running now).
  std::size_t queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

  // Batches finished so far (end_batch returned, successfully or not). Counted
  // before the batch's completions are posted, so a completion sees its batch.
  std::uint64_t batches() const noexcept { return batches_.load(std::memory_order_acquire); }

 private:
  struct job {
    virtual ~job() = default;
    virtual void run() noexcept = 0;                   // on the worker thread
    virtual void complete(std::error_code batch) = 0;  // posts the completion, if any
  };

  template <class Fn>
  struct plain_job final : job {
    explicit plain_job(Fn f) : fn(std::move(f)) {}
    void run() noexcept override {
      try {
        fn();
      } catch (...) {  // nobody to tell; the worker keeps going
      }
    }
    void complete(std::error_code) override {}
    Fn fn;
  };

  template <class Fn, class Handler, class R>
  struct completion_job final : job {
    using executor_type = asio::associated_executor_t<Handler, asio::system_executor>;

    completion_job(Fn f, Handler h)
        : fn(std::move(f)),
          handler(std::move(h)),
          work(asio::get_associated_executor(handler, asio::system_executor())) {}

    void run() noexcept override {
      try {
        if constexpr (std::is_void_v<R>) {
          (*fn)();
        } else {
          value.emplace((*fn)());
        }
      } catch (...) {
        failed = true;
      }
      fn.reset();  // its captures go now, on this thread, not with the completion
    }

    void complete(std::error_code batch) override {
      const std::error_code ec = failed ? std::make_error_code(std::errc::io_error) : batch;
      auto ex = work.get_executor();
      if constexpr (std::is_void_v<R>) {
        asio::post(ex, [h = std::move(handler), ec]() mutable { std::move(h)(ec); });
      } else {
        R v = !ec && value ? std::move(*value) : R{};
        asio::post(ex, [h = std::move(handler), ec, v = std::move(v)]() mutable { std::move(h)(ec, std::move(v)); });
      }
      work.reset();  // the posted handler holds the executor's work from here
    }

    std::optional<Fn> fn;
    Handler handler;
    asio::executor_work_guard<executor_type> work;
    std::optional<std::conditional_t<std::is_void_v<R>, std::monostate, R>> value;  // what fn returned
    bool failed = false;
  };

  // Queues `j` (taking it) or says why not (leaving it with the caller).
  std::error_code enqueue(std::unique_ptr<job>& j) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return error::worker_stopped;
      if (queue_.size() >= options_.max_queue) return error::worker_busy;
      queue_.push_back(std::move(j));
    }
    wakeup_.notify_one();
    return {};
  }

  void loop() {
    std::vector<std::unique_ptr<job>> batch;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wakeup_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopped, and everything queued has run
        const std::size_t n = std::min(options_.max_batch, queue_.size());
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      const std::error_code ec = run_batch(batch);
      batches_.fetch_add(1, std::memory_order_release);
      for (auto& j : batch) j->complete(ec);
      batch.clear();
    }
  }

  std::error_code run_batch(std::vector<std::unique_ptr<job>>& batch) noexcept {
    // If the batch cannot begin, its jobs do not run: outside a transaction
    // they would not be what their callers asked for.
    try {
      if (options_.begin_batch) options_.begin_batch();
    } catch (...) {
      return std::make_error_code(std::errc::io_error);
    }
    for (auto& j : batch) j->run();
    try {
      return options_.end_batch ? options_.end_batch() : std::error_code{};
    } catch (...) {
      return std::make_error_code(std::errc::io_error);
    }
  }

  batch_worker_options options_;
  mutable std::mutex mutex_;
  std::condition_variable wakeup_;
  std::deque<std::unique_ptr<job>> queue_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> batches_{0};
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace howdy
