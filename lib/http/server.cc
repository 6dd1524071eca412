#include "http/server.h"

#include <algorithm>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <spdlog/logger.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "util/log.h"

// GCC 12 reports Asio's recycling allocator of coroutine frames as a
// mismatched new/delete at -O2 (a false positive, GCC bug 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace presence::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;
using boost::system::error_code;

#ifndef PRESENCE_VERSION
#define PRESENCE_VERSION "dev"
#endif

namespace {

constexpr size_t kReadChunk = 4096;
// Bytes read and thrown away after refusing a request, so the client can
// finish sending and read the refusal instead of getting a reset.
constexpr size_t kLingerBytes = 1 << 20;
constexpr std::chrono::milliseconds kLingerTime{1000};

std::string ToString(beast::string_view text) { return std::string(text.data(), text.size()); }

// The method as a metrics label: known verbs only, so labels stay bounded.
std::string MethodLabel(Verb method) {
  return method == Verb::unknown ? "other" : ToString(bhttp::to_string(method));
}

// The refusal of a request header that is read but must not be served: too
// many fields, or framing that a proxy in front might read another way
// (request smuggling). nullopt when the header is fine.
std::optional<Response> CheckHeader(const bhttp::request<bhttp::string_body>& header,
                                    const ServerOptions& options) {
  // Beast applies header_limit to what one read brings, not to the whole
  // header: the size is checked again here, as the bytes of the parsed lines.
  size_t bytes = header.method_string().size() + header.target().size() + 13;
  size_t fields = 0;
  size_t lengths = 0;
  size_t encodings = 0;
  size_t hosts = 0;
  bool chunked_only = true;
  for (const auto& field : header) {
    ++fields;
    bytes += field.name_string().size() + field.value().size() + 4;
    if (field.name() == bhttp::field::content_length) ++lengths;
    if (field.name() == bhttp::field::host) ++hosts;
    if (field.name() == bhttp::field::transfer_encoding) {
      ++encodings;
      chunked_only = chunked_only && beast::iequals(field.value(), "chunked");
    }
  }
  auto bad = [](std::string_view message) { return ErrorResponse(400, "bad_request", message); };
  if (bytes > options.max_header_bytes) {
    return ErrorResponse(431, "headers_too_large",
                         fmt::format("request header exceeds {} bytes", options.max_header_bytes));
  }
  if (fields > options.max_headers) {
    return ErrorResponse(431, "too_many_headers",
                         fmt::format("request has {} header fields, at most {} are allowed", fields,
                                     options.max_headers));
  }
  if (lengths > 1) return bad(fmt::format("Content-Length is given {} times", lengths));
  if (encodings > 0 && lengths > 0) {
    return bad("Transfer-Encoding and Content-Length must not be given together");
  }
  if (encodings > 1 || !chunked_only) {
    return bad("Transfer-Encoding must be \"chunked\" alone, given once");
  }
  if (hosts > 1) return bad(fmt::format("Host is given {} times", hosts));
  if (hosts == 0 && header.version() >= 11) return bad("an HTTP/1.1 request must carry Host");
  return std::nullopt;
}

size_t FieldCount(const bhttp::request<bhttp::string_body>& message) {
  return static_cast<size_t>(std::distance(message.begin(), message.end()));
}

// Tells a connection beyond max_connections why it is closed, without waiting
// on it: the short answer fits in the empty send buffer of a new socket.
void RefuseConnection(tcp::socket& socket, uint32_t max_connections) {
  std::string body = DumpJson(ErrorBody(
      "too_many_connections",
      fmt::format("{} connections are open, the most this server accepts; try again later",
                  max_connections)));
  body += '\n';
  std::string answer =
      fmt::format("HTTP/1.1 503 Service Unavailable\r\nServer: presenced/" PRESENCE_VERSION
                  "\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 1\r\n"
                  "Connection: close\r\n\r\n{}",
                  body.size(), body);
  error_code ignored;
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(answer), ignored);
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

}  // namespace

