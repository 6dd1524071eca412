#pragma once

#include <chrono>

#include "util/asio.h"

namespace presence {

// Suspends the calling coroutine for `duration` on its own executor.
inline Task<void> SleepFor(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(duration);
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

}  // namespace presence
