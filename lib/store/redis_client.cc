#include "store/redis_client.h"

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "util/log.h"

namespace presence::store {

namespace {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;

// After a failed connect, commands fail at once for this long instead of
// each waiting for a new attempt.
constexpr auto kReconnectBackoff = std::chrono::milliseconds(200);

// Appends one command in RESP to `out`.
// Every command of every request goes through here, so no fmt::format.
void AppendCommand(std::string& out, const std::vector<std::string>& args) {
  auto append_header = [&out](char kind, size_t n) {
    char digits[24];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    out += kind;
    out.append(digits, end);
    out += "\r\n";
  };
  append_header('*', args.size());
  for (const auto& arg : args) {
    append_header('$', arg.size());
    out += arg;
    out += "\r\n";
  }
}

RedisReply CopyReply(const redisReply* reply) {
  RedisReply out;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(reply->str, reply->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = reply->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i)
        out.elements.push_back(CopyReply(reply->element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

// A type-erased, move-only completion handler for one command.
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual void Complete(asio::io_context& io, Result<RedisReply> result) = 0;
};

template <typename Handler>
class WaiterFor : public Waiter {
 public:
  explicit WaiterFor(Handler handler) : handler_(std::move(handler)) {}
  void Complete(asio::io_context& io, Result<RedisReply> result) override {
    asio::post(io, [handler = std::move(handler_), result = std::move(result)]() mutable {
      handler(std::move(result));
    });
  }

 private:
  Handler handler_;
};

struct Pending {
  std::unique_ptr<Waiter> waiter;  // null for the client's own AUTH
  Clock::time_point deadline;
};

}  // namespace

std::string RedisAddress::ToString() const { return fmt::format("{}:{}", host, port); }

Result<RedisAddress> ParseRedisAddress(std::string_view text) {
  RedisAddress address;
  auto colon = text.rfind(':');
  address.host = std::string(text.substr(0, colon));
  if (colon != std::string_view::npos) {
    auto port_text = text.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return MakeError("bad_address", fmt::format("redis address '{}': bad port", text));
    }
    address.port = static_cast<uint16_t>(port);
  }
  if (address.host.empty()) {
    return MakeError("bad_address", fmt::format("redis address '{}': empty host", text));
  }
  return address;
}

// The connection state machine. Lives in a shared_ptr so that callbacks
// still in flight when the client is destroyed find it alive and closed.
class RedisClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, RedisAddress address, std::chrono::milliseconds timeout,
       RedisCredentials credentials)
      : io_(io),
        address_(std::move(address)),
        timeout_(timeout),
        credentials_(std::move(credentials)),
        timer_(io) {}

  ~Impl() {
    if (reader_ != nullptr) redisReaderFree(reader_);
  }

  void Submit(std::vector<std::string> args, std::unique_ptr<Waiter> waiter) {
    if (closed_) {
      waiter->Complete(io_, Unavailable("client closed"));
      return;
    }
    if (state_ == State::kDisconnected) {
      if (Clock::now() < retry_after_) {
        waiter->Complete(io_, Unavailable(last_error_));
        return;
      }
      Connect();
    }
    AppendCommand(outbox_, args);
    pending_.push_back(Pending{std::move(waiter), Clock::now() + timeout_});
    ++unsent_;
    ArmTimer();
    if (state_ == State::kConnected) Flush();
  }

  void Close() {
    closed_ = true;
    Fail("client closed");
  }

  bool connected() const { return state_ == State::kConnected && !authenticating_; }
  const RedisAddress& address() const { return address_; }

 private:
  enum class State { kDisconnected, kConnecting, kConnected };

  Error Unavailable(const std::string& reason) const {
    return MakeError("redis_unavailable", fmt::format("redis {}: {}", address_.ToString(), reason));
  }

  // A command already written when the connection failed: Redis may have run it.
  Error OutcomeUnknown(const std::string& reason) const {
    return MakeError(
        "redis_outcome_unknown",
        fmt::format("redis {}: {} after the command was sent; it may have been applied",
                    address_.ToString(), reason));
  }

