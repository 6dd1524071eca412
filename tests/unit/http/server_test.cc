#include <catch2/catch.hpp>

#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/server.h"
#include "http_test_client.h"

using namespace std::chrono_literals;
using presence::Task;
using presence::http::MetricsRegistry;
using presence::http::Request;
using presence::http::Response;
using presence::http::Router;
using presence::http::Server;
using presence::http::ServerOptions;
using presence::http::Verb;
namespace asio = presence::asio;
namespace testing = presence::http::testing;

namespace {

// A server on a free loopback port with an echo route, a slow route and a
// route that throws.
struct Fixture {
  explicit Fixture(ServerOptions options = {}) : server(io, Prepare(options), router, &metrics) {
    router.Add(Verb::put, "/echo", [](const Request& request) -> Task<Response> {
      Response response;
      response.body = request.body;
      response.SetHeader("X-Query", request.query);
      co_return response;
    });
    router.Add(Verb::get, "/slow", [this](const Request&) -> Task<Response> {
      asio::steady_timer timer(io, 300ms);
      co_await timer.async_wait(asio::use_awaitable);
      Response response;
      response.body = "slow";
      co_return response;
    });
    router.Add(Verb::get, "/throw", [](const Request&) -> Task<Response> {
      throw std::runtime_error("boom");
      co_return Response{};
    });
    REQUIRE(server.Start().ok());
    endpoint = server.local_endpoint();
  }

  static ServerOptions Prepare(ServerOptions options) {
    options.listen = "127.0.0.1:0";
    return options;
  }

  void Run(std::function<Task<void>()> body) {
    testing::RunTest(io, std::move(body), [this] { server.Stop(); });
  }

  asio::io_context io;
  Router router;
  MetricsRegistry metrics;
  Server server;
  asio::ip::tcp::endpoint endpoint;
};

std::string ErrorCode(const testing::ClientResponse& response) {
  return nlohmann::json::parse(response.body)["error"]["code"];
}

}  // namespace

TEST_CASE("listen addresses are parsed and resolved", "[http][server]") {
  using presence::http::ResolveListenAddress;
  CHECK(ResolveListenAddress("127.0.0.1:8080").value().port() == 8080);
  CHECK(ResolveListenAddress("[::1]:0").value().address().is_v6());
  CHECK(ResolveListenAddress(":80").value().address().to_string() == "0.0.0.0");
  CHECK(ResolveListenAddress("localhost:1").ok());
  CHECK_FALSE(ResolveListenAddress("127.0.0.1").ok());
  CHECK_FALSE(ResolveListenAddress("127.0.0.1:65536").ok());
  CHECK_FALSE(ResolveListenAddress("127.0.0.1:x").ok());
  CHECK(ResolveListenAddress("127.0.0.1:").error().message.find("127.0.0.1:") != std::string::npos);
}

TEST_CASE("a second server on a busy port fails with a clear message", "[http][server]") {
  Fixture fixture;
  asio::io_context io;
  Router router;
  ServerOptions options;
  options.listen = "127.0.0.1:" + std::to_string(fixture.endpoint.port());
  Server second(io, options, router, nullptr);
  auto status = second.Start();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message.find(options.listen) != std::string::npos);
}

