#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/metrics.h"
#include "http/router.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::http {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";  // "host:port", "[v6]:port"; port 0 picks a free one
  uint64_t max_body_bytes = 65536;        // larger bodies get 413 payload_too_large
  // Larger headers get 431 headers_too_large. At most 65535 (the config
  // range): Beast throws on a longer header line, and that request then gets
  // 400 bad_request and its connection is closed.
  uint32_t max_header_bytes = 16384;
  uint32_t max_headers = 100;  // more header fields get 431 too_many_headers
  // Beyond this, a new connection gets 503 too_many_connections and is closed.
  uint32_t max_connections = 10000;
  // Once the first byte of a request arrived, the whole request (header and
  // body) must arrive within this time, else the connection is cut. On a new
  // connection the time starts when it is accepted, so connections that send
  // nothing (or a byte now and then) are cut after this time too.
  std::chrono::milliseconds read_timeout{10000};
  // An idle keep-alive connection is closed after this time.
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{10000};
};

// Resolves a listen address: "127.0.0.1:8080", "localhost:80", "[::1]:0",
// ":8080" (all IPv4 interfaces). Errors name the address and the reason.
Result<asio::ip::tcp::endpoint> ResolveListenAddress(std::string_view listen);

// An HTTP/1.1 server on one io_context: one coroutine per connection,
// keep-alive, bounded header and body, read/idle/write timeouts. Requests are
// answered by the Router; a handler that throws gets 500 internal_error.
//
// Requests whose framing could be read two ways are refused with 400
// bad_request before their body is read, so that no proxy in front can be
// made to see other request boundaries than this server (request smuggling):
// Transfer-Encoding together with Content-Length, a Transfer-Encoding other
// than "chunked", Content-Length or Host given twice, an HTTP/1.1 request
// without Host. A refused request closes its connection.
//
// Metrics (when a registry is given): presence_http_requests_total{method,
// route,status}, presence_http_request_duration_seconds{method,route} (a
// histogram), presence_http_connections (open now),
// presence_http_connections_total (accepted), presence_http_connections_
// rejected_total (over max_connections).
//
// Logs go to Logger("http"). Every method must be called on the io_context's
// thread. The router and the registry must outlive the server. Destroy the
// server only after Drain() returned (or after the io_context stopped
// running).
class ServerCore;

class Server {
 public:
  Server(asio::io_context& io, ServerOptions options, const Router& router,
         MetricsRegistry* metrics);
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts accepting. The error names the address.
  Status Start();

  // Stops accepting, closes idle connections at once and lets every request
  // already being read or handled finish; its response carries
  // "Connection: close". Returns at once; see Drain().
  void Stop();

  // After Stop(): waits until every connection has closed, or until `timeout`
  // passed, then closes whatever is left.
  Task<void> Drain(std::chrono::milliseconds timeout);

  // Open connections now.
  size_t connections() const;

  // The bound address (with the real port when 0 was asked for). Valid after Start().
  asio::ip::tcp::endpoint local_endpoint() const;

 private:
  std::shared_ptr<ServerCore> core_;
};

}  // namespace presence::http