Result<tcp::endpoint> ResolveListenAddress(std::string_view listen) {
  // Split "host:port"; the host may be "[v6]".
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return MakeError("bad_listen",
                     fmt::format("listen address \"{}\": expected host:port", listen));
  }
  std::string host(listen.substr(0, colon));
  std::string_view port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";

  unsigned port = 0;
  if (port_text.empty() || port_text.size() > 5) port = 65536;
  for (char c : port_text) {
    if (c < '0' || c > '9') port = 65536;
    if (port <= 65535) port = port * 10 + (c - '0');
  }
  if (port > 65535) {
    return MakeError("bad_listen",
                     fmt::format("listen address \"{}\": port must be 0 to 65535", listen));
  }

  // Literal addresses need no lookup; names are resolved once, at setup.
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(address, static_cast<uint16_t>(port));
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    return MakeError("bad_listen", fmt::format("listen address \"{}\": cannot resolve {}: {}",
                                               listen, host, ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

class Connection;

class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  ServerCore(asio::io_context& io, ServerOptions options, const Router& router,
             MetricsRegistry* metrics)
      : io_(io),
        options_(std::move(options)),
        router_(router),
        metrics_(metrics),
        log_(Logger("http")),
        acceptor_(io),
        drained_(io) {}

  Status Start();
  void Stop();
  Task<void> Drain(std::chrono::milliseconds timeout);
  static Task<void> AcceptLoop(std::shared_ptr<ServerCore> self);

  void Register(uint64_t id, Connection* connection) { connections_[id] = connection; }
  void Unregister(uint64_t id);
  // Counts an answered request; `seconds` (from the whole request read to
  // the answer made) is recorded in the latency histogram when given.
  void CountRequest(Verb method, const std::string& route, unsigned status,
                    std::optional<double> seconds);

  asio::io_context& io_;
  const ServerOptions options_;
  const Router& router_;
  MetricsRegistry* metrics_;
  std::shared_ptr<spdlog::logger> log_;
  tcp::acceptor acceptor_;
  tcp::endpoint local_endpoint_;
  asio::steady_timer drained_;  // cancelled when the last connection closes while stopping
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Connection*> connections_;
};

// One accepted connection. Owned by its coroutine (Serve); registered with the
// server while it lives so that Stop() and Drain() can reach it.
class Connection {
 public:
  Connection(std::shared_ptr<ServerCore> server, tcp::socket socket, uint64_t id)
      : server_(std::move(server)),
        options_(server_->options_),
        stream_(std::move(socket)),
        buffer_(static_cast<size_t>(options_.max_header_bytes) + 2 * kReadChunk),
        id_(id),
        read_deadline_(std::chrono::steady_clock::now() + options_.read_timeout) {
    server_->Register(id_, this);
  }
  ~Connection() { server_->Unregister(id_); }

  static Task<void> Serve(std::shared_ptr<Connection> self) {
    try {
      co_await self->Run();
    } catch (const std::exception& e) {
      self->server_->log_->error("http #{}: connection failed: {}", self->id_, e.what());
    }
    self->Close();
  }

  // Stop(): an idle connection is closed now, a busy one after its response.
  void CloseIfIdle() {
    if (idle_) stream_.cancel();
  }
  void ForceClose() {
    error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  Task<void> Run();
  Task<bool> WaitForRequest();
  Task<bool> ServeOne();
  Task<error_code> Read(bhttp::request_parser<bhttp::string_body>& parser, bool header_only);
  Task<Response> Handle(Request& request, std::string& route);
  Task<void> Refuse(error_code ec, bhttp::request_parser<bhttp::string_body>& parser);
  Task<bool> Write(Response response, unsigned version, bool keep_alive);
  Task<void> Linger();
  void Close();

  std::shared_ptr<ServerCore> server_;
  const ServerOptions& options_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  uint64_t id_;
  bool idle_ = false;
  uint64_t requests_ = 0;  // requests read so far
  // When the request being read must be complete: read_timeout after the
  // connection was accepted (first request) or after its first byte arrived.
  std::chrono::steady_clock::time_point read_deadline_;
};

Task<void> Connection::Run() {
  while (co_await WaitForRequest()) {
    bool keep_alive = co_await ServeOne();
    if (!keep_alive || server_->stopping_) break;
  }
}

// Waits for the first byte of the next request, at most idle_timeout. False
// when the connection should close (peer gone, timeout, server stopping).
// The first request of a connection must arrive within read_timeout of the
// accept (and its first byte within idle_timeout, when that is shorter), so
// connections that send nothing are not kept long.
Task<bool> Connection::WaitForRequest() {
  const bool first = requests_++ == 0;
  if (!first) read_deadline_ = std::chrono::steady_clock::now() + options_.read_timeout;
  if (buffer_.size() > 0) co_return true;  // a pipelined request is already here
  if (server_->stopping_) co_return false;

  idle_ = true;
  if (first) {
    stream_.expires_at(
        std::min(read_deadline_, read_deadline_ - options_.read_timeout + options_.idle_timeout));
  } else {
    stream_.expires_after(options_.idle_timeout);
  }
  error_code ec;
  size_t n = co_await stream_.async_read_some(buffer_.prepare(kReadChunk),
                                              asio::redirect_error(asio::use_awaitable, ec));
  idle_ = false;
  if (ec) co_return false;
  buffer_.commit(n);
  if (!first) read_deadline_ = std::chrono::steady_clock::now() + options_.read_timeout;
  co_return true;
}

// Reads, answers and writes one request. True when the connection may be reused.
Task<bool> Connection::ServeOne() {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(options_.max_header_bytes);
  parser.body_limit(options_.max_body_bytes);

  // Header and body together must arrive within read_timeout.
  stream_.expires_at(read_deadline_);
  error_code ec = co_await Read(parser, true);
  std::optional<Response> refusal;
  if (!ec) refusal = CheckHeader(parser.get(), options_);
  if (refusal) {
    // Answered without reading the body; the connection closes.
    server_->CountRequest(parser.get().method(), "invalid", refusal->status, std::nullopt);
    bool written = co_await Write(std::move(*refusal), 11, false);
    if (written) co_await Linger();
    co_return false;
  }
  if (!ec && !parser.is_done()) {
    auto expect = parser.get().find(bhttp::field::expect);
    if (expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
  }
  const size_t header_fields = ec ? 0 : FieldCount(parser.get());
  if (!ec && !parser.is_done()) ec = co_await Read(parser, false);
  if (ec) {
    co_await Refuse(ec, parser);
    co_return false;
  }
  stream_.expires_never();

  // Trailer fields of a chunked body join the header after CheckHeader saw
  // it (a second Content-Length or Host, fields past the limits): refused.
  if (FieldCount(parser.get()) != header_fields) {
    Response trailers =
        ErrorResponse(400, "bad_request", "chunked trailer fields are not accepted");
    server_->CountRequest(parser.get().method(), "invalid", trailers.status, std::nullopt);
    if (co_await Write(std::move(trailers), 11, false)) co_await Linger();
    co_return false;
  }

  // Hand the request to the router.
  bhttp::request<bhttp::string_body> message = parser.release();
  Request request;
  request.method = message.method();
  request.target = ToString(message.target());
  size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) request.query = request.target.substr(question + 1);
  request.body = std::move(message.body());
  // Read before the header moves out of the message: keep_alive() looks at
  // the version and the Connection field, which the move empties.
  const bool client_keeps_alive = message.keep_alive();
  const unsigned version = message.version();
  request.headers = std::move(message.base());

  auto started = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  Response response = co_await Handle(request, route);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - started)
                    .count();
  server_->log_->debug("#{}: {} {} -> {} ({} us)", id_, MethodLabel(request.method), request.target,
                       response.status, micros);
  server_->CountRequest(request.method, route, response.status, micros / 1e6);

  bool keep_alive = client_keeps_alive && !server_->stopping_;
  bool written = co_await Write(std::move(response), version, keep_alive);
  bool reusable = written && keep_alive;
  co_return reusable;
}

// Reads into the parser until its header (header_only) or the whole request
// is parsed, like Beast's async_read, but parses here. Beast's parser can
// throw (std::length_error for a field over 65535 bytes, bad_alloc); thrown
// inside Beast's own read operation, that would bypass this coroutine and
// stop the io_context. Caught here, it refuses this request only.
Task<error_code> Connection::Read(bhttp::request_parser<bhttp::string_body>& parser,
                                  bool header_only) {
  error_code ec;
  for (;;) {
    if (header_only ? parser.is_header_done() : parser.is_done()) co_return error_code{};

    // Parse what is buffered.
    if (buffer_.size() > 0) {
      size_t used = 0;
      ec = {};
      try {
        used = parser.put(buffer_.data(), ec);
      } catch (const std::exception& e) {
        server_->log_->warn("#{}: request refused, the parser failed: {}", id_, e.what());
        co_return make_error_code(bhttp::error::bad_field);
      }
      buffer_.consume(used);
      if (ec && ec != bhttp::error::need_more) co_return ec;
      if (!ec && used > 0) continue;
    }

    // Read more; a full buffer means a header beyond every limit.
    const size_t room = beast::read_size(buffer_, 65536);
    if (room == 0) co_return make_error_code(bhttp::error::buffer_overflow);
    size_t n = co_await stream_.async_read_some(buffer_.prepare(room),
                                                asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof) {
      if (!parser.got_some()) co_return make_error_code(bhttp::error::end_of_stream);
      ec = {};
      parser.put_eof(ec);
      if (!ec && !parser.is_done()) ec = bhttp::error::partial_message;
      co_return ec;
    }
    if (ec) co_return ec;
    buffer_.commit(n);
  }
}

Task<Response> Connection::Handle(Request& request, std::string& route) {
  std::string failure;
  try {
    co_return co_await server_->router_.Dispatch(request, route);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  server_->log_->error("#{}: {} {} failed: {}", id_, MethodLabel(request.method), request.target,
                       failure);
  co_return ErrorResponse(500, "internal_error", "the request failed inside the server");
}

// Answers a request that could not be read, where an answer makes sense.
Task<void> Connection::Refuse(error_code ec, bhttp::request_parser<bhttp::string_body>& parser) {
  Response response;
  if (ec == bhttp::error::body_limit) {
    response = ErrorResponse(413, "payload_too_large",
                             fmt::format("request body exceeds {} bytes", options_.max_body_bytes));
  } else if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    response =
        ErrorResponse(431, "headers_too_large",
                      fmt::format("request header exceeds {} bytes", options_.max_header_bytes));
  } else if (ec == beast::error::timeout) {
    // The stream has already closed the socket: nobody left to answer.
    server_->log_->debug("#{}: request not read within {} ms, closed", id_,
                         options_.read_timeout.count());
    co_return;
  } else if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
             ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
             ec == bhttp::error::partial_message) {
    co_return;  // the peer went away (or we are closing): nobody to answer
  } else {
    response =
        ErrorResponse(400, "bad_request", fmt::format("malformed request: {}", ec.message()));
  }

  // The request line is parsed before any header limit is hit, so the method is known
  // unless the request line itself was bad (then it stays unknown).
  server_->CountRequest(parser.get().method(), "invalid", response.status, std::nullopt);
  if (co_await Write(std::move(response), 11, false)) co_await Linger();
}