TEST_CASE("requests on one keep-alive connection are answered in turn", "[http][server]") {
  Fixture fixture;
  fixture.Run([&]() -> Task<void> {
    auto socket = co_await testing::Connect(fixture.endpoint);
    boost::beast::flat_buffer buffer;
    auto first = co_await testing::Exchange(socket, buffer,
                                            testing::RawRequest("PUT", "/echo?a=1", "hello"));
    CHECK(first.status == 200);
    CHECK(first.body == "hello");
    CHECK(first.Header("X-Query") == "a=1");
    CHECK(first.keep_alive);
    CHECK(fixture.server.connections() == 1);

    auto second = co_await testing::Exchange(socket, buffer, testing::RawRequest("GET", "/none"));
    CHECK(second.status == 404);
    CHECK(second.Header("Content-Type") == "application/json");
    CHECK(ErrorCode(second) == "not_found");

    auto third = co_await testing::Exchange(socket, buffer, testing::RawRequest("GET", "/echo"));
    CHECK(third.status == 405);
    CHECK(third.Header("Allow") == "PUT");
  });
  CHECK(fixture.metrics.Value("presence_http_requests_total",
                              {{"method", "PUT"}, {"route", "/echo"}, {"status", "200"}}) == 1);
  CHECK(fixture.metrics.Value("presence_http_requests_total",
                              {{"method", "GET"}, {"route", "unmatched"}, {"status", "404"}}) == 1);
  CHECK(fixture.metrics.Value("presence_http_connections_total") == 1);
}

TEST_CASE("Connection: close is honoured on HTTP/1.1", "[http][server]") {
  // Regression: keep_alive() was read after the header had moved into the
  // request, so every HTTP/1.1 request counted as keep-alive.
  Fixture fixture;
  fixture.Run([&]() -> Task<void> {
    auto socket = co_await testing::Connect(fixture.endpoint);
    boost::beast::flat_buffer buffer;
    auto response = co_await testing::Exchange(
        socket, buffer,
        "PUT /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi");
    CHECK(response.status == 200);
    CHECK_FALSE(response.keep_alive);
    bool closed = co_await testing::ClosedByPeer(socket, 2000ms);
    CHECK(closed);
  });
}

TEST_CASE("a body over max_body_bytes gets 413 and the connection closes", "[http][server]") {
  ServerOptions options;
  options.max_body_bytes = 10;
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    // Declared by Content-Length.
    auto socket = co_await testing::Connect(fixture.endpoint);
    boost::beast::flat_buffer buffer;
    auto response = co_await testing::Exchange(
        socket, buffer, testing::RawRequest("PUT", "/echo", std::string(100, 'x')));
    CHECK(response.status == 413);
    CHECK(ErrorCode(response) == "payload_too_large");
    CHECK_FALSE(response.keep_alive);
    bool closed = co_await testing::ClosedByPeer(socket, 2000ms);
    CHECK(closed);

    // Chunked, found out while reading.
    auto chunked = co_await testing::Fetch(
        fixture.endpoint,
        "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n");
    CHECK(chunked.status == 413);

    // Exactly at the limit is fine.
    auto fits = co_await testing::Fetch(fixture.endpoint,
                                        testing::RawRequest("PUT", "/echo", "0123456789"));
    CHECK(fits.status == 200);
  });
}

TEST_CASE("an oversized header gets 431", "[http][server]") {
  ServerOptions options;
  options.max_header_bytes = 1024;
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    auto response = co_await testing::Fetch(
        fixture.endpoint,
        testing::RawRequest("GET", "/slow", "", "X-Big: " + std::string(4000, 'a') + "\r\n"));
    CHECK(response.status == 431);
    CHECK(ErrorCode(response) == "headers_too_large");
  });
}

TEST_CASE("a malformed request gets 400 and a throwing handler 500", "[http][server]") {
  Fixture fixture;
  fixture.Run([&]() -> Task<void> {
    auto bad = co_await testing::Fetch(fixture.endpoint, "GET /x HTTP/9\r\n\r\n");
    CHECK(bad.status == 400);
    CHECK(ErrorCode(bad) == "bad_request");

    auto thrown = co_await testing::Fetch(fixture.endpoint, testing::RawRequest("GET", "/throw"));
    CHECK(thrown.status == 500);
    CHECK(ErrorCode(thrown) == "internal_error");
  });
}

