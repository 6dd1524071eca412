#include "ctl/redis_connection.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>

#include <fmt/format.h>

namespace presence::ctl {
namespace {

timeval ToTimeval(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

// Copies a hiredis reply (and its elements) into a RedisReply.
store::RedisReply CopyReply(const redisReply* reply) {
  using Type = store::RedisReply::Type;
  store::RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      out.type = Type::kString;
      break;
    case REDIS_REPLY_STATUS:
      out.type = Type::kStatus;
      break;
    case REDIS_REPLY_ERROR:
      out.type = Type::kError;
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Type::kArray;
      break;
    default:
      out.type = Type::kNil;
      break;
  }
  if (reply->str != nullptr && reply->type != REDIS_REPLY_INTEGER) {
    out.str.assign(reply->str, reply->len);
  }
  out.elements.reserve(reply->elements);
  for (size_t i = 0; i < reply->elements; ++i) out.elements.push_back(CopyReply(reply->element[i]));
  return out;
}

}  // namespace

std::string RedisEndpoint::ToString() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<RedisEndpoint> ParseRedisEndpoint(std::string_view text) {
  RedisEndpoint endpoint;
  std::string_view host = text;
  std::string_view port;

  // "[::1]:6379" keeps the colons of an IPv6 address inside brackets.
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return MakeError("bad_address", fmt::format("redis address '{}': missing ']'", text));
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return MakeError("bad_address", fmt::format("redis address '{}': expected ':PORT'", text));
      }
      port = rest.substr(1);
    }
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) {
    return MakeError("bad_address", fmt::format("redis address '{}': host is empty", text));
  }
  endpoint.host = std::string(host);

  if (!text.empty() && (text.back() == ':' || !port.empty())) {
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return MakeError("bad_address",
                       fmt::format("redis address '{}': port must be 1 to 65535", text));
    }
    endpoint.port = value;
  }
  return endpoint;
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(const RedisEndpoint& endpoint,
                                                                  std::chrono::milliseconds timeout,
                                                                  const RedisLogin& login) {
  redisContext* context =
      redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, ToTimeval(timeout));
  if (context == nullptr) {
    return MakeError("redis_unavailable",
                     fmt::format("redis {}: cannot allocate a connection", endpoint.ToString()));
  }
  if (context->err != 0) {
    Error error = MakeError("redis_unavailable",
                            fmt::format("redis {}: {}", endpoint.ToString(), context->errstr));
    redisFree(context);
    return error;
  }
  auto connection = std::unique_ptr<RedisConnection>(new RedisConnection(endpoint, context));
  if (Status set = connection->SetTimeout(timeout); !set) return set.error();
  if (Status authenticated = connection->Authenticate(login); !authenticated) {
    return authenticated.error();
  }
  return connection;
}

Status RedisConnection::Authenticate(const RedisLogin& login) {
  if (login.username.empty() && login.password.empty()) return Ok{};
  std::vector<std::string> auth = {"AUTH"};
  if (!login.username.empty()) auth.push_back(login.username);
  auth.push_back(login.password);
  Result<store::RedisReply> reply = Command(auth);
  if (!reply) return reply.error();
  if (reply->is_error()) {
    return MakeError(
        "redis_auth",
        fmt::format("redis {}: authentication as user {} refused: {}", endpoint_.ToString(),
                    login.username.empty() ? "default" : login.username, reply->str));
  }
  return Ok{};
}

RedisConnection::RedisConnection(RedisEndpoint endpoint, redisContext* context)
    : endpoint_(std::move(endpoint)), context_(context) {}

RedisConnection::~RedisConnection() { redisFree(context_); }

Error RedisConnection::ConnectionError() const {
  std::string reason = context_->errstr[0] != '\0' ? context_->errstr : "connection lost";
  // hiredis reports a read timeout as EAGAIN ("Resource temporarily unavailable").
  if (context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    reason = "no reply within the timeout";
  }
  return MakeError("redis_unavailable", fmt::format("redis {}: {}", endpoint_.ToString(), reason));
}

Result<store::RedisReply> RedisConnection::Command(const std::vector<std::string>& args) {
  if (Status appended = Append(args); !appended) return appended.error();
  return ReadReply();
}

Status RedisConnection::Append(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  argv.reserve(args.size());
  argvlen.reserve(args.size());
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    argvlen.push_back(arg.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), argv.data(),
                             argvlen.data()) != REDIS_OK) {
    return ConnectionError();
  }
  return Ok{};
}

Result<store::RedisReply> RedisConnection::ReadReply() {
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) return ConnectionError();
  auto* reply = static_cast<redisReply*>(raw);
  store::RedisReply copy = CopyReply(reply);
  freeReplyObject(reply);
  return copy;
}

Status RedisConnection::SetTimeout(std::chrono::milliseconds timeout) {
  if (redisSetTimeout(context_, ToTimeval(timeout)) != REDIS_OK) return ConnectionError();
  return Ok{};
}

}  // namespace presence::ctl
