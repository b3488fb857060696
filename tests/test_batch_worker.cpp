// batch_worker: FIFO order and results, batches (begin/end around them,
// completions only after end_batch, end_batch's error to the whole batch),
// throwing jobs, a full queue, stop(), the destructor, use_awaitable and
// deferred, plain callbacks on the worker's executor (the system executor by
// default), per-operation cancellation, and producers on several threads.
//
// A "gate" job holds the worker while the test queues more: the batches that
// follow are then known exactly, without timing.

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/deferred.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <future>
#include <howdy/batch_worker.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "test_streams.hpp"

namespace {

using howdy_test::run_until;

// Holds the worker thread inside a job until open().
class gate {
 public:
  // The job to queue; wait_entered() returns once the worker runs it.
  auto job() {
    return [this] {
      entered_.set_value();
      opened_.wait();
    };
  }
  void wait_entered() { entered_.get_future().wait(); }
  void open() { open_.set_value(); }

 private:
  std::promise<void> entered_, open_;
  std::shared_future<void> opened_ = open_.get_future().share();
};

struct outcome {
  std::error_code ec;
  int value = -1;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(batch_worker)

BOOST_AUTO_TEST_CASE(jobs_run_and_complete_in_fifo_order) {
  asio::io_context ctx(1);
  howdy::batch_worker w;
  constexpr int n = 200;
  std::vector<int> ran;  // touched by the worker thread only, until the completions say it is done
  std::vector<outcome> done;
  for (int i = 0; i < n; ++i)
    w.async_run(
        [&ran, i] {
          ran.push_back(i);
          return i * 10;
        },
        asio::bind_executor(ctx, [&](std::error_code ec, int v) {
          done.push_back({ec, v});
        }));
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return done.size() == std::size_t(n); }));
  BOOST_TEST_REQUIRE(ran.size() == std::size_t(n));
  for (int i = 0; i < n; ++i) {
    BOOST_TEST(ran[i] == i);
    BOOST_TEST(!done[i].ec);
    BOOST_TEST(done[i].value == i * 10);
  }
  BOOST_TEST(w.queued() == 0u);
  BOOST_TEST(w.batches() >= 1u);
  BOOST_TEST(w.batches() <= std::uint64_t(n));
}

BOOST_AUTO_TEST_CASE(batches_wrap_jobs_and_completions_follow_end_batch) {
  asio::io_context ctx(1);
  std::vector<std::string> log;  // worker thread only
  std::atomic<int> begun{0}, ended{0};
  howdy::batch_worker_options o;
  o.max_batch = 4;
  o.begin_batch = [&] { log.push_back("begin " + std::to_string(++begun)); };
  o.end_batch = [&] {
    log.push_back("end " + std::to_string(begun.load()));
    ++ended;
    return std::error_code{};
  };
  howdy::batch_worker w(o);
  gate g;
  w.post(g.job());
  g.wait_entered();  // batch 1 is the gate alone; the next ten queue up behind it
  struct record {
    int batch_seen_by_job = 0;
    int ended_when_completed = 0;
    std::uint64_t batches_when_completed = 0;
    bool done = false;
  };
  std::vector<record> records(10);
  for (int i = 0; i < 10; ++i)
    w.async_run(
        [&, i] {
          log.push_back("job " + std::to_string(i));
          return begun.load();
        },
        asio::bind_executor(ctx, [&, i](std::error_code ec, int batch) {
          BOOST_TEST(!ec);
          records[i] = {batch, ended.load(), w.batches(), true};
        }));
  BOOST_TEST(w.queued() == 10u);
  g.open();
  BOOST_TEST_REQUIRE(run_until(
      ctx, [&] { return std::all_of(records.begin(), records.end(), [](const record& r) { return r.done; }); }));
  const std::vector<std::string> want = {"begin 1", "end 1",                                      // the gate
                                         "begin 2", "job 0", "job 1", "job 2", "job 3", "end 2",  //
                                         "begin 3", "job 4", "job 5", "job 6", "job 7", "end 3",  //
                                         "begin 4", "job 8", "job 9", "end 4"};
  BOOST_TEST(log == want, boost::test_tools::per_element());
  for (int i = 0; i < 10; ++i) {
    BOOST_TEST_CONTEXT("job " << i) {
      const int batch = 2 + i / 4;
      BOOST_TEST(records[i].batch_seen_by_job == batch);
      BOOST_TEST(records[i].ended_when_completed >= batch);  // completed only after its commit
      BOOST_TEST(records[i].batches_when_completed >= std::uint64_t(batch));
    }
  }
  BOOST_TEST(w.batches() == 4u);
}

