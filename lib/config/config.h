#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

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
  std::string redis_username;  // "" = the default user
  std::string redis_password;  // resolved from password_env / password_file; "" = no AUTH

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
  uint64_t idempotency_retention_s = 86400;

  // [events]
  uint64_t events_maxlen = 1000000;

  // [presence]
  uint32_t poll_interval_ms = 5000;
  uint32_t batch_size = 650;

  // [graph]
  std::string graph_url = "https://graph.microsoft.com";
  std::string login_url = "https://login.microsoftonline.com";
  GraphTenant graph_default;                         // used for tenants without their own entry
  std::map<std::string, GraphTenant> graph_tenants;  // [graph.tenants."ID"]
  uint32_t graph_requests_per_window = 1500;
  uint32_t graph_window_s = 30;
  uint32_t graph_timeout_ms = 10000;

  // [http]: limits of the transport, whatever the request means (docs/limits.md)
  uint32_t max_body_bytes = 65536;
  uint32_t max_header_bytes = 16384;  // 1024 to 65535 (Beast's 16-bit field offsets)
  uint32_t max_headers = 100;
  uint32_t max_connections = 10000;
  uint32_t read_timeout_ms = 10000;
  uint32_t idle_timeout_ms = 60000;
  uint32_t write_timeout_ms = 10000;

  // [api]: limits on the content of REST API requests (docs/limits.md)
  uint32_t max_json_depth = 16;
  uint32_t max_labels = 64;
  uint32_t max_labels_bytes = 4096;
  uint32_t max_id_length = 128;

  // [auth]
  bool auth_enabled = true;
  uint32_t auth_cache_ms = 1000;
  uint32_t auth_requests_per_second = 1000;  // per API key and instance
  uint32_t auth_burst = 2000;
  std::string auth_metrics = "admin";  // "admin" or "open"

  // [log]
  std::string log_level = "info";
  std::string log_format = "text";  // "text" or "json"
};

// A "host:port" address split into its parts. The host is a name, an IPv4
// address or an IPv6 address in brackets ("[::1]:8080" gives host "::1").
struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// Splits "host:port"; the port may be 0. Errors (code "bad_config") name the
// address and the reason.
Result<HostPort> SplitHostPort(std::string_view address);

// Reads and validates a TOML file. Unknown keys and out-of-range values are
// errors whose message names the file, the line and the problem:
// "conf/presenced.toml:12: partitions.count must be between 1 and 4096".
// Every error has the code "bad_config"; when a file has several problems the
// message holds one line per problem, in file order. An empty instance.id
// becomes the host name. Graph secrets are read here (from the environment
// variable or file the config names), so a missing secret is an error too.
Result<Config> LoadConfig(const std::string& path);

// The same for TOML text already in memory; `path` names it in messages and is
// the base of a relative client_secret_file. LoadConfig reads the file and
// calls this.
Result<Config> ParseConfig(std::string_view text, const std::string& path);

// Applies PRESENCE_INSTANCE_ID, PRESENCE_LISTEN and PRESENCE_REDIS when set
// and not empty. Does not validate: call Validate() afterwards.
void ApplyEnvironment(Config& config);

// Checks the fields that the environment and the command line can override:
// the instance id (1 to 128 letters, digits and "-_.:@"), the listen address
// ("host:port", port 0 to 65535) and the Redis address (port 1 to 65535).
// Call it after ApplyEnvironment() and command-line overrides.
Status Validate(const Config& config);

// The Graph credentials for a tenant: its own entry or the default ones.
// For the default ones, a copy is made in `scratch` with azure_tenant_id set
// to `tenant` when it is empty, and a reference to `scratch` is returned.
const GraphTenant& GraphCredentials(const Config& config, const std::string& tenant,
                                    GraphTenant& scratch);

}  // namespace presence::config
