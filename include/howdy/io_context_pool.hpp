// One io_context per thread. A connection lives on one of them for its whole
// life, so its state needs no lock; the contexts' executors are also the
// partitions of a broadcast_hub. stop(), next() and executors() are
// thread-safe; run() and release() belong to the owning thread.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace howdy {

class io_context_pool {
 public:
  explicit io_context_pool(std::size_t threads) {
    if (threads == 0) throw std::invalid_argument("io_context_pool needs at least one thread");
    for (std::size_t i = 0; i < threads; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
  }

  io_context_pool(const io_context_pool&) = delete;
  io_context_pool& operator=(const io_context_pool&) = delete;
  ~io_context_pool() {
    stop();
    join();
  }

  std::size_t size() const noexcept { return contexts_.size(); }
  asio::io_context& context(std::size_t i) { return *contexts_.at(i); }

  // Round-robin: where the next connection should live.
  asio::io_context& next() { return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()]; }

  std::vector<asio::any_io_executor> executors() const {
    std::vector<asio::any_io_executor> out;
    for (auto& c : contexts_) out.push_back(c->get_executor());
    return out;
  }

  // Runs context 0 on the calling thread and the others on new threads; returns
  // when all have stopped. A handler's exception on context 0 leaves run() (as
  // from io_context::run) with the other threads still running; calling run()
  // again resumes context 0 without starting them twice. On the other threads
  // it ends the program, as in asio::thread_pool.
  void run() {
    if (threads_.empty())
      for (std::size_t i = 1; i < contexts_.size(); ++i)
        threads_.emplace_back([c = contexts_[i].get()] { c->run(); });
    contexts_[0]->run();
    join();
  }

  // Lets the contexts return once they run out of work.
  void release() {
    for (auto& g : guards_) g.reset();
  }

  // Stops every context now, abandoning pending work.
  void stop() {
    for (auto& c : contexts_) c->stop();
  }

 private:
  void join() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace howdy