BOOST_AUTO_TEST_CASE(end_batch_error_goes_to_every_job_of_that_batch) {
  asio::io_context ctx(1);
  int commits = 0;  // worker thread only
  howdy::batch_worker_options o;
  o.max_batch = 3;
  o.end_batch = [&]() -> std::error_code {
    if (++commits == 2) return std::make_error_code(std::errc::no_space_on_device);
    return {};
  };
  howdy::batch_worker w(o);
  gate g;
  w.post(g.job());
  g.wait_entered();
  std::vector<std::optional<outcome>> done(5);
  std::optional<std::error_code> void_done;
  for (int i = 0; i < 5; ++i)
    w.async_run([i] { return i + 100; }, asio::bind_executor(ctx, [&, i](std::error_code ec, int v) {
                  done[i] = outcome{ec, v};
                }));
  g.open();
  BOOST_TEST_REQUIRE(
      run_until(ctx, [&] { return std::all_of(done.begin(), done.end(), [](auto& d) { return d.has_value(); }); }));
  for (int i = 0; i < 3; ++i) {  // batch 2: the failed commit
    BOOST_TEST(done[i]->ec == std::make_error_code(std::errc::no_space_on_device));
    BOOST_TEST(done[i]->value == 0);  // value-initialized: nothing was made durable
  }
  for (int i = 3; i < 5; ++i) {  // batch 3 commits
    BOOST_TEST(!done[i]->ec);
    BOOST_TEST(done[i]->value == i + 100);
  }
  // A failed commit for a void job too.
  commits = 1;  // the worker is idle: its last batch has completed
  w.async_run([] {}, asio::bind_executor(ctx, [&](std::error_code ec) { void_done = ec; }));
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return void_done.has_value(); }));
  BOOST_TEST(*void_done == std::make_error_code(std::errc::no_space_on_device));
}

BOOST_AUTO_TEST_CASE(a_throwing_job_fails_alone_and_the_worker_goes_on) {
  asio::io_context ctx(1);
  howdy::batch_worker w;
  gate g;
  w.post(g.job());
  g.wait_entered();  // so that the four jobs share one batch
  std::vector<std::optional<outcome>> done(3);
  std::optional<std::error_code> void_done;
  w.async_run([] { return 1; }, asio::bind_executor(ctx, [&](std::error_code ec, int v) { done[0] = outcome{ec, v}; }));
  w.async_run([]() -> int { throw std::runtime_error("disk on fire"); },
              asio::bind_executor(ctx, [&](std::error_code ec, int v) {
                done[1] = outcome{ec, v};
              }));
  w.async_run([] { throw 42; }, asio::bind_executor(ctx, [&](std::error_code ec) { void_done = ec; }));
  w.post([] { throw std::logic_error("fire and forget"); });
  w.async_run([] { return 3; }, asio::bind_executor(ctx, [&](std::error_code ec, int v) { done[2] = outcome{ec, v}; }));
  g.open();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return done[0] && done[1] && done[2] && void_done; }));
  BOOST_TEST(!done[0]->ec);
  BOOST_TEST(done[0]->value == 1);
  BOOST_TEST(done[1]->ec == std::make_error_code(std::errc::io_error));
  BOOST_TEST(done[1]->value == 0);
  BOOST_TEST(*void_done == std::make_error_code(std::errc::io_error));
  BOOST_TEST(!done[2]->ec);
  BOOST_TEST(done[2]->value == 3);
  BOOST_TEST(w.batches() == 2u);

  // A throwing end_batch fails its batch the same way.
  howdy::batch_worker_options o;
  o.end_batch = []() -> std::error_code { throw std::runtime_error("commit"); };
  howdy::batch_worker w2(o);
  std::optional<outcome> d;
  w2.async_run([] { return 5; }, asio::bind_executor(ctx, [&](std::error_code ec, int v) { d = outcome{ec, v}; }));
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return d.has_value(); }));
  BOOST_TEST(d->ec == std::make_error_code(std::errc::io_error));
}

