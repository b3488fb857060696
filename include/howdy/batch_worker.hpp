// A dedicated thread for blocking work (say, SQLite statements): jobs run one
// at a time in the order they were queued, grouped into batches so that one
// commit covers many jobs. A job completes only after its batch's end_batch
// returned, so "done" means committed; the network threads never block on it.
#pragma once

#include <algorithm>
#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/error.hpp>
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
  // Where completions go when the handler has no associated executor.
  using executor_type = asio::any_io_executor;

  // Starts the thread. Completions of handlers without an associated executor
  // run on `ex` (typically the io_context the callers live on).
  explicit batch_worker(executor_type ex, batch_worker_options o = {})
      : options_(std::move(o)), executor_(std::move(ex)), shared_(std::make_shared<shared>()) {
    options_.max_batch = std::max<std::size_t>(options_.max_batch, 1);
    thread_ = std::thread([this] { loop(); });
  }

  // As above, completions defaulting to Asio's system executor (a thread of
  // its own pool): give such jobs a handler bound to an executor
  // (asio::bind_executor, or a coroutine's use_awaitable) to get them back.
  explicit batch_worker(batch_worker_options o = {}) : batch_worker(asio::system_executor(), std::move(o)) {}

  // Runs what is queued, then joins. Not from a job (the thread cannot join itself).
  ~batch_worker() {
    stop();
    if (thread_.joinable()) thread_.join();
  }

  batch_worker(const batch_worker&) = delete;
  batch_worker& operator=(const batch_worker&) = delete;

  executor_type get_executor() const noexcept { return executor_; }

  // Runs fn() on the worker thread inside a batch and completes with
  // void(std::error_code, R) (void(std::error_code) when R is void) after the
  // batch's end_batch returned. The completion is posted to the handler's
  // associated executor (get_executor() if it has none), which is kept busy
  // meanwhile (io_context::run does not return while a job is out).
  // Errors: error::worker_busy (queue full), error::worker_stopped, the
  // end_batch error, std::errc::io_error when fn or the batch hooks throw,
  // asio::error::operation_aborted when cancelled; R is value-initialized on
  // any error. Thread-safe; FIFO; never completes inline.
  //
  // Cancellation (the handler's associated cancellation slot; any type): a job
  // still queued leaves the queue and completes with operation_aborted at once,
  // without running; once its batch has begun, it runs and completes as usual.
  template <class Fn, class CompletionToken>
  auto async_run(Fn fn, CompletionToken&& token) {
    using result = std::decay_t<std::invoke_result_t<Fn&>>;
    static_assert(std::is_void_v<result> || std::is_default_constructible_v<result>,
                  "batch_worker: the result must be default-constructible (it is value-initialized on errors)");
    return asio::async_initiate<CompletionToken, typename detail::batch_signature<result>::type>(
        [this](auto handler, Fn f) {
          using job_type = completion_job<Fn, decltype(handler), result>;
          auto owned = std::make_unique<job_type>(std::move(f), std::move(handler), executor_);
          job_type& j = *owned;
          std::unique_ptr<job> queued = std::move(owned);
          const std::uint64_t id = queued->id = shared_->next_id.fetch_add(1, std::memory_order_relaxed);
          // Installed before the job is queued: once queued, the worker may
          // complete it (and clear the slot) at any time. The slot's handler
          // finds the job by its id, if it is still queued, and holds the queue
          // weakly: the worker may be gone by then.
          auto slot = asio::get_associated_cancellation_slot(j.handler);
          if (slot.is_connected())
            slot.assign([weak = std::weak_ptr<shared>(shared_), id](asio::cancellation_type) {
              if (auto s = weak.lock()) s->cancel(id);
            });
          if (const auto ec = enqueue(queued)) queued->complete(ec);
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
      std::lock_guard lock(shared_->mutex);
      shared_->stopping = true;
    }
    shared_->wakeup.notify_all();
  }

  // Jobs waiting for a batch (not those of the batch running now).
  std::size_t queued() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->queue.size();
  }

  // Batches finished so far (end_batch returned, successfully or not). Counted
  // before the batch's completions are posted, so a completion sees its batch.
  std::uint64_t batches() const noexcept { return batches_.load(std::memory_order_acquire); }

 private:
  struct job {
    virtual ~job() = default;
    virtual void run() noexcept = 0;                   // on the worker thread
    virtual void complete(std::error_code batch) = 0;  // posts the completion, if any
    std::uint64_t id = 0;                              // for cancellation; 0 for post()
  };

  // The queue, and what a cancellation handler needs to take a job out of it.
  struct shared {
    std::mutex mutex;
    std::condition_variable wakeup;
    std::deque<std::unique_ptr<job>> queue;
    bool stopping = false;
    std::atomic<std::uint64_t> next_id{1};

    void cancel(std::uint64_t id) {
      std::unique_ptr<job> j;
      {
        std::lock_guard lock(mutex);
        auto it = std::find_if(queue.begin(), queue.end(), [id](const auto& q) { return q->id == id; });
        if (it == queue.end()) return;  // already taken into a batch, or done
        j = std::move(*it);
        queue.erase(it);
      }
      j->complete(asio::error::operation_aborted);
    }
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
    using handler_executor = asio::associated_executor_t<Handler, executor_type>;

    completion_job(Fn f, Handler h, const executor_type& e)
        : fn(std::move(f)), handler(std::move(h)), io(e), work(asio::get_associated_executor(handler, io)) {}

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

    // From the worker thread, a cancellation handler or async_run itself:
    // never runs the handler here, always through the executor.
    void complete(std::error_code batch) override {
      const std::error_code ec = failed ? std::make_error_code(std::errc::io_error) : batch;
      // An untracked executor to post with; the work guard goes with the
      // handler: once posted, this thread must not touch the executor (the
      // handler may run, and its context be destroyed, at once). The slot is
      // cleared where the handler runs (where its signal is emitted), just
      // before it runs: a later emit finds nothing to cancel.
      auto ex = asio::get_associated_executor(handler, io);
      if constexpr (std::is_void_v<R>) {
        asio::post(ex, [h = std::move(handler), w = std::move(work), ec]() mutable {
          asio::get_associated_cancellation_slot(h).clear();
          std::move(h)(ec);
        });
      } else {
        R v = !ec && value ? std::move(*value) : R{};
        asio::post(ex, [h = std::move(handler), w = std::move(work), ec, v = std::move(v)]() mutable {
          asio::get_associated_cancellation_slot(h).clear();
          std::move(h)(ec, std::move(v));
        });
      }
    }

    std::optional<Fn> fn;
    Handler handler;
    executor_type io;  // the worker's: the default
    asio::executor_work_guard<handler_executor> work;
    std::optional<std::conditional_t<std::is_void_v<R>, std::monostate, R>> value;  // what fn returned
    bool failed = false;
  };

  // Queues `j` (taking it) or says why not (leaving it with the caller).
  std::error_code enqueue(std::unique_ptr<job>& j) {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->stopping) return error::worker_stopped;
      if (shared_->queue.size() >= options_.max_queue) return error::worker_busy;
      shared_->queue.push_back(std::move(j));
    }
    shared_->wakeup.notify_one();
    return {};
  }

  void loop() {
    std::vector<std::unique_ptr<job>> batch;
    auto& s = *shared_;
    for (;;) {
      {
        std::unique_lock lock(s.mutex);
        s.wakeup.wait(lock, [&s] { return s.stopping || !s.queue.empty(); });
        if (s.queue.empty()) return;  // stopped, and everything queued has run
        const std::size_t n = std::min(options_.max_batch, s.queue.size());
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(s.queue.front()));
          s.queue.pop_front();
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
  executor_type executor_;
  std::shared_ptr<shared> shared_;
  std::atomic<std::uint64_t> batches_{0};
  std::thread thread_;  // last: starts after everything it uses exists
};

}  // namespace howdy
