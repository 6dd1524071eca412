#include "daemon.h"

#include <algorithm>

#include <fmt/ranges.h>
#include <systemd/sd-daemon.h>

#include "api/api_server.h"
#include "graph/http_client.h"
#include "graph/presence_reader.h"
#include "graph/throttle.h"
#include "graph/token_source.h"
#include "partition/leader.h"
#include "partition/membership.h"
#include "partition/ownership.h"
#include "presence/poll_job.h"
#include "store/agent_store.h"
#include "store/functions.h"
#include "store/keys.h"
#include "util/json_fields.h"
#include "util/log.h"
#include "util/strings.h"

namespace presence::daemon {

namespace {

using namespace std::chrono_literals;

// How long a SIGTERM handoff may take before the process exits anyway.
constexpr auto kStopBound = 5s;

partition::CoordinationOptions Coordination(const config::Config& c) {
  partition::CoordinationOptions o;
  o.partitions = c.partitions;
  o.lease_ms = c.lease_ms;
  o.renew_ms = c.renew_ms;
  o.heartbeat_ms = c.heartbeat_ms;
  o.member_ttl_ms = c.member_ttl_ms;
  o.stabilization_ms = c.stabilization_ms;
  return o;
}

http::ServerOptions ServerOptions(const config::Config& c) {
  http::ServerOptions o;
  o.listen = c.listen;
  o.max_body_bytes = c.max_body_bytes;
  o.max_header_bytes = c.max_header_bytes;
  o.max_headers = c.max_headers;
  o.max_connections = c.max_connections;
  o.read_timeout = std::chrono::milliseconds(c.read_timeout_ms);
  o.idle_timeout = std::chrono::milliseconds(c.idle_timeout_ms);
  o.write_timeout = std::chrono::milliseconds(c.write_timeout_ms);
  return o;
}

auth::AuthOptions AuthOptions(const config::Config& c) {
  auth::AuthOptions o;
  o.enabled = c.auth_enabled;
  o.cache_ttl = std::chrono::milliseconds(c.auth_cache_ms);
  o.requests_per_second = c.auth_requests_per_second;
  o.burst = c.auth_burst;
  o.metrics_open = c.auth_metrics == "open";
  return o;
}

api::RequestLimits RequestLimits(const config::Config& c) {
  api::RequestLimits o;
  o.max_json_depth = c.max_json_depth;
  o.max_labels = c.max_labels;
  o.max_labels_bytes = c.max_labels_bytes;
  o.max_id_length = c.max_id_length;
  return o;
}

// Everything one running instance is made of, wired together.
class Instance {
 public:
  Instance(const config::Config& config, const CommandLine& command_line,
           store::RedisAddress address)
      : config_(config),
        command_line_(command_line),
        log_(Logger("main")),
        redis_(io_, address, std::chrono::milliseconds(config.redis_timeout_ms),
               store::RedisCredentials{config.redis_username, config.redis_password}),
        control_redis_(io_, address, std::chrono::milliseconds(config.redis_timeout_ms),
                       store::RedisCredentials{config.redis_username, config.redis_password}),
        holder_{config.instance_id, partition::NewToken()},
        store_(redis_, store::AgentStoreOptions{config.partitions, config.events_maxlen,
                                                config.tombstone_retention_s * 1000,
                                                config.idempotency_retention_s * 1000}),
        membership_(control_redis_, holder_, config.listen, Coordination(config),
                    [this] { return ownership_.owned_count(); }),
        leader_(control_redis_, holder_, Coordination(config)),
        ownership_(control_redis_, holder_, Coordination(config),
                   [this] { return ready_ && membership_.joined() && !stopping_; }),
        http_(io_, graph::HttpClientOptions{"graph",
                                            std::chrono::milliseconds(config.graph_timeout_ms)}),
        tokens_(config, http_, redis_),
        reader_(config, http_, tokens_),
        budget_(config, redis_),
        job_(
            redis_, ownership_, reader_, budget_,
            jobs::PollOptions{config.partitions, std::chrono::milliseconds(config.poll_interval_ms),
                              config.batch_size, config.events_maxlen}),
        api_(io_, ServerOptions(config), store_, [this] { return Readiness(); }),
        signals_(io_, SIGTERM, SIGINT),
        reload_signal_(io_, SIGHUP) {}