BOOST_AUTO_TEST_CASE(a_full_queue_completes_with_worker_busy_never_inline) {
  asio::io_context ctx(1);
  howdy::batch_worker_options o;
  o.max_queue = 2;
  howdy::batch_worker w(o);
  gate g;
  BOOST_TEST(w.post(g.job()));
  g.wait_entered();  // the running gate is not in the queue
  std::vector<std::optional<outcome>> done(3);
  for (int i = 0; i < 3; ++i)
    w.async_run([i] { return i; }, asio::bind_executor(ctx, [&, i](std::error_code ec, int v) {
                  done[i] = outcome{ec, v};
                }));
  BOOST_TEST(w.queued() == 2u);
  BOOST_TEST(!done[2].has_value());  // refused, but the handler has not run inside async_run
  BOOST_TEST(!w.post([] {}));        // full for post too
  ctx.poll();
  BOOST_TEST_REQUIRE(done[2].has_value());
  BOOST_TEST(done[2]->ec == howdy::error::worker_busy);
  BOOST_TEST(done[2]->value == 0);
  BOOST_TEST(!done[0].has_value());  // still queued behind the gate
  g.open();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return done[0] && done[1]; }));
  BOOST_TEST(!done[0]->ec);
  BOOST_TEST(done[1]->value == 1);
  // Room again once the queue drained.
  std::optional<outcome> later;
  w.async_run([] { return 7; }, asio::bind_executor(ctx, [&](std::error_code ec, int v) { later = outcome{ec, v}; }));
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return later.has_value(); }));
  BOOST_TEST(!later->ec);
  BOOST_TEST(later->value == 7);
}

BOOST_AUTO_TEST_CASE(stop_refuses_new_jobs_and_finishes_queued_ones) {
  asio::io_context ctx(1);
  auto w = std::make_unique<howdy::batch_worker>();
  gate g;
  w->post(g.job());
  g.wait_entered();
  std::vector<int> ran;  // worker thread only, until the join below
  std::vector<std::optional<outcome>> done(3);
  for (int i = 0; i < 2; ++i)
    w->async_run(
        [&ran, i] {
          ran.push_back(i);
          return i;
        },
        asio::bind_executor(ctx, [&, i](std::error_code ec, int v) {
          done[i] = outcome{ec, v};
        }));
  BOOST_TEST(w->post([&ran] { ran.push_back(2); }));
  w->stop();
  w->async_run([] { return 9; }, asio::bind_executor(ctx, [&](std::error_code ec, int v) {
                 done[2] = outcome{ec, v};
               }));
  BOOST_TEST(!w->post([&ran] { ran.push_back(99); }));
  BOOST_TEST(w->queued() == 3u);
  ctx.poll();
  BOOST_TEST_REQUIRE(done[2].has_value());
  BOOST_TEST(done[2]->ec == howdy::error::worker_stopped);
  g.open();
  w.reset();  // joins, after running what was queued before stop()
  BOOST_TEST(ran == (std::vector<int>{0, 1, 2}), boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return done[0] && done[1]; }));
  BOOST_TEST(!done[0]->ec);
  BOOST_TEST(!done[1]->ec);
  BOOST_TEST(done[1]->value == 1);
}

BOOST_AUTO_TEST_CASE(destructor_runs_what_is_queued) {
  asio::io_context ctx(1);
  constexpr int n = 1000;
  std::vector<int> ran;
  int completed = 0;
  {
    howdy::batch_worker w;
    for (int i = 0; i < n; ++i) {
      w.post([&ran, i] { ran.push_back(i); });
      w.async_run([] {}, asio::bind_executor(ctx, [&](std::error_code ec) { completed += !ec; }));
    }
  }  // no stop(), no waiting: the destructor itself must run them all
  BOOST_TEST_REQUIRE(ran.size() == std::size_t(n));
  for (int i = 0; i < n; ++i) BOOST_TEST_REQUIRE(ran[i] == i);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return completed == n; }));
}

BOOST_AUTO_TEST_CASE(a_pending_job_keeps_io_context_run_busy) {
  // Nothing but the job's completion is outstanding on ctx: run() must wait
  // for it rather than return at once.
  asio::io_context ctx(1);
  howdy::batch_worker w;
  gate g;
  std::optional<outcome> done;
  w.async_run(
      [&g] {
        g.job()();
        return 42;
      },
      asio::bind_executor(ctx, [&](std::error_code ec, int v) {
        done = outcome{ec, v};
      }));
  std::thread opener([&g] {
    g.wait_entered();
    g.open();
  });
  ctx.run();
  opener.join();
  BOOST_TEST_REQUIRE(done.has_value());
  BOOST_TEST(!done->ec);
  BOOST_TEST(done->value == 42);
}