  // Resolves and connects; commands submitted meanwhile wait in the outbox.
  void Connect() {
    state_ = State::kConnecting;
    ++generation_;
    socket_.emplace(io_);
    if (reader_ != nullptr) redisReaderFree(reader_);
    reader_ = redisReaderCreate();
    auto self = shared_from_this();
    auto generation = generation_;
    auto resolver = std::make_shared<tcp::resolver>(io_);
    resolver->async_resolve(address_.host, std::to_string(address_.port),
                            [this, self, generation, resolver](
                                boost::system::error_code ec, tcp::resolver::results_type results) {
                              if (generation != generation_) return;
                              if (ec) return Fail(ec.message());
                              asio::async_connect(
                                  *socket_, results,
                                  [this, self, generation](boost::system::error_code ec, auto) {
                                    if (generation != generation_) return;
                                    if (ec) return Fail(ec.message());
                                    socket_->set_option(tcp::no_delay(true));
                                    state_ = State::kConnected;
                                    Authenticate();
                                    Read();
                                    Flush();
                                  });
                            });
  }

  // Puts AUTH in front of every command queued while connecting. Redis answers in order,
  // so its reply is the first one; commands behind a refused AUTH fail with it.
  void Authenticate() {
    if (credentials_.password.empty() && credentials_.username.empty()) return;
    std::vector<std::string> auth = {"AUTH"};
    if (!credentials_.username.empty()) auth.push_back(credentials_.username);
    auth.push_back(credentials_.password);
    std::string command;
    AppendCommand(command, auth);
    outbox_.insert(0, command);
    pending_.push_front(Pending{nullptr, Clock::now() + timeout_});
    authenticating_ = true;
    timer_.cancel();  // the oldest command changed: watch the AUTH
  }

  // The AUTH reply; false when Redis refused it (the connection has been failed).
  bool Authenticated(const RedisReply& reply) {
    authenticating_ = false;
    if (!reply.is_error()) {
      if (!auth_error_logged_.empty()) {
        Logger("redis")->info("redis {}: authenticated as user {}", address_.ToString(),
                              UserName());
      }
      auth_error_logged_.clear();
      return true;
    }
    std::string reason =
        fmt::format("authentication as user {} refused: {}", UserName(), reply.str);
    if (reason != auth_error_logged_) {
      Logger("redis")->error("redis {}: {}", address_.ToString(), reason);
      auth_error_logged_ = reason;
    }
    // Redis refuses every command behind a refused AUTH: none was applied.
    Fail(reason, /*sent_may_apply=*/false);
    return false;
  }

  std::string UserName() const {
    return credentials_.username.empty() ? "default" : credentials_.username;
  }

  // Writes everything in the outbox; commands queued during a write go out
  // together in the next one, which is what pipelines concurrent callers.
  void Flush() {
    if (writing_ || outbox_.empty() || state_ != State::kConnected) return;
    writing_ = true;
    inflight_.swap(outbox_);
    outbox_.clear();
    unsent_ = 0;
    auto self = shared_from_this();
    auto generation = generation_;
    asio::async_write(*socket_, asio::buffer(inflight_),
                      [this, self, generation](boost::system::error_code ec, size_t) {
                        if (generation != generation_) return;
                        writing_ = false;
                        inflight_.clear();
                        if (ec) return Fail(ec.message());
                        Flush();
                      });
  }

  void Read() {
    auto self = shared_from_this();
    auto generation = generation_;
    socket_->async_read_some(
        asio::buffer(read_buffer_),
        [this, self, generation](boost::system::error_code ec, size_t n) {
          if (generation != generation_) return;
          if (ec) return Fail(ec == asio::error::eof ? "connection closed" : ec.message());
          if (redisReaderFeed(reader_, read_buffer_.data(), n) != REDIS_OK) {
            return Fail("protocol error");
          }
          if (!DeliverReplies()) return;
          Read();
        });
  }

