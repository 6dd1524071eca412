#pragma once

#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "util/asio.h"

namespace presence {

namespace detail {

// Counts finished tasks and wakes the waiting coroutine after the last one.
class Latch {
 public:
  Latch(asio::any_io_executor executor, size_t count) : done_(executor), remaining_(count) {
    done_.expires_at(asio::steady_timer::time_point::max());
  }
  void CountDown() {
    if (--remaining_ == 0) done_.cancel();
  }
  Task<void> Wait() {
    if (remaining_ == 0) co_return;
    boost::system::error_code ignored;
    co_await done_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

 private:
  asio::steady_timer done_;
  size_t remaining_;
};

}  // namespace detail

// Runs the tasks concurrently on the current executor and returns their
// results in order once all have finished. With the pipelined Redis client
// this turns N independent calls into one round trip. The tasks must not
// throw, and must not refer to temporaries of the caller: they start only
// after WhenAll is awaited, so coroutines given here take parameters by value.
template <typename T>
Task<std::vector<T>> WhenAll(std::vector<Task<T>> tasks) {
  auto executor = co_await asio::this_coro::executor;
  auto latch = std::make_shared<detail::Latch>(executor, tasks.size());
  auto results = std::make_shared<std::vector<std::optional<T>>>(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) {
    asio::co_spawn(
        executor,
        [latch, results, i, task = std::move(tasks[i])]() mutable -> Task<void> {
          (*results)[i].emplace(co_await std::move(task));
          latch->CountDown();
        },
        asio::detached);
  }
  co_await latch->Wait();

  std::vector<T> out;
  out.reserve(results->size());
  for (auto& r : *results) out.push_back(std::move(*r));
  co_return out;
}

// The same for tasks without a result.
inline Task<void> WhenAll(std::vector<Task<void>> tasks) {
  auto executor = co_await asio::this_coro::executor;
  auto latch = std::make_shared<detail::Latch>(executor, tasks.size());
  for (auto& task : tasks) {
    asio::co_spawn(
        executor,
        [latch, task = std::move(task)]() mutable -> Task<void> {
          co_await std::move(task);
          latch->CountDown();
        },
        asio::detached);
  }
  co_await latch->Wait();
}

}  // namespace presence