BOOST_AUTO_TEST_CASE(works_with_use_awaitable) {
  asio::io_context ctx(1);
  howdy::batch_worker w;
  int value = 0;
  std::error_code tuple_ec, void_ec, stopped_ec;
  bool finished = false;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        value = co_await w.async_run([] { return 42; }, asio::use_awaitable);
        co_await w.async_run([] {}, asio::use_awaitable);
        auto [ec, s] =
            co_await w.async_run([] { return std::string("hi"); }, asio::experimental::as_tuple(asio::use_awaitable));
        tuple_ec = ec;
        BOOST_TEST(s == "hi");
        auto [ec2] = co_await w.async_run([] { throw 1; }, asio::experimental::as_tuple(asio::use_awaitable));
        void_ec = ec2;
        w.stop();
        try {
          co_await w.async_run([] { return 1; }, asio::use_awaitable);
        } catch (const std::system_error& e) {
          stopped_ec = e.code();
        }
        finished = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return finished; }));
  BOOST_TEST(value == 42);
  BOOST_TEST(!tuple_ec);
  BOOST_TEST(void_ec == std::make_error_code(std::errc::io_error));
  BOOST_TEST(stopped_ec == howdy::error::worker_stopped);
}

BOOST_AUTO_TEST_CASE(plain_callback_runs_on_the_system_executor) {
  howdy::batch_worker w;
  std::promise<std::pair<std::error_code, std::thread::id>> got;
  std::thread::id job_thread;
  w.async_run([&] { job_thread = std::this_thread::get_id(); },
              [&](std::error_code ec) {
                got.set_value({ec, std::this_thread::get_id()});
              });
  auto [ec, callback_thread] = got.get_future().get();
  BOOST_TEST(!ec);
  BOOST_TEST((callback_thread != std::this_thread::get_id()));
  BOOST_TEST((callback_thread != job_thread));  // posted, not run on the worker

  std::promise<std::error_code> busy;
  w.stop();
  w.async_run([] { return 1; }, [&](std::error_code e, int) { busy.set_value(e); });
  BOOST_TEST(busy.get_future().get() == howdy::error::worker_stopped);
}

BOOST_AUTO_TEST_CASE(producers_on_many_threads_keep_their_own_order) {
  constexpr int threads = 4, per_thread = 2000;
  std::vector<std::vector<int>> ran(threads);  // worker thread only
  {
    howdy::batch_worker_options o;
    o.max_batch = 64;
    howdy::batch_worker w(o);
    std::vector<std::thread> producers;
    std::atomic<int> refused{0};
    for (int t = 0; t < threads; ++t)
      producers.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i)
          if (!w.post([&ran, t, i] { ran[t].push_back(i); })) ++refused;
      });
    for (auto& p : producers) p.join();
    BOOST_TEST(refused == 0);
  }
  for (int t = 0; t < threads; ++t) {
    BOOST_TEST_REQUIRE(ran[t].size() == std::size_t(per_thread));
    for (int i = 0; i < per_thread; ++i) BOOST_TEST_REQUIRE(ran[t][i] == i);
  }
}

BOOST_AUTO_TEST_CASE(plain_callback_runs_on_the_workers_executor) {
  // Given an executor, the worker completes handlers that have none of their
  // own there, and keeps it busy meanwhile.
  asio::io_context ctx(1);
  howdy::batch_worker w(ctx.get_executor());
  BOOST_TEST((w.get_executor() == asio::any_io_executor(ctx.get_executor())));
  std::optional<outcome> done;
  bool on_ctx = false;
  w.async_run([] { return 3; },
              [&](std::error_code ec, int v) {
                on_ctx = ctx.get_executor().running_in_this_thread();
                done = outcome{ec, v};
              });
  std::optional<std::error_code> stopped;
  bool stopped_on_ctx = false;
  ctx.run();  // returns once the job completed: it kept ctx busy
  BOOST_TEST_REQUIRE(done.has_value());
  BOOST_TEST(on_ctx);
  BOOST_TEST(!done->ec);
  BOOST_TEST(done->value == 3);
  // Refusals too.
  w.stop();
  ctx.restart();
  w.async_run([] {},
              [&](std::error_code ec) {
                stopped_on_ctx = ctx.get_executor().running_in_this_thread();
                stopped = ec;
              });
  BOOST_TEST(!stopped.has_value());  // never inline
  ctx.run();
  BOOST_TEST_REQUIRE(stopped.has_value());
  BOOST_TEST(*stopped == howdy::error::worker_stopped);
  BOOST_TEST(stopped_on_ctx);
}

BOOST_AUTO_TEST_CASE(works_with_deferred) {
  asio::io_context ctx(1);
  howdy::batch_worker w(ctx.get_executor());
  std::atomic<int> ran{0};
  auto op = w.async_run(
      [&ran] {
        ++ran;
        return 5;
      },
      asio::experimental::deferred);
  ctx.poll();
  BOOST_TEST(ran == 0);  // nothing happens until the deferred operation is launched
  std::optional<outcome> done;
  std::move(op)([&](std::error_code ec, int v) { done = outcome{ec, v}; });
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return done.has_value(); }));
  BOOST_TEST(ran == 1);
  BOOST_TEST(!done->ec);
  BOOST_TEST(done->value == 5);
  // Composed with a continuation, awaited in a coroutine.
  int twice = 0;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        twice = co_await w.async_run([] { return 21; }, asio::experimental::deferred([](std::error_code ec, int v) {
                                       return asio::experimental::deferred.values(ec, v * 2);
                                     }))(asio::use_awaitable);
      },
      asio::detached);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return twice != 0; }));
  BOOST_TEST(twice == 42);
}