  int Run() {
    api_.SetRequestLimits(RequestLimits(config_));
    api_.EnableAuth(redis_, AuthOptions(config_));
    auto started = api_.Start();
    if (!started) {
      log_->error("{}", started.error().message);
      return 1;
    }
    log_->info("presenced {} instance {} listening on {}, redis {}, {} partitions",
               PRESENCE_VERSION, config_.instance_id, config_.listen, redis_.address().ToString(),
               config_.partitions);
    signals_.async_wait([this](boost::system::error_code ec, int signal) {
      if (!ec) asio::co_spawn(io_, Stop(signal), asio::detached);
    });
    WaitForReload();
    RegisterMetrics();
    StartWatchdog();
    asio::co_spawn(io_, Start(), asio::detached);
    io_.run();
    return exit_code_;
  }

 private:
  // Waits for Redis, loads the Functions, checks the partition count, then
  // starts membership, leadership, leases and the presence job.
  Task<void> Start() {
    asio::steady_timer timer(io_);
    bool warned = false;
    while (!stopping_) {
      auto prepared = co_await Prepare();
      if (prepared) break;
      if (prepared.error().code == "partition_mismatch") {
        log_->error("{}", prepared.error().message);
        exit_code_ = 2;
        co_await Stop(0);
        co_return;
      }
      if (!warned) log_->warn("waiting for redis: {}", prepared.error().message);
      warned = true;
      timer.expires_after(1s);
      co_await timer.async_wait(asio::use_awaitable);
    }
    if (stopping_) co_return;
    ready_ = true;
    log_->info("functions v{} loaded, joining", store::FunctionsVersion());
    Spawn("membership", membership_.Run());
    Spawn("leader", leader_.Run());
    Spawn("ownership", ownership_.Run());
    Spawn("poll job", job_.Run());
    Spawn("functions watch", WatchFunctions());
    sd_notify(0, "READY=1");
  }

  // Runs a loop of the instance; one that dies of an exception is a bug,
  // so it is logged and the process exits for its supervisor to restart it.
  void Spawn(const char* name, Task<void> task) {
    asio::co_spawn(io_, std::move(task), [this, name](std::exception_ptr error) {
      if (!error) return;
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        log_->error("{} failed: {}", name, e.what());
      }
      exit_code_ = 1;
      io_.stop();
    });
  }

  Task<Status> Prepare() {
    auto loaded = co_await store::EnsureFunctions(redis_);
    if (!loaded) co_return loaded.error();
    if (*loaded != store::FunctionsVersion()) {
      log_->warn(
          "functions library v{} is loaded, newer than this binary's v{}; using it "
          "(upgrade this instance)",
          *loaded, store::FunctionsVersion());
    }
    auto init = co_await store::CallFunction(redis_, "presence_init", Strings(store::keys::Meta()),
                                             Strings(std::to_string(config_.partitions)));
    if (!init) co_return init.error();
    auto stored = FieldUint(*init, "partitions");
    if (stored != config_.partitions) {
      co_return MakeError("partition_mismatch",
                          fmt::format("this deployment has {} partitions but the configuration "
                                      "says {}; the count cannot change after the first start",
                                      stored, config_.partitions));
    }
    co_return Ok{};
  }

  // Readiness also notices a Redis that lost the library and loads it again
  // (CallFunction does this too, on the next call that needs it).
  Task<void> WatchFunctions() {
    asio::steady_timer timer(io_);
    while (!stopping_) {
      auto loaded = co_await store::EnsureFunctions(redis_);
      functions_ok_ = loaded.ok();
      timer.expires_after(2s);
      boost::system::error_code ignored;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
  }

  std::pair<bool, std::string> Readiness() const {
    if (!ready_) return {false, "starting: waiting for redis and the functions library"};
    if (!redis_.connected())
      return {false, "redis " + redis_.address().ToString() + " unreachable"};
    if (!functions_ok_) return {false, "functions library not loaded"};
    if (!membership_.joined()) return {false, "not a member (heartbeat failing)"};
    if (stopping_) return {false, "stopping"};
    if (!ownership_.settled()) {
      return {false, fmt::format("not yet running its partitions (owning {} of {})",
                                 ownership_.owned_count(), config_.partitions)};
    }
    return {true, "ready"};
  }

  // SIGHUP: read the settings again; apply the log level, report the rest.
  void WaitForReload() {
    reload_signal_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      Reload();
      WaitForReload();
    });
  }