Task<bool> Connection::Write(Response response, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(response.status), version};
  for (const auto& field : response.headers) message.insert(field.name_string(), field.value());
  message.set(bhttp::field::server, "presenced/" PRESENCE_VERSION);
  message.keep_alive(keep_alive);
  message.body() = std::move(response.body);
  message.prepare_payload();

  error_code ec;
  stream_.expires_after(options_.write_timeout);
  co_await bhttp::async_write(stream_, message, asio::redirect_error(asio::use_awaitable, ec));
  stream_.expires_never();
  if (ec) server_->log_->debug("#{}: write failed: {}", id_, ec.message());
  co_return !ec;
}

// After a refusal: stop sending, then read and drop what the client still
// sends for a short while so that closing does not reset the connection
// before the client read the answer.
Task<void> Connection::Linger() {
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  size_t dropped = 0;
  std::array<char, kReadChunk> scratch;
  stream_.expires_after(kLingerTime);
  while (!ec && dropped < kLingerBytes) {
    dropped += co_await stream_.async_read_some(asio::buffer(scratch),
                                                asio::redirect_error(asio::use_awaitable, ec));
  }
}

void Connection::Close() {
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

Status ServerCore::Start() {
  auto endpoint = ResolveListenAddress(options_.listen);
  if (!endpoint.ok()) return endpoint.error();

  error_code ec;
  acceptor_.open(endpoint->protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) local_endpoint_ = acceptor_.local_endpoint(ec);
  if (ec) {
    error_code ignored;
    acceptor_.close(ignored);
    return MakeError("listen_failed",
                     fmt::format("http listen {}: {}", options_.listen, ec.message()));
  }

  if (metrics_ != nullptr) {
    metrics_->Describe("presence_http_requests_total", MetricsRegistry::Type::kCounter,
                       "HTTP requests answered, by method, route pattern and status.");
    metrics_->DescribeHistogram("presence_http_request_duration_seconds",
                                "Time from a request read to its answer made, by method and "
                                "route pattern.",
                                MetricsRegistry::LatencyBuckets());
    metrics_->Describe("presence_http_connections", MetricsRegistry::Type::kGauge,
                       "HTTP connections open now.");
    metrics_->Describe("presence_http_connections_total", MetricsRegistry::Type::kCounter,
                       "HTTP connections accepted.");
    metrics_->Describe("presence_http_connections_rejected_total", MetricsRegistry::Type::kCounter,
                       "HTTP connections closed at once because max_connections were open.");
    std::weak_ptr<ServerCore> weak = weak_from_this();
    metrics_->SetCallback("presence_http_connections", {}, [weak] {
      auto self = weak.lock();
      return self ? static_cast<double>(self->connections_.size()) : 0.0;
    });
  }

  log_->info("listening on {}:{}", local_endpoint_.address().to_string(), local_endpoint_.port());
  asio::co_spawn(io_, AcceptLoop(shared_from_this()), asio::detached);
  return Ok{};
}

Task<void> ServerCore::AcceptLoop(std::shared_ptr<ServerCore> self) {
  while (!self->stopping_) {
    error_code ec;
    tcp::socket socket =
        co_await self->acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (self->stopping_) break;
    if (ec) {
      // Out of descriptors and the like: wait a little instead of spinning.
      self->log_->warn("accept on {}: {}", self->options_.listen, ec.message());
      asio::steady_timer pause(self->io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }

    if (self->connections_.size() >= self->options_.max_connections) {
      if (self->metrics_) self->metrics_->Increment("presence_http_connections_rejected_total");
      RefuseConnection(socket, self->options_.max_connections);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (self->metrics_) self->metrics_->Increment("presence_http_connections_total");
    auto connection = std::make_shared<Connection>(self, std::move(socket), self->next_id_++);
    asio::co_spawn(self->io_, Connection::Serve(std::move(connection)), asio::detached);
  }
}

void ServerCore::Stop() {
  if (stopping_) return;
  stopping_ = true;
  error_code ignored;
  acceptor_.close(ignored);

  for (auto& [id, connection] : connections_) connection->CloseIfIdle();
  log_->info("stopped accepting on {}, {} connections open", options_.listen, connections_.size());
  if (connections_.empty()) drained_.cancel();
}

Task<void> ServerCore::Drain(std::chrono::milliseconds timeout) {
  if (connections_.empty()) co_return;
  drained_.expires_after(timeout);
  error_code ec;
  co_await drained_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (connections_.empty()) {
    log_->info("all connections closed");
    co_return;
  }
  log_->warn("{} connections still open after {} ms, closing them", connections_.size(),
             timeout.count());
  for (auto& [id, connection] : connections_) connection->ForceClose();
}

void ServerCore::Unregister(uint64_t id) {
  connections_.erase(id);
  if (stopping_ && connections_.empty()) drained_.cancel();
}

void ServerCore::CountRequest(Verb method, const std::string& route, unsigned status,
                              std::optional<double> seconds) {
  if (metrics_ == nullptr) return;
  const std::string method_label = MethodLabel(method);
  metrics_->Increment(
      "presence_http_requests_total",
      {{"method", method_label}, {"route", route}, {"status", std::to_string(status)}});
  if (seconds) {
    metrics_->Observe("presence_http_request_duration_seconds",
                      {{"method", method_label}, {"route", route}}, *seconds);
  }
}

Server::Server(asio::io_context& io, ServerOptions options, const Router& router,
               MetricsRegistry* metrics)
    : core_(std::make_shared<ServerCore>(io, std::move(options), router, metrics)) {}

Server::~Server() {
  // Connections still alive keep the core; make sure they stop using the
  // router and the registry, which may go away with us.
  core_->stopping_ = true;
  error_code ignored;
  core_->acceptor_.close(ignored);
  for (auto& [id, connection] : core_->connections_) connection->ForceClose();
  if (core_->metrics_) core_->metrics_->SetCallback("presence_http_connections", {}, nullptr);
  core_->metrics_ = nullptr;
}

Status Server::Start() { return core_->Start(); }
void Server::Stop() { core_->Stop(); }
Task<void> Server::Drain(std::chrono::milliseconds timeout) { return core_->Drain(timeout); }
size_t Server::connections() const { return core_->connections_.size(); }
tcp::endpoint Server::local_endpoint() const { return core_->local_endpoint_; }

}  // namespace presence::http
