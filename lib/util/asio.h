#pragma once

// Boost 1.74's Asio needs <utility> before it under C++20 with g++ 12.
#include <utility>

#include <boost/asio.hpp>

namespace presence {

namespace asio = boost::asio;
template <typename T>
using Task = boost::asio::awaitable<T>;

}  // namespace presence
