// Fuzz target: the TOML configuration (config::ParseConfig, which LoadConfig
// runs on the file's text).
//
// The input is a configuration file. Besides "no crash, no exception", an
// accepted configuration must hold what presenced.toml(5) promises:
//   - it passes Validate() (instance id, listen and Redis addresses);
//   - every number is within its documented range, renew_ms < lease_ms / 2,
//     heartbeat_ms < ttl_ms / 2;
//   - the Graph URLs are http(s) URLs without a trailing slash; log level and
//     format are among the documented values;
//   - written back as TOML and parsed again, it gives the same values.
// A refused configuration must have code "bad_config" and a message that
// starts with the file name.

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "config/config.h"
#include "fuzz_check.h"

namespace {

using presence::config::Config;
namespace fuzz = presence::fuzz;

// A directory that does not exist: a relative client_secret_file never
// resolves to a real file.
const std::string kPath = "/nonexistent-presence-fuzz/presenced.toml";

template <typename T>
void CheckRange(std::string_view name, T value, uint64_t min, uint64_t max) {
  FUZZ_CHECK(value >= min && value <= max,
             std::string(name) + " = " + std::to_string(value) + " is out of range");
}

bool IsBaseUrl(const std::string& url) {
  const bool scheme = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
  return scheme && !url.empty() && url.back() != '/';
}

void CheckAccepted(const Config& config) {
  auto valid = presence::config::Validate(config);
  FUZZ_CHECK(valid.ok(), valid.error().message);

  CheckRange("redis.timeout_ms", config.redis_timeout_ms, 10, 60000);
  CheckRange("partitions.count", config.partitions, 1, 4096);
  CheckRange("partitions.lease_ms", config.lease_ms, 500, 60000);
  CheckRange("partitions.renew_ms", config.renew_ms, 50, 30000);
  FUZZ_CHECK(config.renew_ms < config.lease_ms / 2, "renew_ms is not less than lease_ms / 2");
  CheckRange("membership.heartbeat_ms", config.heartbeat_ms, 50, 30000);
  CheckRange("membership.ttl_ms", config.member_ttl_ms, 500, 60000);
  CheckRange("membership.stabilization_ms", config.stabilization_ms, 0, 60000);
  FUZZ_CHECK(config.heartbeat_ms < config.member_ttl_ms / 2,
             "heartbeat_ms is not less than ttl_ms / 2");
  CheckRange("agents.tombstone_retention_s", config.tombstone_retention_s, 1, 31536000);
  CheckRange("agents.idempotency_retention_s", config.idempotency_retention_s, 1, 31536000);
  CheckRange("events.maxlen", config.events_maxlen, 1, 1000000000);
  CheckRange("presence.poll_interval_ms", config.poll_interval_ms, 100, 3600000);
  CheckRange("presence.batch_size", config.batch_size, 1, 650);
  CheckRange("graph.requests_per_window", config.graph_requests_per_window, 1, 1000000);
  CheckRange("graph.window_s", config.graph_window_s, 1, 3600);
  CheckRange("graph.timeout_ms", config.graph_timeout_ms, 100, 120000);
  CheckRange("http.max_body_bytes", config.max_body_bytes, 1024, 16777216);
  FUZZ_CHECK(IsBaseUrl(config.graph_url), config.graph_url);
  FUZZ_CHECK(IsBaseUrl(config.login_url), config.login_url);
  const std::string& level = config.log_level;
  FUZZ_CHECK(level == "trace" || level == "debug" || level == "info" || level == "warn" ||
                 level == "error",
             level);
  FUZZ_CHECK(config.log_format == "text" || config.log_format == "json", config.log_format);

  // Every app with a client id has a secret (the file cannot hold one, so it
  // came from the environment).
  FUZZ_CHECK(config.graph_default.client_id.empty() == config.graph_default.client_secret.empty(),
             "default Graph app: client_id and secret not both set");
  for (const auto& [tenant, app] : config.graph_tenants) {
    FUZZ_CHECK(app.client_id.empty() == app.client_secret.empty(), "graph tenant " + tenant);
  }
}

// The values CheckAccepted looked at, as TOML (secrets and tenants left out:
// they cannot be written back).
std::string WriteBack(const Config& c) {
  auto integer = [](uint64_t value) { return static_cast<int64_t>(value); };
  toml::table root{
      {"instance", toml::table{{"id", c.instance_id}, {"listen", c.listen}}},
      {"redis",
       toml::table{{"address", c.redis_address}, {"timeout_ms", integer(c.redis_timeout_ms)}}},
      {"partitions", toml::table{{"count", integer(c.partitions)},
                                 {"lease_ms", integer(c.lease_ms)},
                                 {"renew_ms", integer(c.renew_ms)}}},
      {"membership", toml::table{{"heartbeat_ms", integer(c.heartbeat_ms)},
                                 {"ttl_ms", integer(c.member_ttl_ms)},
                                 {"stabilization_ms", integer(c.stabilization_ms)}}},
      {"agents", toml::table{{"tombstone_retention_s", integer(c.tombstone_retention_s)},
                             {"idempotency_retention_s", integer(c.idempotency_retention_s)}}},
      {"events", toml::table{{"maxlen", integer(c.events_maxlen)}}},
      {"presence", toml::table{{"poll_interval_ms", integer(c.poll_interval_ms)},
                               {"batch_size", integer(c.batch_size)}}},
      {"graph", toml::table{{"graph_url", c.graph_url},
                            {"login_url", c.login_url},
                            {"requests_per_window", integer(c.graph_requests_per_window)},
                            {"window_s", integer(c.graph_window_s)},
                            {"timeout_ms", integer(c.graph_timeout_ms)}}},
      {"http", toml::table{{"max_body_bytes", integer(c.max_body_bytes)}}},
      {"log", toml::table{{"level", c.log_level}, {"format", c.log_format}}},
  };
  std::ostringstream out;
  out << root;
  return out.str();
}

bool SameWrittenValues(const Config& a, const Config& b) {
  return a.instance_id == b.instance_id && a.listen == b.listen &&
         a.redis_address == b.redis_address && a.redis_timeout_ms == b.redis_timeout_ms &&
         a.partitions == b.partitions && a.lease_ms == b.lease_ms && a.renew_ms == b.renew_ms &&
         a.heartbeat_ms == b.heartbeat_ms && a.member_ttl_ms == b.member_ttl_ms &&
         a.stabilization_ms == b.stabilization_ms &&
         a.tombstone_retention_s == b.tombstone_retention_s &&
         a.idempotency_retention_s == b.idempotency_retention_s &&
         a.events_maxlen == b.events_maxlen && a.poll_interval_ms == b.poll_interval_ms &&
         a.batch_size == b.batch_size && a.graph_url == b.graph_url && a.login_url == b.login_url &&
         a.graph_requests_per_window == b.graph_requests_per_window &&
         a.graph_window_s == b.graph_window_s && a.graph_timeout_ms == b.graph_timeout_ms &&
         a.max_body_bytes == b.max_body_bytes && a.log_level == b.log_level &&
         a.log_format == b.log_format;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto config = presence::config::ParseConfig(fuzz::AsText(data, size), kPath);
  if (!config.ok()) {
    FUZZ_CHECK(config.error().code == "bad_config", config.error().code);
    FUZZ_CHECK(config.error().message.rfind(kPath, 0) == 0, config.error().message);
    return 0;
  }
  CheckAccepted(*config);

  const std::string text = WriteBack(*config);
  auto again = presence::config::ParseConfig(text, kPath);
  FUZZ_CHECK(again.ok(), text + "\n" + again.error().message);
  FUZZ_CHECK(SameWrittenValues(*config, *again), text);
  return 0;
}
