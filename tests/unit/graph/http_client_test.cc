#include "graph/http_client.h"

#include <functional>
#include <optional>

#include <fmt/format.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

namespace presence::graph {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// A tiny HTTP server on 127.0.0.1:<free port> whose answers depend on the target:
//   /echo   200 with "METHOD TARGET HOST|BODY", keep-alive
//   /big    200 with a 4096-byte body
//   /slow   never answers
//   /close  200 with Connection: close
//   /drop   200 claiming keep-alive, then closes the connection
//   /status/N  N with Retry-After: 3
//   /extra  200 "first", keep-alive, and in the same write a second response
//           "smuggled" that no request asked for
class TestServer {
 public:
  explicit TestServer(asio::io_context& io) : io_(io), acceptor_(io, {tcp::v4(), 0}) {
    asio::co_spawn(io_, Accept(), asio::detached);
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int connections() const { return connections_; }
  void Stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

 private:
  Task<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++connections_;
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }

  Task<void> Serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      boost::system::error_code ec;
      http::request<http::string_body> request;
      co_await http::async_read(socket, buffer, request,
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      std::string target(request.target());

      http::response<http::string_body> response{http::status::ok, 11};
      response.keep_alive(true);
      if (target == "/slow") {
        asio::steady_timer timer(io_, std::chrono::seconds(5));
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      } else if (target == "/big") {
        response.body() = std::string(4096, 'x');
      } else if (target == "/close") {
        response.keep_alive(false);
        response.body() = "bye";
      } else if (target == "/extra") {
        const std::string both =
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"
            "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled";
        co_await asio::async_write(socket, asio::buffer(both),
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        continue;
      } else if (target.rfind("/status/", 0) == 0) {
        response.result(std::stoi(target.substr(8)));
        response.set("Retry-After", "3");
      } else {
        response.set("X-Test", "yes");
        response.body() = fmt::format("{} {} {}|{}", std::string(request.method_string()), target,
                                      std::string(request[http::field::host]), request.body());
      }
      response.prepare_payload();
      co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !response.keep_alive() || target == "/drop") co_return;
    }
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  int connections_ = 0;
};

BaseUrl LocalUrl(uint16_t port, std::string scheme = "http") {
  auto url = ParseBaseUrl(fmt::format("{}://127.0.0.1:{}", scheme, port));
  REQUIRE(url.ok());
  return url.value();
}

HttpRequest Request(const BaseUrl& url, std::string target, std::string method = "GET",
                    std::string body = "") {
  HttpRequest request;
  request.method = std::move(method);
  request.url = url;
  request.target = std::move(target);
  request.body = std::move(body);
  return request;
}

// Runs the coroutine to its end on io and returns its value.
template <typename T>
T Run(asio::io_context& io, std::function<Task<T>()> body) {
  std::optional<T> out;
  asio::co_spawn(
      io, [&]() -> Task<void> { out.emplace(co_await body()); }, asio::detached);
  while (!out && io.run_one_for(std::chrono::seconds(10)) > 0) {
  }
  REQUIRE(out.has_value());
  return std::move(*out);
}

HttpClientOptions Options() {
  HttpClientOptions options;
  options.label = "graph";
  options.timeout = std::chrono::milliseconds(2000);
  return options;
}

TEST_CASE("http client: a POST is answered with status, headers and body", "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io, Options());
  BaseUrl url = LocalUrl(server.port());

  auto request = Request(url, "/echo", "POST", "{\"ids\":[]}");
  request.headers = {{"Content-Type", "application/json"}};
  auto response = Run<Result<HttpResponse>>(io, [&] { return client.Send(request); });
  REQUIRE(response.ok());
  CHECK(response->status == 200);
  CHECK(response->Header("x-test") == "yes");
  CHECK(response->Header("missing").empty());
  CHECK(response->body == fmt::format("POST /echo 127.0.0.1:{}|{{\"ids\":[]}}", server.port()));
}

TEST_CASE("http client: keep-alive connections are reused", "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io, Options());
  BaseUrl url = LocalUrl(server.port());

  for (int i = 0; i < 3; ++i) {
    auto response =
        Run<Result<HttpResponse>>(io, [&] { return client.Send(Request(url, "/echo")); });
    REQUIRE(response.ok());
  }
  CHECK(server.connections() == 1);
  CHECK(client.idle_connections() == 1);

  // Connection: close is honoured.
  auto closed = Run<Result<HttpResponse>>(io, [&] { return client.Send(Request(url, "/close")); });
  REQUIRE(closed.ok());
  CHECK(closed->body == "bye");
  CHECK(client.idle_connections() == 0);
}

TEST_CASE("http client: a kept connection the server closed is retried on a new one",
          "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io, Options());
  BaseUrl url = LocalUrl(server.port());

  auto first = Run<Result<HttpResponse>>(io, [&] { return client.Send(Request(url, "/drop")); });
  REQUIRE(first.ok());
  CHECK(client.idle_connections() == 1);
  auto second = Run<Result<HttpResponse>>(io, [&] { return client.Send(Request(url, "/echo")); });
  REQUIRE(second.ok());
  CHECK(second->status == 200);
  CHECK(server.connections() == 2);
}

TEST_CASE("http client: any status is a response", "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io, Options());
  BaseUrl url = LocalUrl(server.port());

  auto response =
      Run<Result<HttpResponse>>(io, [&] { return client.Send(Request(url, "/status/429")); });
  REQUIRE(response.ok());
  CHECK(response->status == 429);
  CHECK(response->Header("Retry-After") == "3");
}

TEST_CASE("http client: a refused connection names the host and the reason", "[graph][http]") {
  asio::io_context io;
  uint16_t port;
  {
    tcp::acceptor probe(io, {tcp::v4(), 0});
    port = probe.local_endpoint().port();
  }
  HttpClient client(io, Options());
  auto response =
      Run<Result<HttpResponse>>(io, [&] { return client.Send(Request(LocalUrl(port), "/echo")); });
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == "unavailable");
  CHECK(response.error().message == fmt::format("graph 127.0.0.1:{}: connection refused", port));
}