BOOST_AUTO_TEST_CASE(cancelling_a_queued_job_completes_it_at_once_and_it_never_runs) {
  asio::io_context ctx(1);
  howdy::batch_worker w(ctx.get_executor());
  gate g;
  w.post(g.job());
  g.wait_entered();  // what follows stays queued until the gate opens
  std::atomic<bool> cancelled_ran{false};
  std::vector<int> ran;  // worker thread only, until the completions
  std::optional<outcome> cancelled, kept;
  asio::cancellation_signal signal;
  w.async_run(
      [&] {
        cancelled_ran = true;
        return 1;
      },
      asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, int v) {
        cancelled = outcome{ec, v};
      }));
  w.async_run(
      [&] {
        ran.push_back(2);
        return 2;
      },
      [&](std::error_code ec, int v) {
        kept = outcome{ec, v};
      });
  BOOST_TEST(w.queued() == 2u);
  signal.emit(asio::cancellation_type::terminal);
  BOOST_TEST(w.queued() == 1u);                                               // out of the queue now
  BOOST_TEST(!cancelled.has_value());                                         // but not completed inside emit
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return cancelled.has_value(); }));  // while the gate still holds the worker
  BOOST_TEST(cancelled->ec == asio::error::operation_aborted);
  BOOST_TEST(cancelled->value == 0);
  signal.emit(asio::cancellation_type::terminal);  // completed: the slot was cleared, nothing happens
  g.open();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return kept.has_value(); }));
  BOOST_TEST(!kept->ec);
  BOOST_TEST(kept->value == 2);
  BOOST_TEST(!cancelled_ran);
  BOOST_TEST(ran == std::vector<int>{2}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cancelling_a_running_job_changes_nothing) {
  // Once its batch has begun, a job runs and completes as usual.
  asio::io_context ctx(1);
  howdy::batch_worker w(ctx.get_executor());
  gate g;
  std::optional<outcome> done;
  asio::cancellation_signal signal;
  w.async_run(
      [&g] {
        g.job()();
        return 8;
      },
      asio::bind_cancellation_slot(signal.slot(), [&](std::error_code ec, int v) {
        done = outcome{ec, v};
      }));
  g.wait_entered();
  signal.emit(asio::cancellation_type::all);
  g.open();
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return done.has_value(); }));
  BOOST_TEST(!done->ec);
  BOOST_TEST(done->value == 8);
}

BOOST_AUTO_TEST_CASE(a_cancelled_coroutine_stops_waiting_for_its_queued_job) {
  // use_awaitable forwards the coroutine's cancellation to the job.
  asio::io_context ctx(1);
  howdy::batch_worker w(ctx.get_executor());
  gate g;
  w.post(g.job());
  g.wait_entered();
  std::atomic<bool> job_ran{false};
  std::optional<std::error_code> caught;
  asio::cancellation_signal signal;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        try {
          co_await w.async_run([&] { job_ran = true; }, asio::use_awaitable);
          caught = std::error_code{};
        } catch (const std::system_error& e) {
          caught = e.code();
        }
      },
      asio::bind_cancellation_slot(signal.slot(), asio::detached));
  ctx.poll();  // the coroutine is now waiting for its job
  BOOST_TEST(w.queued() == 1u);
  signal.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return caught.has_value(); }));
  BOOST_TEST(*caught == asio::error::operation_aborted);
  BOOST_TEST(w.queued() == 0u);
  g.open();
  w.stop();
  BOOST_TEST(!job_ran);
  // An emit after the worker is gone, before the completion ran, finds
  // nothing to cancel (and touches nothing freed).
  asio::cancellation_signal late;
  std::optional<std::error_code> ended;
  {
    howdy::batch_worker w2(ctx.get_executor());
    w2.async_run([] {}, asio::bind_cancellation_slot(late.slot(), [&](std::error_code ec) { ended = ec; }));
  }  // ran the job and posted its completion
  late.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(run_until(ctx, [&] { return ended.has_value(); }));
  BOOST_TEST(!*ended);
}

BOOST_AUTO_TEST_SUITE_END()