TEST_CASE("Expect: 100-continue is honoured", "[http][server]") {
  Fixture fixture;
  fixture.Run([&]() -> Task<void> {
    auto socket = co_await testing::Connect(fixture.endpoint);
    std::string head =
        "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(head), asio::use_awaitable);
    boost::beast::flat_buffer buffer;
    boost::beast::http::response_parser<boost::beast::http::empty_body> interim;
    co_await boost::beast::http::async_read_header(socket, buffer, interim, asio::use_awaitable);
    CHECK(interim.get().result_int() == 100);
    auto response = co_await testing::Exchange(socket, buffer, "ok");
    CHECK(response.status == 200);
    CHECK(response.body == "ok");
  });
}

TEST_CASE("a slow client is cut after read_timeout", "[http][server]") {
  ServerOptions options;
  options.read_timeout = 200ms;
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    auto socket = co_await testing::Connect(fixture.endpoint);
    std::string partial = "GET /slow HTTP/1.1\r\nHost: t\r\n";  // never finished
    co_await asio::async_write(socket, asio::buffer(partial), asio::use_awaitable);
    auto started = std::chrono::steady_clock::now();
    bool closed = co_await testing::ClosedByPeer(socket, 2000ms);
    CHECK(closed);
    CHECK(std::chrono::steady_clock::now() - started < 1000ms);
  });
}

TEST_CASE("an idle keep-alive connection is closed after idle_timeout", "[http][server]") {
  ServerOptions options;
  options.idle_timeout = 200ms;
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    auto socket = co_await testing::Connect(fixture.endpoint);
    bool closed = co_await testing::ClosedByPeer(socket, 2000ms);
    CHECK(closed);
  });
}

TEST_CASE("Stop closes idle connections and lets in-flight requests finish", "[http][server]") {
  Fixture fixture;
  fixture.Run([&]() -> Task<void> {
    auto idle = co_await testing::Connect(fixture.endpoint);
    auto busy = co_await testing::Connect(fixture.endpoint);
    std::string raw = testing::RawRequest("GET", "/slow");
    co_await asio::async_write(busy, asio::buffer(raw), asio::use_awaitable);

    // Let the server read the slow request, then stop.
    asio::steady_timer pause(fixture.io, 100ms);
    co_await pause.async_wait(asio::use_awaitable);
    CHECK(fixture.server.connections() == 2);
    fixture.server.Stop();

    bool idle_closed = co_await testing::ClosedByPeer(idle, 1000ms);
    CHECK(idle_closed);
    boost::beast::flat_buffer buffer;
    boost::beast::http::response<boost::beast::http::string_body> response;
    co_await boost::beast::http::async_read(busy, buffer, response, asio::use_awaitable);
    CHECK(response.result_int() == 200);
    CHECK(response.body() == "slow");
    CHECK_FALSE(response.keep_alive());

    co_await fixture.server.Drain(2000ms);
    CHECK(fixture.server.connections() == 0);

    // No longer accepting.
    boost::system::error_code ec;
    asio::ip::tcp::socket late(fixture.io);
    co_await late.async_connect(fixture.endpoint, asio::redirect_error(asio::use_awaitable, ec));
    CHECK(ec);
  });
}

TEST_CASE("more header fields than max_headers get 431", "[http][server][limits]") {
  ServerOptions options;
  options.max_headers = 10;
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    // Host plus 9 more: 10 fields, at the limit.
    std::string nine;
    for (int i = 0; i < 9; ++i) nine += "X-F" + std::to_string(i) + ": v\r\n";
    auto fits =
        co_await testing::Fetch(fixture.endpoint, testing::RawRequest("GET", "/none", "", nine));
    CHECK(fits.status == 404);

    auto refused = co_await testing::Fetch(
        fixture.endpoint, testing::RawRequest("GET", "/none", "", nine + "X-Last: v\r\n"));
    CHECK(refused.status == 431);
    CHECK(ErrorCode(refused) == "too_many_headers");
    CHECK(refused.body.find("11 header fields, at most 10") != std::string::npos);
    CHECK_FALSE(refused.keep_alive);
  });
}