  // Hands every complete reply to the oldest waiter. False when the stream
  // is broken (the connection has been failed).
  bool DeliverReplies() {
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
        Fail("protocol error");
        return false;
      }
      if (raw == nullptr) return true;
      auto* reply = static_cast<redisReply*>(raw);
      RedisReply copy = CopyReply(reply);
      freeReplyObject(reply);
      if (pending_.empty()) {
        Fail("reply without a command");
        return false;
      }
      auto waiter = std::move(pending_.front().waiter);
      pending_.pop_front();
      if (waiter == nullptr) {
        if (!Authenticated(copy)) return false;
        ArmTimer();
        continue;
      }
      waiter->Complete(io_, std::move(copy));
      ArmTimer();
    }
  }

  // One timer watches the oldest command; a reply that does not come in
  // time fails the connection, since every later reply would be behind it.
  void ArmTimer() {
    if (pending_.empty() || timer_armed_) return;
    timer_armed_ = true;
    timer_.expires_at(pending_.front().deadline);
    auto self = shared_from_this();
    timer_.async_wait([this, self](boost::system::error_code) {
      timer_armed_ = false;
      if (pending_.empty()) return;
      if (Clock::now() >= pending_.front().deadline) {
        return Fail(fmt::format("no reply within {} ms", timeout_.count()));
      }
      ArmTimer();
    });
  }

  // Drops the connection and fails every command waiting on it.
  // `sent_may_apply`: whether Redis may have run the commands already written.
  void Fail(const std::string& reason, bool sent_may_apply = true) {
    ++generation_;
    if (socket_) {
      boost::system::error_code ignored;
      socket_->close(ignored);
      socket_.reset();
    }
    state_ = State::kDisconnected;
    authenticating_ = false;
    writing_ = false;
    outbox_.clear();
    inflight_.clear();
    last_error_ = reason;
    retry_after_ = Clock::now() + kReconnectBackoff;
    auto pending = std::move(pending_);
    pending_.clear();
    // The newest `unsent_` commands never left the outbox; the others did.
    const size_t sent = sent_may_apply ? pending.size() - std::min(unsent_, pending.size()) : 0;
    unsent_ = 0;
    for (size_t i = 0; i < pending.size(); ++i) {
      if (pending[i].waiter == nullptr) continue;
      pending[i].waiter->Complete(io_, i < sent ? OutcomeUnknown(reason) : Unavailable(reason));
    }
  }

  asio::io_context& io_;
  RedisAddress address_;
  std::chrono::milliseconds timeout_;
  RedisCredentials credentials_;
  bool authenticating_ = false;    // AUTH sent, its reply not yet read
  std::string auth_error_logged_;  // the last refusal logged, so it is logged once
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  bool closed_ = false;

  State state_ = State::kDisconnected;
  uint64_t generation_ = 0;
  std::optional<tcp::socket> socket_;
  redisReader* reader_ = nullptr;
  std::array<char, 64 * 1024> read_buffer_{};

  std::string outbox_;    // commands not yet written
  std::string inflight_;  // commands being written
  bool writing_ = false;
  std::deque<Pending> pending_;  // written or queued, in order, awaiting replies
  size_t unsent_ = 0;            // how many of the newest pending_ are still only in outbox_

  std::string last_error_ = "not connected";
  Clock::time_point retry_after_{};
};

RedisClient::RedisClient(asio::io_context& io, RedisAddress address,
                         std::chrono::milliseconds timeout, RedisCredentials credentials)
    : impl_(std::make_shared<Impl>(io, std::move(address), timeout, std::move(credentials))) {}

RedisClient::~RedisClient() { impl_->Close(); }

// Not a coroutine itself: async_initiate keeps the initiation and the
// arguments in the awaitable's own frame.
Task<Result<RedisReply>> RedisClient::Command(std::vector<std::string> args) {
  auto initiation = [](auto handler, std::shared_ptr<Impl> impl, std::vector<std::string> args) {
    using Handler = decltype(handler);
    impl->Submit(std::move(args), std::make_unique<WaiterFor<Handler>>(std::move(handler)));
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<RedisReply>)>(
      initiation, asio::use_awaitable, impl_, std::move(args));
}

bool RedisClient::connected() const { return impl_->connected(); }

const RedisAddress& RedisClient::address() const { return impl_->address(); }

}  // namespace presence::store
