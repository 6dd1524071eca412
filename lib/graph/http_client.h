#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graph/url.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::graph {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // any HTTP/1.1 method name, e.g. "POST"
  BaseUrl url;                 // scheme, host and port to connect to
  std::string target;          // origin form, e.g. url.Target("/v1.0/me"); "/" when empty
  HttpHeaders headers;         // Host, User-Agent and Content-Length are set by the client
  std::string body;
  // Largest response body this request takes (at most options.body_limit,
  // which applies when 0); the caller knows how large a good answer can be.
  size_t body_limit = 0;
};

struct HttpResponse {
  unsigned status = 0;
  HttpHeaders headers;
  std::string body;

  // The first header of that name (compared case-insensitively), or "".
  std::string_view Header(std::string_view name) const;
};

struct HttpClientOptions {
  // Leads every error message: "graph 127.0.0.1:8900: connection refused".
  std::string label = "graph";
  // Whole request: connect, TLS handshake, write and read of the response.
  std::chrono::milliseconds timeout{10000};
  // Larger response bodies fail with code "too_large"; a request may set a
  // lower limit of its own. Every body is held whole in memory and then
  // parsed, so this is the most one answer can cost: the largest answer any
  // caller takes (a Graph presence batch, kMaxPresenceAnswerBytes).
  size_t body_limit = 1024 * 1024;
  // Idle keep-alive connections kept per host and how long they stay usable.
  size_t max_idle_per_host = 8;
  std::chrono::milliseconds idle_timeout{30000};
  // PEM file of extra trusted CAs (tests); empty means the system store only.
  std::string ca_file;
};

// A small asynchronous HTTP/1.1 client over plain TCP or TLS.
//
// TLS verifies the server's certificate against the system store (plus
// ca_file) and its name against the URL's host, and sends SNI. Connections
// whose response allowed keep-alive, was read to its end and left no byte
// unread behind it are kept and reused per host; a reused connection the
// server had closed is retried once on a new one.
//
// Send returns any HTTP status as a response; a failed Result means no
// complete response arrived. Error codes:
//   "unavailable"   resolve, connect, TLS or I/O failure
//   "timeout"       the request took longer than options.timeout
//   "bad_response"  malformed HTTP
//   "too_large"     a response body over the request's or options.body_limit
//   "bad_request"   the request itself is unusable (unknown method, a CR, LF or
//                   NUL in a header, which would split the request)
// Messages name the label, host and reason:
//   "graph 127.0.0.1:8900: connection refused"
//   "graph 127.0.0.1:8900: timed out after 10000 ms"
//
// Name resolution uses the system resolver, whose own timeouts apply to it.
// Not thread-safe: use it from the io_context's single thread only. The client
// must outlive every Send in progress.
class HttpClient {
 public:
  HttpClient(asio::io_context& io, HttpClientOptions options);
  ~HttpClient();

  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Task<Result<HttpResponse>> Send(HttpRequest request);

  // Idle connections currently kept (for tests and metrics).
  size_t idle_connections() const;

  const HttpClientOptions& options() const { return options_; }

 private:
  class Connection;

  Task<Result<std::unique_ptr<Connection>>> Connect(const BaseUrl& url,
                                                    std::chrono::steady_clock::time_point deadline);
  std::unique_ptr<Connection> TakeIdle(const std::string& key);
  void PutIdle(const std::string& key, std::unique_ptr<Connection> connection);
  Status EnsureTlsContext();

  asio::io_context& io_;
  HttpClientOptions options_;
  struct TlsContext;
  std::unique_ptr<TlsContext> tls_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
};

// "a=1&b=x%20y": application/x-www-form-urlencoded, values percent-encoded.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace presence::graph
