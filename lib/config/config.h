#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "util/result.h"

namespace presence::config {

// Credentials of the Graph app for one customer tenant.
struct GraphTenant {
  std::string azure_tenant_id;  // directory id used in the token URL; defaults to the tenant id
  std::string client_id;
  std::string client_secret;  // resolved from client_secret_env / client_secret_file
};

// Everything presenced reads from conf/presenced.toml; every field's meaning
// and default is documented there.
struct Config {
  // [instance]
  std::string instance_id;  // default: the host name
  std::string listen = "127.0.0.1:8080";

  // [redis]
  std::string redis_address = "127.0.0.1:6379";
  uint32_t redis_timeout_ms = 2000;

  // [partitions]
  uint32_t partitions = 64;
  uint32_t lease_ms = 2000;
  uint32_t renew_ms = 500;

  // [membership]
  uint32_t heartbeat_ms = 500;
  uint32_t member_ttl_ms = 2000;
  uint32_t stabilization_ms = 1000;

  // [agents]
  uint64_t tombstone_retention_s = 86400;

  // [events]
  uint64_t events_maxlen = 1000000;

  // [presence]
  uint32_t poll_interval_ms = 5000;
  uint32_t batch_size = 650;

  // [graph]
  std::string graph_url = "https://graph.microsoft.com";
  std::string login_url = "https://login.microsoftonline.com";
  GraphTenant graph_default;                     // used for tenants without their own entry
  std::map<std::string, GraphTenant> graph_tenants;  // [graph.tenants."ID"]
  uint32_t graph_requests_per_window = 1500;
  uint32_t graph_window_s = 30;
  uint32_t graph_timeout_ms = 10000;

  // [http]
  uint32_t max_body_bytes = 65536;

  // [log]
  std::string log_level = "info";
  std::string log_format = "text";  // "text" or "json"
};

// Reads and validates a TOML file. Unknown keys and out-of-range values are
// errors whose message names the file, the line and the problem:
// "conf/presenced.toml:12: partitions.count must be between 1 and 4096".
Result<Config> LoadConfig(const std::string& path);

// Applies PRESENCE_INSTANCE_ID, PRESENCE_LISTEN and PRESENCE_REDIS when set.
void ApplyEnvironment(Config& config);

// The Graph credentials for a tenant: its own entry or the default ones.
const GraphTenant& GraphCredentials(const Config& config, const std::string& tenant,
                                    GraphTenant& scratch);

}  // namespace presence::config