TEST_CASE("requests whose framing is ambiguous get 400 and are not served",
          "[http][server][limits]") {
  Fixture fixture;
  fixture.Run([&]() -> Task<void> {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"TE and CL",
         "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n"
         "\r\n0\r\n\r\n"},
        {"CL and TE",
         "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n"
         "\r\n0\r\n\r\n"},
        {"TE not chunked", "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nab"},
        {"TE gzip, chunked",
         "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
        {"TE twice",
         "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {"CL twice, equal",
         "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"},
        {"CL twice, different",
         "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"},
        {"Host twice", "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
        {"no Host", "PUT /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nab"},
    };
    for (const auto& [name, raw] : cases) {
      INFO(name);
      auto response = co_await testing::Fetch(fixture.endpoint, raw);
      CHECK(response.status == 400);
      CHECK(ErrorCode(response) == "bad_request");
      CHECK_FALSE(response.keep_alive);
    }
    // HTTP/1.0 needs no Host.
    auto old = co_await testing::Fetch(fixture.endpoint,
                                       "PUT /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nok");
    CHECK(old.status == 200);
    CHECK(old.body == "ok");
  });
  // None of them reached the handler.
  CHECK(fixture.metrics.Value("presence_http_requests_total",
                              {{"method", "PUT"}, {"route", "/echo"}, {"status", "200"}}) == 1);
}

TEST_CASE("a new connection that sends nothing is cut after read_timeout",
          "[http][server][limits]") {
  ServerOptions options;
  options.read_timeout = 200ms;  // idle_timeout stays 60 s
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    auto silent = co_await testing::Connect(fixture.endpoint);
    auto started = std::chrono::steady_clock::now();
    bool closed = co_await testing::ClosedByPeer(silent, 3000ms);
    CHECK(closed);
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);
  });
}

TEST_CASE("a slowloris client is cut after read_timeout while others are served",
          "[http][server][limits]") {
  ServerOptions options;
  options.read_timeout = 500ms;
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    auto slow = co_await testing::Connect(fixture.endpoint);
    const std::string raw = testing::RawRequest("GET", "/none", "", "X-Pad: aaaaaaaaaa\r\n");
    auto started = std::chrono::steady_clock::now();
    boost::system::error_code ec;
    size_t sent = 0;
    for (; sent < raw.size() && !ec; ++sent) {
      co_await asio::async_write(slow, asio::buffer(raw.data() + sent, 1),
                                 asio::redirect_error(asio::use_awaitable, ec));
      // Meanwhile the server answers another client at once.
      if (sent == 2) {
        auto other = co_await testing::Fetch(fixture.endpoint, testing::RawRequest("GET", "/x"));
        CHECK(other.status == 404);
      }
      asio::steady_timer pause(fixture.io, 50ms);
      co_await pause.async_wait(asio::use_awaitable);
      if (std::chrono::steady_clock::now() - started > 1500ms) break;
    }
    CHECK(sent < raw.size());  // cut before the request was complete
    bool closed = static_cast<bool>(ec);
    if (!closed) closed = co_await testing::ClosedByPeer(slow, 2000ms);
    CHECK(closed);
    CHECK(std::chrono::steady_clock::now() - started < 1500ms);
  });
}

