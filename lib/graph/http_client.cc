#include "graph/http_client.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#ifndef PRESENCE_VERSION
#define PRESENCE_VERSION "dev"
#endif

namespace presence::graph {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct HttpClient::TlsContext {
  ssl::context context{ssl::context::tls_client};
};

// One connection: plain TCP, or TLS over TCP once the handshake is done.
class HttpClient::Connection {
 public:
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Errors that mean a kept connection had been closed by the server meanwhile.
bool IsClosedByPeer(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == boost::asio::error::eof ||
         ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe ||
         ec == boost::asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

Error Failure(const HttpClientOptions& options, const BaseUrl& url, const error_code& ec,
              std::string_view during = "", size_t body_limit = 0) {
  std::string code = "unavailable";
  std::string reason;
  if (ec == beast::error::timeout) {
    code = "timeout";
    reason = fmt::format("timed out after {} ms", options.timeout.count());
  } else if (ec == http::error::body_limit) {
    code = "too_large";
    reason = fmt::format("response body larger than {} bytes",
                         body_limit != 0 ? body_limit : options.body_limit);
  } else if (ec == boost::asio::error::connection_refused) {
    reason = "connection refused";
  } else if (ec == boost::asio::error::connection_reset) {
    reason = "connection reset by peer";
  } else if (IsClosedByPeer(ec)) {
    reason = "connection closed by peer";
  } else if (ec == boost::asio::error::host_not_found ||
             ec == boost::asio::error::host_not_found_try_again) {
    reason = "host not found";
  } else {
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
      code = "bad_response";
    }
    reason = ec.message();
  }
  if (!during.empty()) reason = fmt::format("{}: {}", during, reason);
  return MakeError(code, fmt::format("{} {}: {}", options.label, url.Authority(), reason));
}

// A header name for a message: bytes that are not visible ASCII as '?'.
std::string Printable(std::string_view text) {
  std::string out(text.substr(0, 64));
  for (char& c : out) {
    if (c <= ' ' || c > '~') c = '?';
  }
  return out;
}

bool IsIpAddress(const std::string& host) {
  error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

template <class Stream>
Task<error_code> Exchange(Stream& stream, beast::flat_buffer& buffer,
                          http::request<http::string_body>& request,
                          http::response_parser<http::string_body>& parser, size_t body_limit) {
  error_code ec;
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  co_await http::async_read_header(stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;

  // Boost 1.74's parser lets a Content-Length over its body limit through when
  // the header arrives apart from the body, so that case is refused here.
  auto length = parser.content_length();  // boost::optional
  if (length && *length > body_limit) co_return make_error_code(http::error::body_limit);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  co_return ec;
}

HttpResponse ToResponse(http::response<http::string_body>&& message) {
  HttpResponse response;
  response.status = message.result_int();
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  return response;
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return {};
}

HttpClient::HttpClient(asio::io_context& io, HttpClientOptions options)
    : io_(io), options_(std::move(options)) {}

HttpClient::~HttpClient() = default;

size_t HttpClient::idle_connections() const {
  size_t count = 0;
  for (const auto& [key, connections] : idle_) count += connections.size();
  return count;
}

Task<Result<HttpResponse>> HttpClient::Send(HttpRequest request) {
  const BaseUrl& url = request.url;
  const size_t body_limit = request.body_limit != 0
                                ? std::min(request.body_limit, options_.body_limit)
                                : options_.body_limit;

  // The HTTP/1.1 message.
  http::verb verb = http::string_to_verb(request.method);
  if (verb == http::verb::unknown) {
    co_return MakeError("bad_request",
                        fmt::format("{} {}: unknown HTTP method \"{}\"", options_.label,
                                    url.Authority(), request.method));
  }
  // A CR, LF or NUL in a header would end it early and start another one, or
  // another request (request splitting): refused rather than sent.
  for (const auto& [name, value] : request.headers) {
    if (name.find_first_of(std::string_view("\r\n\0:", 4)) != std::string::npos ||
        value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      co_return MakeError("bad_request",
                          fmt::format("{} {}: header \"{}\" has a character a header cannot hold",
                                      options_.label, url.Authority(), Printable(name)));
    }
  }
  http::request<http::string_body> message{
      verb, request.target.empty() ? std::string("/") : request.target, 11};
  message.set(http::field::host, url.HostHeader());
  message.set(http::field::user_agent, "presenced/" PRESENCE_VERSION);
  for (const auto& [name, value] : request.headers) message.insert(name, value);
  message.body() = std::move(request.body);
  message.keep_alive(true);
  message.prepare_payload();

  // A kept connection first; when the server had closed it, once more on a new one.
  const std::string key = url.scheme + "://" + url.Authority();
  const Clock::time_point deadline = Clock::now() + options_.timeout;
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> connection = attempt == 0 ? TakeIdle(key) : nullptr;
    const bool reused = connection != nullptr;
    if (!reused) {
      Result<std::unique_ptr<Connection>> connected = co_await Connect(url, deadline);
      if (!connected.ok()) co_return connected.error();
      connection = std::move(connected).value();
    }

    connection->tcp().expires_at(deadline);
    http::response_parser<http::string_body> parser;
    parser.body_limit(body_limit);
    error_code ec;
    if (connection->tls) {
      ec = co_await Exchange(*connection->tls, connection->buffer, message, parser, body_limit);
    } else {
      ec = co_await Exchange(*connection->plain, connection->buffer, message, parser, body_limit);
    }
    if (ec) {
      if (reused && attempt == 0 && IsClosedByPeer(ec) && !parser.got_some()) {
        idle_.erase(key);  // the others kept for this host are likely closed too
        continue;
      }
      co_return Failure(options_, url, ec, "", body_limit);
    }

    // Keep the connection when the server allows it and the exchange ended
    // cleanly: bytes after the response (a second response the server or a
    // header injection put there) would be read as the answer to the next
    // request, so such a connection is closed instead.
    const bool clean_end = parser.is_done() && !parser.need_eof() && connection->buffer.size() == 0;
    http::response<http::string_body> response = parser.release();
    if (response.keep_alive() && clean_end) {
      connection->tcp().expires_never();
      PutIdle(key, std::move(connection));
    }
    co_return ToResponse(std::move(response));
  }
}

Task<Result<std::unique_ptr<HttpClient::Connection>>> HttpClient::Connect(
    const BaseUrl& url, Clock::time_point deadline) {
  error_code ec;

  // Resolve.
  tcp::resolver resolver(io_);
  auto endpoints = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Failure(options_, url, ec, "resolve");
  if (Clock::now() >= deadline) co_return Failure(options_, url, beast::error::timeout);

  // Connect.
  auto connection = std::make_unique<Connection>();
  connection->plain.emplace(io_);
  connection->plain->expires_at(deadline);
  co_await connection->plain->async_connect(endpoints,
                                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Failure(options_, url, ec);
  connection->plain->socket().set_option(tcp::no_delay(true), ec);
  if (!url.tls()) co_return connection;

  // TLS: SNI, certificate and host name verification, handshake.
  Status context = EnsureTlsContext();
  if (!context.ok()) {
    co_return MakeError("unavailable", fmt::format("{} {}: {}", options_.label, url.Authority(),
                                                   context.error().message));
  }
  connection->tls.emplace(std::move(*connection->plain), tls_->context);
  connection->plain.reset();
  SSL* ssl_handle = connection->tls->native_handle();
  if (IsIpAddress(url.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), url.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_handle, url.host.c_str());
    SSL_set1_host(ssl_handle, url.host.c_str());
  }
  co_await connection->tls->async_handshake(ssl::stream_base::client,
                                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Failure(options_, url, ec, "TLS handshake");
  co_return connection;
}

Status HttpClient::EnsureTlsContext() {
  if (tls_) return Ok{};
  auto tls = std::make_unique<TlsContext>();
  error_code ec;
  tls->context.set_default_verify_paths(ec);
  if (ec) return MakeError("tls", fmt::format("cannot load the system CA store: {}", ec.message()));
  if (!options_.ca_file.empty()) {
    tls->context.load_verify_file(options_.ca_file, ec);
    if (ec) {
      return MakeError("tls",
                       fmt::format("cannot load CA file {}: {}", options_.ca_file, ec.message()));
    }
  }
  tls->context.set_verify_mode(ssl::verify_peer);
  tls_ = std::move(tls);
  return Ok{};
}

std::unique_ptr<HttpClient::Connection> HttpClient::TakeIdle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;

  // The newest first; ones idle for too long are dropped.
  std::unique_ptr<Connection> found;
  auto& connections = it->second;
  while (!connections.empty() && !found) {
    std::unique_ptr<Connection> candidate = std::move(connections.back());
    connections.pop_back();
    if (Clock::now() - candidate->idle_since < options_.idle_timeout) found = std::move(candidate);
  }
  if (connections.empty()) idle_.erase(it);
  return found;
}

void HttpClient::PutIdle(const std::string& key, std::unique_ptr<Connection> connection) {
  auto& connections = idle_[key];
  if (connections.size() >= options_.max_idle_per_host) return;
  connection->idle_since = Clock::now();
  connections.push_back(std::move(connection));
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  auto append_encoded = [](std::string& out, std::string_view text) {
    for (char c : text) {
      bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
      if (unreserved) {
        out.push_back(c);
      } else {
        out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
      }
    }
  };
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    append_encoded(out, name);
    out.push_back('=');
    append_encoded(out, value);
  }
  return out;
}

}  // namespace presence::graph
