#pragma once

// Helpers for tests that talk HTTP to a server on the same io_context.

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "util/asio.h"

namespace presence::http::testing {

namespace beast = boost::beast;
using asio::ip::tcp;

// Runs `body` on `io` until it finishes (at most `limit`), then calls
// `cleanup` (e.g. Server::Stop) and rethrows what the body threw.
inline void RunTest(asio::io_context& io, std::function<Task<void>()> body,
                    std::function<void()> cleanup = {},
                    std::chrono::seconds limit = std::chrono::seconds(10)) {
  std::exception_ptr failure;
  bool finished = false;
  asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    failure = e;
    finished = true;
    if (cleanup) cleanup();
  });
  io.run_for(limit);
  if (!finished) throw std::runtime_error("test body did not finish in time");
  if (failure) std::rethrow_exception(failure);
}

// Runs one coroutine to completion on a fresh io_context and returns its value.
template <typename T>
T RunTask(std::function<Task<T>()> make) {
  asio::io_context io;
  std::optional<T> out;
  RunTest(io, [&]() -> Task<void> { out = co_await make(); });
  return std::move(*out);
}

struct ClientResponse {
  unsigned status = 0;
  beast::http::fields headers;
  std::string body;
  bool keep_alive = false;

  std::string Header(const char* name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : std::string(it->value().data(), it->value().size());
  }
};

inline Task<tcp::socket> Connect(tcp::endpoint endpoint) {
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect(endpoint, asio::use_awaitable);
  co_return socket;
}

// "METHOD TARGET HTTP/1.1" with Host, Content-Length and `headers` (each
// "Name: value\r\n").
inline std::string RawRequest(const std::string& method, const std::string& target,
                              const std::string& body = "", const std::string& headers = "") {
  std::string text = method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + headers;
  if (!body.empty() || method == "PUT" || method == "POST") {
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return text + "\r\n" + body;
}

// Writes raw request bytes and reads one response from the same socket.
inline Task<ClientResponse> Exchange(tcp::socket& socket, beast::flat_buffer& buffer,
                                     const std::string& raw) {
  co_await asio::async_write(socket, asio::buffer(raw), asio::use_awaitable);
  beast::http::response<beast::http::string_body> message;
  co_await beast::http::async_read(socket, buffer, message, asio::use_awaitable);
  ClientResponse response;
  response.status = message.result_int();
  response.keep_alive = message.keep_alive();
  response.body = message.body();
  response.headers = message.base();
  co_return response;
}

// One request on a new connection.
inline Task<ClientResponse> Fetch(tcp::endpoint endpoint, const std::string& raw) {
  tcp::socket socket = co_await Connect(endpoint);
  beast::flat_buffer buffer;
  co_return co_await Exchange(socket, buffer, raw);
}

// True when the peer closed the connection (a read gives EOF or a reset)
// within `wait`.
inline Task<bool> ClosedByPeer(tcp::socket& socket, std::chrono::milliseconds wait) {
  asio::steady_timer timer(co_await asio::this_coro::executor, wait);
  bool timed_out = false;
  timer.async_wait([&](boost::system::error_code ec) {
    if (!ec) {
      timed_out = true;
      socket.cancel();
    }
  });
  char byte;
  boost::system::error_code ec;
  co_await socket.async_read_some(asio::buffer(&byte, 1),
                                  asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
  co_return !timed_out && ec && ec != asio::error::operation_aborted;
}

}  // namespace presence::http::testing