TEST_CASE("http client: a slow answer times out", "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClientOptions options = Options();
  options.timeout = std::chrono::milliseconds(200);
  HttpClient client(io, options);

  auto response = Run<Result<HttpResponse>>(
      io, [&] { return client.Send(Request(LocalUrl(server.port()), "/slow")); });
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == "timeout");
  CHECK(response.error().message ==
        fmt::format("graph 127.0.0.1:{}: timed out after 200 ms", server.port()));
  server.Stop();
}

TEST_CASE("http client: a body over the limit is refused", "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClientOptions options = Options();
  options.body_limit = 1024;
  HttpClient client(io, options);

  auto response = Run<Result<HttpResponse>>(
      io, [&] { return client.Send(Request(LocalUrl(server.port()), "/big")); });
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == "too_large");
  CHECK_THAT(response.error().message, Catch::EndsWith("response body larger than 1024 bytes"));
}

TEST_CASE("http client: a request's own body limit applies", "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io, Options());  // the default limit takes /big (4096 bytes)

  HttpRequest request = Request(LocalUrl(server.port()), "/big");
  request.body_limit = 1024;
  auto refused = Run<Result<HttpResponse>>(io, [&] { return client.Send(request); });
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == "too_large");
  CHECK_THAT(refused.error().message, Catch::EndsWith("response body larger than 1024 bytes"));

  request.body_limit = 4096;
  auto taken = Run<Result<HttpResponse>>(io, [&] { return client.Send(request); });
  REQUIRE(taken.ok());
  CHECK(taken->body.size() == 4096);
}

TEST_CASE("http client: a connection with bytes after the response is not reused",
          "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io, Options());
  BaseUrl url = LocalUrl(server.port());

  auto first = Run<Result<HttpResponse>>(io, [&] { return client.Send(Request(url, "/extra")); });
  REQUIRE(first.ok());
  CHECK(first->body == "first");
  CHECK(client.idle_connections() == 0);

  // The next request gets its own answer, never the smuggled one.
  auto second = Run<Result<HttpResponse>>(io, [&] { return client.Send(Request(url, "/echo")); });
  REQUIRE(second.ok());
  CHECK(second->body.rfind("GET /echo ", 0) == 0);
  CHECK(server.connections() == 2);
}

TEST_CASE("http client: a header value with CR or LF is refused, not sent", "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io, Options());

  const std::vector<std::string> values = {"Bearer t\r\nX-Injected: yes", "Bearer t\nX: y",
                                           "Bearer t\r", std::string("Bearer t\0x", 10)};
  for (const std::string& value : values) {
    HttpRequest request = Request(LocalUrl(server.port()), "/echo");
    request.headers = {{"Authorization", value}};
    auto response = Run<Result<HttpResponse>>(io, [&] { return client.Send(request); });
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().code == "bad_request");
    CHECK(response.error().message.find("Bearer") == std::string::npos);
  }
  CHECK(server.connections() == 0);
}

TEST_CASE("http client: TLS to a plain server fails in the handshake", "[graph][http]") {
  asio::io_context io;
  TestServer server(io);
  HttpClient client(io, Options());

  auto response = Run<Result<HttpResponse>>(
      io, [&] { return client.Send(Request(LocalUrl(server.port(), "https"), "/echo")); });
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == "unavailable");
  CHECK_THAT(response.error().message,
             Catch::StartsWith(fmt::format("graph 127.0.0.1:{}: TLS handshake: ", server.port())));
}

TEST_CASE("http client: an unknown method is refused", "[graph][http]") {
  asio::io_context io;
  HttpClient client(io, Options());
  auto response =
      Run<Result<HttpResponse>>(io, [&] { return client.Send(Request(LocalUrl(1), "/", "FROB")); });
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().code == "bad_request");
}

}  // namespace
}  // namespace presence::graph
