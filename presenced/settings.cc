#include "settings.h"

#include <filesystem>

namespace presence::daemon {

namespace {

bool SameTenant(const config::GraphTenant& a, const config::GraphTenant& b) {
  return a.azure_tenant_id == b.azure_tenant_id && a.client_id == b.client_id &&
         a.client_secret == b.client_secret;
}

// The names of the [graph.tenants."ID"] entries added, removed or changed.
void ChangedTenants(const config::Config& before, const config::Config& after,
                    std::vector<std::string>& changed) {
  for (const auto& [id, tenant] : before.graph_tenants) {
    auto other = after.graph_tenants.find(id);
    if (other == after.graph_tenants.end() || !SameTenant(tenant, other->second)) {
      changed.push_back("graph.tenants." + id);
    }
  }
  for (const auto& [id, tenant] : after.graph_tenants) {
    if (!before.graph_tenants.count(id)) changed.push_back("graph.tenants." + id);
  }
}

}  // namespace

std::string ResolveConfigPath(const std::string& given) {
  if (!given.empty()) return given;
  if (std::filesystem::exists("/etc/presence/presenced.toml")) {
    return "/etc/presence/presenced.toml";
  }
  return "conf/presenced.toml";
}

Result<config::Config> LoadSettings(const CommandLine& command_line) {
  auto config = config::LoadConfig(command_line.config_path);
  if (!config) return config.error();
  config::ApplyEnvironment(*config);
  if (!command_line.instance_id.empty()) config->instance_id = command_line.instance_id;
  if (!command_line.listen.empty()) config->listen = command_line.listen;
  if (!command_line.redis.empty()) config->redis_address = command_line.redis;
  if (auto valid = config::Validate(*config); !valid) return valid.error();
  return config;
}

std::vector<std::string> ChangedKeys(const config::Config& a, const config::Config& b) {
  std::vector<std::string> changed;
  auto check = [&](bool differs, const char* key) {
    if (differs) changed.push_back(key);
  };
  check(a.instance_id != b.instance_id, "instance.id");
  check(a.listen != b.listen, "instance.listen");
  check(a.redis_address != b.redis_address, "redis.address");
  check(a.redis_timeout_ms != b.redis_timeout_ms, "redis.timeout_ms");
  check(a.partitions != b.partitions, "partitions.count");
  check(a.lease_ms != b.lease_ms, "partitions.lease_ms");
  check(a.renew_ms != b.renew_ms, "partitions.renew_ms");
  check(a.heartbeat_ms != b.heartbeat_ms, "membership.heartbeat_ms");
  check(a.member_ttl_ms != b.member_ttl_ms, "membership.ttl_ms");
  check(a.stabilization_ms != b.stabilization_ms, "membership.stabilization_ms");
  check(a.tombstone_retention_s != b.tombstone_retention_s, "agents.tombstone_retention_s");
  check(a.idempotency_retention_s != b.idempotency_retention_s, "agents.idempotency_retention_s");
  check(a.events_maxlen != b.events_maxlen, "events.maxlen");
  check(a.poll_interval_ms != b.poll_interval_ms, "presence.poll_interval_ms");
  check(a.batch_size != b.batch_size, "presence.batch_size");
  check(a.graph_url != b.graph_url, "graph.graph_url");
  check(a.login_url != b.login_url, "graph.login_url");
  check(a.graph_default.client_id != b.graph_default.client_id, "graph.client_id");
  check(a.graph_default.client_secret != b.graph_default.client_secret,
        "graph.client_secret_env/client_secret_file (the secret they give)");
  ChangedTenants(a, b, changed);
  check(a.graph_requests_per_window != b.graph_requests_per_window, "graph.requests_per_window");
  check(a.graph_window_s != b.graph_window_s, "graph.window_s");
  check(a.graph_timeout_ms != b.graph_timeout_ms, "graph.timeout_ms");
  check(a.max_body_bytes != b.max_body_bytes, "http.max_body_bytes");
  check(a.log_format != b.log_format, "log.format");
  return changed;
}

}  // namespace presence::daemon