TEST_CASE("a connection beyond max_connections gets 503 and is closed", "[http][server][limits]") {
  ServerOptions options;
  options.max_connections = 2;
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    auto first = co_await testing::Connect(fixture.endpoint);
    auto second = co_await testing::Connect(fixture.endpoint);
    for (int i = 0; i < 100 && fixture.server.connections() < 2; ++i) {
      asio::steady_timer pause(fixture.io, 10ms);
      co_await pause.async_wait(asio::use_awaitable);
    }
    REQUIRE(fixture.server.connections() == 2);

    auto third = co_await testing::Connect(fixture.endpoint);
    boost::beast::flat_buffer buffer;
    boost::beast::http::response<boost::beast::http::string_body> refused;
    co_await boost::beast::http::async_read(third, buffer, refused, asio::use_awaitable);
    CHECK(refused.result_int() == 503);
    CHECK(nlohmann::json::parse(refused.body())["error"]["code"] == "too_many_connections");
    CHECK(refused["Retry-After"] == "1");
    CHECK_FALSE(refused.keep_alive());

    // Once one closes, a new connection is served again.
    first.close();
    for (int i = 0; i < 100 && fixture.server.connections() > 1; ++i) {
      asio::steady_timer pause(fixture.io, 10ms);
      co_await pause.async_wait(asio::use_awaitable);
    }
    auto served = co_await testing::Fetch(fixture.endpoint, testing::RawRequest("GET", "/x"));
    CHECK(served.status == 404);
  });
  CHECK(fixture.metrics.Value("presence_http_connections_rejected_total") == 1);
}

TEST_CASE("a header over max_header_bytes in many small fields gets 431",
          "[http][server][limits]") {
  ServerOptions options;
  options.max_header_bytes = 2048;
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    // 20 fields of about 120 bytes: each read is small, the whole is 2400 bytes.
    std::string fields;
    for (int i = 0; i < 20; ++i)
      fields += "X-F" + std::to_string(i) + ": " + std::string(110, 'f') + "\r\n";
    auto refused =
        co_await testing::Fetch(fixture.endpoint, testing::RawRequest("GET", "/none", "", fields));
    CHECK(refused.status == 431);
    CHECK(ErrorCode(refused) == "headers_too_large");
  });
}

TEST_CASE("trailer fields after a chunked body get 400 and are not served",
          "[http][server][limits]") {
  Fixture fixture;
  fixture.Run([&]() -> Task<void> {
    // A trailer would add a second Content-Length (or Host) after the header checks.
    const std::string with_trailer =
        "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "2\r\nab\r\n0\r\nContent-Length: 5\r\nX-Late: yes\r\n\r\n";
    auto refused = co_await testing::Fetch(fixture.endpoint, with_trailer);
    CHECK(refused.status == 400);
    CHECK(ErrorCode(refused) == "bad_request");
    CHECK_FALSE(refused.keep_alive);

    // The same body without trailers is served.
    auto served = co_await testing::Fetch(
        fixture.endpoint,
        "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n");
    CHECK(served.status == 200);
    CHECK(served.body == "ab");
  });
  CHECK(fixture.metrics.Value("presence_http_requests_total",
                              {{"method", "PUT"}, {"route", "/echo"}, {"status", "200"}}) == 1);
}

TEST_CASE("a header line Beast cannot hold closes that connection only", "[http][server][limits]") {
  // Beyond the config range (at most 65535): Beast 1.74 throws std::length_error
  // for a field over 65535 bytes, from inside the parser.
  ServerOptions options;
  options.max_header_bytes = 1 << 20;
  Fixture fixture(options);
  fixture.Run([&]() -> Task<void> {
    // Another client's keep-alive connection, open while it happens.
    auto other = co_await testing::Connect(fixture.endpoint);
    boost::beast::flat_buffer other_buffer;
    auto first = co_await testing::Exchange(other, other_buffer, testing::RawRequest("GET", "/x"));
    CHECK(first.status == 404);

    auto refused = co_await testing::Fetch(
        fixture.endpoint,
        testing::RawRequest("GET", "/x", "", "X-Big: " + std::string(70000, 'a') + "\r\n"));
    CHECK(refused.status == 400);
    CHECK(ErrorCode(refused) == "bad_request");
    CHECK_FALSE(refused.keep_alive);

    // The server goes on: the open connection and new ones are served.
    auto again = co_await testing::Exchange(other, other_buffer, testing::RawRequest("GET", "/x"));
    CHECK(again.status == 404);
    auto fresh = co_await testing::Fetch(fixture.endpoint, testing::RawRequest("GET", "/x"));
    CHECK(fresh.status == 404);
  });
}