  void Reload() {
    auto fresh = LoadSettings(command_line_);
    if (!fresh) {
      log_->error("SIGHUP: {} not applied, keeping the running settings: {}",
                  command_line_.config_path, fresh.error().message);
      return;
    }
    const std::string before = LogLevel();
    if (fresh->log_level != before && SetLogLevel(fresh->log_level)) {
      auto level = std::max(spdlog::level::info, *ParseLogLevel(fresh->log_level));
      log_->log(level, "SIGHUP: log level changed from {} to {}", before, fresh->log_level);
    }
    auto changed = ChangedKeys(config_, *fresh);
    if (!changed.empty()) {
      log_->warn("SIGHUP: {} changed in {}: needs a restart to apply", fmt::join(changed, ", "),
                 command_line_.config_path);
    }
    if (fresh->log_level == before && changed.empty()) {
      log_->info("SIGHUP: {} read again, nothing changed", command_line_.config_path);
    }
  }

  // Under systemd with WatchdogSec=, tells it every half interval that the
  // event loop still turns.
  void StartWatchdog() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    auto interval = std::chrono::microseconds(usec / 2);
    log_->info("systemd watchdog: {} ms, notifying every {} ms", usec / 1000,
               interval.count() / 1000);
    asio::co_spawn(io_, Watchdog(interval), asio::detached);
  }

  Task<void> Watchdog(std::chrono::microseconds interval) {
    asio::steady_timer timer(io_);
    for (;;) {
      sd_notify(0, "WATCHDOG=1");
      timer.expires_after(interval);
      boost::system::error_code ignored;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
  }

  // The daemon's own series in /metrics (the HTTP server and the API routes
  // add theirs): partitions, leases, the poll job and Graph, Redis errors.
  void RegisterMetrics() {
    using Type = http::MetricsRegistry::Type;
    auto& m = api_.metrics();
    auto counter = [&m](const char* name, const char* help, http::MetricsRegistry::Labels labels,
                        std::function<double()> read) {
      m.Describe(name, Type::kCounter, help);
      m.SetCallback(name, labels, std::move(read));
    };
    auto gauge = [&m](const char* name, const char* help, std::function<double()> read) {
      m.Describe(name, Type::kGauge, help);
      m.SetCallback(name, {}, std::move(read));
    };
    gauge("presence_partitions_owned", "Partitions this instance owns a lease of now.",
          [this] { return ownership_.owned_count(); });
    gauge("presence_partitions", "Partitions of the deployment (partitions.count).",
          [this] { return config_.partitions; });
    gauge("presence_leader", "1 while this instance holds the leader lease, else 0.",
          [this] { return leader_.leading() ? 1 : 0; });
    gauge("presence_ready", "1 while /readyz answers 200, else 0.",
          [this] { return Readiness().first ? 1 : 0; });
    m.Describe("presence_build_info", Type::kGauge, "Always 1; the version is a label.");
    m.Set("presence_build_info", {{"version", PRESENCE_VERSION}}, 1);

    const auto& lease = ownership_.stats();
    counter("presence_lease_acquisitions_total", "Partition leases acquired.", {},
            [&lease] { return lease.acquisitions; });
    counter("presence_lease_renewals_total", "Partition leases renewed.", {},
            [&lease] { return lease.renewals; });
    counter("presence_lease_releases_total",
            "Partition leases given back (reassigned elsewhere or handed over on stop).", {},
            [&lease] { return lease.releases; });
    const char* losses =
        "Partition leases lost, by reason: lost (renewal refused), expired (not renewed before "
        "the local deadline), stale (a write refused as stale).";
    counter("presence_lease_losses_total", losses, {{"reason", "lost"}},
            [&lease] { return lease.lost; });
    counter("presence_lease_losses_total", losses, {{"reason", "expired"}},
            [&lease] { return lease.expired; });
    counter("presence_lease_losses_total", losses, {{"reason", "stale"}},
            [&lease] { return lease.stale; });

    const auto& job = job_.stats();
    counter("presence_poll_rounds_total", "Rounds of the presence poll job.", {},
            [&job] { return job.rounds; });
    const char* calls =
        "Graph getPresencesByUserId requests, by outcome: ok, throttled (429 or 503), error.";
    counter("presence_graph_requests_total", calls, {{"outcome", "ok"}},
            [&job] { return job.graph_requests - job.graph_errors; });
    counter("presence_graph_requests_total", calls, {{"outcome", "throttled"}},
            [&job] { return job.graph_throttled; });
    counter("presence_graph_requests_total", calls, {{"outcome", "error"}},
            [&job] { return job.graph_errors - job.graph_throttled; });
    const char* waits =
        "Times a tenant's Graph requests were held back: budget (the shared per-tenant budget "
        "was used up), retry_after (Graph throttled and asked to wait).";
    counter("presence_graph_throttle_waits_total", waits, {{"reason", "budget"}},
            [&job] { return job.budget_waits; });
    counter("presence_graph_throttle_waits_total", waits, {{"reason", "retry_after"}},
            [&job] { return job.graph_throttled; });
    counter("presence_poll_stale_writes_total",
            "Presence writes refused because the partition lease had moved on.", {},
            [&job] { return job.stale_writes; });
    // presence_graph_bad_responses_total{endpoint, reason}: docs/graph-input.md.
    tokens_.bad_responses().Register(m);
    reader_.bad_responses().Register(m);

    const char* appended = "Events appended to the partition streams, by origin.";
    counter("presence_events_appended_total", appended, {{"origin", "graph_poll"}},
            [&job] { return job.changes_applied; });
    if (m.Value("presence_events_appended_total", {{"origin", "api"}}) == 0) {
      m.Increment("presence_events_appended_total", {{"origin", "api"}}, 0);
    }
    const char* redis_errors = "Redis calls that failed, by component.";
    counter("presence_redis_errors_total", redis_errors, {{"component", "lease"}},
            [&lease] { return lease.redis_errors; });
    counter("presence_redis_errors_total", redis_errors, {{"component", "job"}},
            [&job] { return job.redis_errors; });
    if (m.Value("presence_redis_errors_total", {{"component", "api"}}) == 0) {
      m.Increment("presence_redis_errors_total", {{"component", "api"}}, 0);
    }
  }

  // The SIGTERM handoff: stop taking partitions, leave, stop the jobs,
  // release every lease and the leadership, then stop serving.
  Task<void> Stop(int signal) {
    if (stopping_) co_return;
    stopping_ = true;
    sd_notify(0, "STOPPING=1");
    if (signal != 0)
      log_->info("signal {}: handing over {} partitions", signal, ownership_.owned_count());
    asio::steady_timer bound(io_);
    bound.expires_after(kStopBound);
    bound.async_wait([this](boost::system::error_code ec) {
      if (!ec) {
        log_->warn("handoff took longer than {} s, exiting", kStopBound.count());
        io_.stop();
      }
    });

    auto started = std::chrono::steady_clock::now();
    job_.Stop();
    membership_.Stop();
    ownership_.Stop();
    leader_.Stop();
    if (ready_) {
      co_await membership_.Leave();
      co_await ownership_.ReleaseAll();
      co_await leader_.Resign();
    }
    api_.Stop();
    co_await api_.Drain(1s);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    log_->info("stopped after handoff of {} ms", took.count());
    bound.cancel();
    io_.stop();
  }

  const config::Config& config_;
  const CommandLine command_line_;
  asio::io_context io_{1};
  std::shared_ptr<spdlog::logger> log_;
  // Two connections: the API and the presence jobs send bulk work (roster
  // pages, batches of changes) down redis_; heartbeats, leases and the
  // leader's assignment go down control_redis_, so that they never wait in
  // a pipeline behind that work and miss their deadlines under load.
  store::RedisClient redis_;
  store::RedisClient control_redis_;
  partition::Holder holder_;
  store::AgentStore store_;
  partition::Membership membership_;
  partition::Leader leader_;
  partition::Ownership ownership_;
  graph::HttpClient http_;
  graph::TokenSource tokens_;
  graph::PresenceReader reader_;
  graph::GraphBudget budget_;
  jobs::PollJob job_;
  api::ApiServer api_;
  asio::signal_set signals_;
  asio::signal_set reload_signal_;

  bool ready_ = false;
  bool functions_ok_ = false;
  bool stopping_ = false;
  int exit_code_ = 0;
};

}  // namespace

int Run(const config::Config& config, const CommandLine& command_line) {
  SetupLogging(config.log_format, config.log_level, config.instance_id);
  auto address = store::ParseRedisAddress(config.redis_address);
  if (!address) {
    Logger("main")->error("{}", address.error().message);
    return 2;
  }
  Instance instance(config, command_line, *address);
  return instance.Run();
}

}  // namespace presence::daemon
