#include "config/config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <span>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include <toml++/toml.h>

namespace presence::config {
namespace {

constexpr char kErrorCode[] = "bad_config";

// The keys each table may hold. A key of a table that is not listed here is an
// error, so that a typo never silently leaves a default in place.
constexpr std::string_view kRootKeys[] = {"instance", "redis",  "partitions", "membership",
                                          "agents",   "events", "presence",   "graph",
                                          "http",     "log",    "auth",       "api"};
constexpr std::string_view kInstanceKeys[] = {"id", "listen"};
constexpr std::string_view kRedisKeys[] = {"address", "timeout_ms", "username", "password_env",
                                           "password_file"};
constexpr std::string_view kAuthKeys[] = {"enabled", "cache_ms", "requests_per_second", "burst",
                                          "metrics"};
constexpr std::string_view kAuthMetrics[] = {"admin", "open"};
constexpr std::string_view kPartitionsKeys[] = {"count", "lease_ms", "renew_ms"};
constexpr std::string_view kMembershipKeys[] = {"heartbeat_ms", "ttl_ms", "stabilization_ms"};
constexpr std::string_view kAgentsKeys[] = {"tombstone_retention_s", "idempotency_retention_s"};
constexpr std::string_view kEventsKeys[] = {"maxlen"};
constexpr std::string_view kPresenceKeys[] = {"poll_interval_ms", "batch_size"};
constexpr std::string_view kGraphKeys[] = {
    "graph_url",         "login_url",          "client_id",
    "client_secret_env", "client_secret_file", "requests_per_window",
    "window_s",          "timeout_ms",         "tenants"};
constexpr std::string_view kTenantKeys[] = {"azure_tenant_id", "client_id", "client_secret_env",
                                            "client_secret_file"};
constexpr std::string_view kHttpKeys[] = {"max_body_bytes",  "max_header_bytes", "max_headers",
                                          "max_connections", "read_timeout_ms",  "idle_timeout_ms",
                                          "write_timeout_ms"};
constexpr std::string_view kApiKeys[] = {"max_json_depth", "max_labels", "max_labels_bytes",
                                         "max_id_length"};
constexpr std::string_view kLogKeys[] = {"level", "format"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};
constexpr std::string_view kLogFormats[] = {"text", "json"};

// Characters allowed in ids, besides ASCII letters and digits.
constexpr std::string_view kInstanceIdExtra = "-_.:@";
constexpr std::string_view kTenantIdExtra = "-_.@";
constexpr std::string_view kAzureTenantIdExtra = "-_.";
constexpr size_t kMaxIdLength = 128;

bool IsIdentifier(std::string_view id, std::string_view extra) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [extra](char c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || extra.find(c) != std::string_view::npos;
  });
}

std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// Levenshtein distance, for "did you mean" hints on unknown keys.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The known key closest to `key`, or "" when none is close enough to be a typo.
std::string_view ClosestKey(std::string_view key, std::span<const std::string_view> known) {
  std::string_view best;
  size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
  for (std::string_view candidate : known) {
    const bool prefix =
        key.size() >= 3 && (candidate.starts_with(key) || key.starts_with(candidate));
    const size_t distance = prefix ? 1 : EditDistance(key, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

// The first line of a node. Tables created implicitly (the `graph.tenants` of
// `[graph.tenants."x"]`) have no position of their own: they take the first
// line of their contents.
uint32_t LineOf(const toml::node& node) {
  const uint32_t line = node.source().begin.line;
  if (line != 0 || !node.is_table()) return line;
  uint32_t first = 0;
  for (auto&& [key, child] : *node.as_table()) {
    const uint32_t child_line =
        key.source().begin.line != 0 ? key.source().begin.line : LineOf(child);
    if (child_line != 0 && (first == 0 || child_line < first)) first = child_line;
  }
  return first;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return MakeError(kErrorCode, fmt::format("{}: cannot read: {}", path, strerror(EISDIR)));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(kErrorCode, fmt::format("{}: cannot read: {}", path, strerror(errno)));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return MakeError(kErrorCode, fmt::format("{}: cannot read: {}", path, strerror(errno)));
  }
  return content.str();
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

// Turns one parsed TOML document into a Config. Every problem is recorded with
// its line and reading goes on, so that one run reports all of them.
class Reader {
 public:
  Reader(std::string path, const toml::table& root)
      : path_(std::move(path)),
        directory_(std::filesystem::path(path_).parent_path()),
        root_(root) {}

  Result<Config> Read() {
    CheckKeys(root_, "", kRootKeys);
    if (const toml::table* t = Section(root_, "instance")) ReadInstance(*t);
    if (const toml::table* t = Section(root_, "redis")) ReadRedis(*t);
    if (const toml::table* t = Section(root_, "partitions")) ReadPartitions(*t);
    if (const toml::table* t = Section(root_, "membership")) ReadMembership(*t);
    if (const toml::table* t = Section(root_, "agents")) ReadAgents(*t);
    if (const toml::table* t = Section(root_, "events")) ReadEvents(*t);
    if (const toml::table* t = Section(root_, "presence")) ReadPresence(*t);
    if (const toml::table* t = Section(root_, "graph")) ReadGraph(*t);
    if (const toml::table* t = Section(root_, "http")) ReadHttp(*t);
    if (const toml::table* t = Section(root_, "api")) ReadApi(*t);
    if (const toml::table* t = Section(root_, "log")) ReadLog(*t);
    if (const toml::table* t = Section(root_, "auth")) ReadAuth(*t);
    if (config_.instance_id.empty()) config_.instance_id = HostName();
    if (config_.instance_id.empty())
      AddProblem(0, "instance.id is empty and the host name is unknown");
    return Finish();
  }

 private:
  struct Problem {
    uint32_t line;
    std::string what;
  };

  void ReadInstance(const toml::table& t) {
    CheckKeys(t, "instance", kInstanceKeys);
    if (const toml::node* node = String(t, "instance", "id", config_.instance_id)) {
      if (!config_.instance_id.empty() && !IsIdentifier(config_.instance_id, kInstanceIdExtra)) {
        AddProblem(*node, fmt::format("instance.id must be 1 to 128 letters, digits and \"{}\", "
                                      "got \"{}\"",
                                      kInstanceIdExtra, config_.instance_id));
      }
    }
    Address(t, "instance", "listen", 0, config_.listen);
  }

  void ReadRedis(const toml::table& t) {
    CheckKeys(t, "redis", kRedisKeys);
    Address(t, "redis", "address", 1, config_.redis_address);
    Integer(t, "redis", "timeout_ms", 10, 60000, config_.redis_timeout_ms);
    String(t, "redis", "username", config_.redis_username);
    ReadRedisPassword(t);
  }

  // redis.password_env or redis.password_file, like the Graph client secret: the password
  // itself is never written in the config file.
  void ReadRedisPassword(const toml::table& t) {
    std::string variable;
    std::string file;
    const toml::node* variable_node = String(t, "redis", "password_env", variable);
    const toml::node* file_node = String(t, "redis", "password_file", file);
    if (!variable.empty() && !file.empty()) {
      AddProblem(*file_node, "redis: password_env and password_file are both set; keep one");
      return;
    }
    if (!variable.empty()) {
      const char* value = std::getenv(variable.c_str());
      if (value == nullptr || *value == '\0') {
        AddProblem(*variable_node, fmt::format("redis.password_env: environment variable {} is {}",
                                               variable, value == nullptr ? "not set" : "empty"));
        return;
      }
      config_.redis_password = value;
      return;
    }
    if (file.empty()) return;
    const std::filesystem::path password_path = directory_ / file;
    Result<std::string> content = ReadWholeFile(password_path.string());
    if (!content.ok()) {
      AddProblem(*file_node, fmt::format("redis.password_file: {}", content.error().message));
      return;
    }
    std::string password = std::move(content).value();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
    if (password.empty()) {
      AddProblem(*file_node,
                 fmt::format("redis.password_file: {} is empty", password_path.string()));
      return;
    }
    config_.redis_password = std::move(password);
  }

  void ReadAuth(const toml::table& t) {
    CheckKeys(t, "auth", kAuthKeys);
    if (const toml::node* node = t.get("enabled")) {
      if (const toml::value<bool>* value = node->as_boolean()) {
        config_.auth_enabled = value->get();
      } else {
        AddProblem(*node, fmt::format("auth.enabled must be a boolean, got {}", TypeName(*node)));
      }
    }
    Integer(t, "auth", "cache_ms", 0, 60000, config_.auth_cache_ms);
    Integer(t, "auth", "requests_per_second", 1, 10000000, config_.auth_requests_per_second);
    Integer(t, "auth", "burst", 1, 100000000, config_.auth_burst);
    Choice(t, "auth", "metrics", kAuthMetrics, config_.auth_metrics);
  }

  void ReadPartitions(const toml::table& t) {
    const size_t before = problems_.size();
    CheckKeys(t, "partitions", kPartitionsKeys);
    Integer(t, "partitions", "count", 1, 4096, config_.partitions);
    Integer(t, "partitions", "lease_ms", 500, 60000, config_.lease_ms);
    Integer(t, "partitions", "renew_ms", 50, 30000, config_.renew_ms);

    // An owner renews at least twice per lease, so one lost renewal never costs the lease.
    if (problems_.size() == before && config_.renew_ms >= config_.lease_ms / 2) {
      AddProblem(KeyLine(t, t.contains("renew_ms") ? "renew_ms" : "lease_ms"),
                 fmt::format("partitions.renew_ms must be less than half of partitions.lease_ms "
                             "({} ms), got {}",
                             config_.lease_ms, config_.renew_ms));
    }
  }

  void ReadMembership(const toml::table& t) {
    const size_t before = problems_.size();
    CheckKeys(t, "membership", kMembershipKeys);
    Integer(t, "membership", "heartbeat_ms", 50, 30000, config_.heartbeat_ms);
    Integer(t, "membership", "ttl_ms", 500, 60000, config_.member_ttl_ms);
    Integer(t, "membership", "stabilization_ms", 0, 60000, config_.stabilization_ms);

    // Same rule as for leases: a member survives one lost heartbeat.
    if (problems_.size() == before && config_.heartbeat_ms >= config_.member_ttl_ms / 2) {
      AddProblem(KeyLine(t, t.contains("heartbeat_ms") ? "heartbeat_ms" : "ttl_ms"),
                 fmt::format("membership.heartbeat_ms must be less than half of "
                             "membership.ttl_ms ({} ms), got {}",
                             config_.member_ttl_ms, config_.heartbeat_ms));
    }
  }

  void ReadAgents(const toml::table& t) {
    CheckKeys(t, "agents", kAgentsKeys);
    Integer(t, "agents", "tombstone_retention_s", 1, 31536000, config_.tombstone_retention_s);
    Integer(t, "agents", "idempotency_retention_s", 1, 31536000, config_.idempotency_retention_s);
  }

  void ReadEvents(const toml::table& t) {
    CheckKeys(t, "events", kEventsKeys);
    Integer(t, "events", "maxlen", 1, 1000000000, config_.events_maxlen);
  }

  void ReadPresence(const toml::table& t) {
    CheckKeys(t, "presence", kPresenceKeys);
    Integer(t, "presence", "poll_interval_ms", 100, 3600000, config_.poll_interval_ms);
    Integer(t, "presence", "batch_size", 1, 650, config_.batch_size);
  }

  void ReadGraph(const toml::table& t) {
    CheckKeys(t, "graph", kGraphKeys);
    Url(t, "graph", "graph_url", config_.graph_url);
    Url(t, "graph", "login_url", config_.login_url);
    Integer(t, "graph", "requests_per_window", 1, 1000000, config_.graph_requests_per_window);
    Integer(t, "graph", "window_s", 1, 3600, config_.graph_window_s);
    Integer(t, "graph", "timeout_ms", 100, 120000, config_.graph_timeout_ms);

    // The default app: optional, but when there is a client id there is a secret.
    const toml::node* client_id = String(t, "graph", "client_id", config_.graph_default.client_id);
    const bool has_secret = Secret(t, "graph", config_.graph_default);
    if (client_id && !config_.graph_default.client_id.empty() && !has_secret) {
      AddProblem(*client_id,
                 "graph.client_id is set but neither graph.client_secret_env nor "
                 "graph.client_secret_file is");
    }
    if (has_secret && config_.graph_default.client_id.empty()) {
      AddProblem(
          KeyLine(t, t.contains("client_secret_env") ? "client_secret_env" : "client_secret_file"),
          "graph has a client secret but graph.client_id is empty");
    }

    if (const toml::table* tenants = Section(t, "tenants", "graph.tenants")) ReadTenants(*tenants);
  }

  void ReadTenants(const toml::table& tenants) {
    for (auto&& [key, node] : tenants) {
      const std::string tenant(key.str());
      const std::string name = fmt::format("graph.tenants.\"{}\"", tenant);
      const uint32_t line = key.source().begin.line != 0 ? key.source().begin.line : LineOf(node);
      if (!IsIdentifier(tenant, kTenantIdExtra)) {
        AddProblem(line, fmt::format("{}: a tenant id must be 1 to 128 letters, digits and "
                                     "\"{}\"",
                                     name, kTenantIdExtra));
        continue;
      }
      if (!node.is_table()) {
        AddProblem(line, fmt::format("{} must be a table, got {}", name, TypeName(node)));
        continue;
      }
      ReadTenant(*node.as_table(), tenant, name, line);
    }
  }

  // One [graph.tenants."ID"] table. Without a client_id of its own the tenant
  // uses the default app's client id and secret.
  void ReadTenant(const toml::table& t, const std::string& tenant, const std::string& name,
                  uint32_t line) {
    CheckKeys(t, name, kTenantKeys);
    GraphTenant entry;
    if (const toml::node* node = String(t, name, "azure_tenant_id", entry.azure_tenant_id)) {
      if (!IsIdentifier(entry.azure_tenant_id, kAzureTenantIdExtra)) {
        AddProblem(*node, fmt::format("{}.azure_tenant_id must be 1 to 128 letters, digits and "
                                      "\"{}\", got \"{}\"",
                                      name, kAzureTenantIdExtra, entry.azure_tenant_id));
      }
    }
    if (entry.azure_tenant_id.empty()) entry.azure_tenant_id = tenant;

    String(t, name, "client_id", entry.client_id);
    const bool has_secret = Secret(t, name, entry);
    if (!entry.client_id.empty() && !has_secret) {
      AddProblem(KeyLine(t, "client_id"),
                 fmt::format("{}.client_id is set but neither client_secret_env nor "
                             "client_secret_file is",
                             name));
    } else if (entry.client_id.empty() && has_secret) {
      AddProblem(line, fmt::format("{} has a client secret but no client_id", name));
    } else if (entry.client_id.empty()) {
      if (config_.graph_default.client_id.empty()) {
        AddProblem(line, fmt::format("{} has no client_id and graph.client_id is empty", name));
      }
      entry.client_id = config_.graph_default.client_id;
      entry.client_secret = config_.graph_default.client_secret;
    }
    config_.graph_tenants[tenant] = std::move(entry);
  }

  void ReadHttp(const toml::table& t) {
    CheckKeys(t, "http", kHttpKeys);
    Integer(t, "http", "max_body_bytes", 1024, 16777216, config_.max_body_bytes);
    // At most 65535: Boost 1.74 keeps a header field's offsets in 16 bits and
    // throws on a longer line; within this limit no line can be that long.
    Integer(t, "http", "max_header_bytes", 1024, 65535, config_.max_header_bytes);
    Integer(t, "http", "max_headers", 8, 10000, config_.max_headers);
    Integer(t, "http", "max_connections", 1, 1000000, config_.max_connections);
    Integer(t, "http", "read_timeout_ms", 100, 600000, config_.read_timeout_ms);
    Integer(t, "http", "idle_timeout_ms", 100, 3600000, config_.idle_timeout_ms);
    Integer(t, "http", "write_timeout_ms", 100, 600000, config_.write_timeout_ms);
  }

  void ReadApi(const toml::table& t) {
    CheckKeys(t, "api", kApiKeys);
    Integer(t, "api", "max_json_depth", 2, 64, config_.max_json_depth);
    Integer(t, "api", "max_labels", 0, 1024, config_.max_labels);
    Integer(t, "api", "max_labels_bytes", 2, 65536, config_.max_labels_bytes);
    // DESIGN.md fixes ids at 1 to 128 characters; a deployment may only ask for less.
    Integer(t, "api", "max_id_length", 1, 128, config_.max_id_length);
  }

  void ReadLog(const toml::table& t) {
    CheckKeys(t, "log", kLogKeys);
    Choice(t, "log", "level", kLogLevels, config_.log_level);
    Choice(t, "log", "format", kLogFormats, config_.log_format);
  }

  // Resolves client_secret_env or client_secret_file of `t` into out.client_secret.
  // Returns whether a secret is given at all (even when reading it failed).
  bool Secret(const toml::table& t, std::string_view name, GraphTenant& out) {
    std::string variable;
    std::string file;
    const toml::node* variable_node = String(t, name, "client_secret_env", variable);
    const toml::node* file_node = String(t, name, "client_secret_file", file);
    if (!variable.empty() && !file.empty()) {
      AddProblem(*file_node, fmt::format("{}: client_secret_env and client_secret_file are both "
                                         "set; keep one",
                                         name));
      return true;
    }

    // The secret lives in the environment: never in the file, never in logs.
    if (!variable.empty()) {
      const char* value = std::getenv(variable.c_str());
      if (value == nullptr || *value == '\0') {
        AddProblem(*variable_node,
                   fmt::format("{}.client_secret_env: environment variable {} is "
                               "{}",
                               name, variable, value == nullptr ? "not set" : "empty"));
        return true;
      }
      out.client_secret = value;
      return true;
    }

    // Or in a file of its own; a relative path is relative to the config file.
    if (!file.empty()) {
      const std::filesystem::path secret_path = directory_ / file;
      Result<std::string> content = ReadWholeFile(secret_path.string());
      if (!content.ok()) {
        AddProblem(*file_node,
                   fmt::format("{}.client_secret_file: {}", name, content.error().message));
        return true;
      }
      std::string secret = std::move(content).value();
      while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
      if (secret.empty()) {
        AddProblem(*file_node,
                   fmt::format("{}.client_secret_file: {} is empty", name, secret_path.string()));
        return true;
      }
      out.client_secret = std::move(secret);
      return true;
    }

    // A literal client_secret is already refused by CheckKeys(); counting it as
    // set avoids a second, misleading "no secret" problem.
    return t.contains("client_secret");
  }

  // A sub-table of `parent`, or nullptr when absent or not a table (a problem).
  const toml::table* Section(const toml::table& parent, std::string_view key,
                             std::string_view name = {}) {
    if (name.empty()) name = key;
    const toml::node* node = parent.get(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) {
      AddProblem(*node, fmt::format("{} must be a table, got {}", name, TypeName(*node)));
      return nullptr;
    }
    return node->as_table();
  }

  // Records every key of `t` that is not in `known`.
  void CheckKeys(const toml::table& t, std::string_view name,
                 std::span<const std::string_view> known) {
    const bool holds_secrets =
        std::find(known.begin(), known.end(), "client_secret_env") != known.end();
    const bool holds_password =
        std::find(known.begin(), known.end(), "password_env") != known.end();
    for (auto&& [key, node] : t) {
      const std::string_view key_name = key.str();
      if (std::find(known.begin(), known.end(), key_name) != known.end()) continue;

      const std::string full =
          name.empty() ? std::string(key_name) : fmt::format("{}.{}", name, key_name);
      const uint32_t line = key.source().begin.line != 0 ? key.source().begin.line : LineOf(node);
      if (holds_secrets && key_name == "client_secret") {
        AddProblem(line, fmt::format("{} is refused: a secret must not be written in the config "
                                     "file; name an environment variable with client_secret_env "
                                     "or a file with client_secret_file",
                                     full));
        continue;
      }
      if (holds_password && key_name == "password") {
        AddProblem(line, fmt::format("{} is refused: a password must not be written in the "
                                     "config file; name an environment variable with "
                                     "password_env or a file with password_file",
                                     full));
        continue;
      }
      std::string what = node.is_table() ? fmt::format("unknown table [{}]", full)
                                         : fmt::format("unknown key {}", full);
      const std::string_view hint = ClosestKey(key_name, known);
      if (!hint.empty()) what += fmt::format(" (did you mean {}?)", hint);
      AddProblem(line, std::move(what));
    }
  }

  // Reads an integer key into `out` when present and within [min, max].
  template <typename T>
  void Integer(const toml::table& t, std::string_view name, std::string_view key, int64_t min,
               int64_t max, T& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return;
    const toml::value<int64_t>* value = node->as_integer();
    if (value == nullptr) {
      AddProblem(*node,
                 fmt::format("{}.{} must be an integer, got {}", name, key, TypeName(*node)));
      return;
    }
    const int64_t number = value->get();
    if (number < min || number > max) {
      AddProblem(*node, fmt::format("{}.{} must be between {} and {}, got {}", name, key, min, max,
                                    number));
      return;
    }
    out = static_cast<T>(number);
  }

  // Reads a string key into `out`; returns its node, or nullptr when absent or of
  // another type (a problem).
  const toml::node* String(const toml::table& t, std::string_view name, std::string_view key,
                           std::string& out) {
    const toml::node* node = t.get(key);
    if (node == nullptr) return nullptr;
    const toml::value<std::string>* value = node->as_string();
    if (value == nullptr) {
      AddProblem(*node, fmt::format("{}.{} must be a string, got {}", name, key, TypeName(*node)));
      return nullptr;
    }
    out = value->get();
    return node;
  }

  void Choice(const toml::table& t, std::string_view name, std::string_view key,
              std::span<const std::string_view> allowed, std::string& out) {
    std::string value;
    const toml::node* node = String(t, name, key, value);
    if (node == nullptr) return;
    if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
      AddProblem(*node, fmt::format("{}.{} must be one of {}, got \"{}\"", name, key,
                                    fmt::join(allowed, ", "), value));
      return;
    }
    out = std::move(value);
  }

  // A "host:port" string whose port is at least min_port.
  void Address(const toml::table& t, std::string_view name, std::string_view key, uint16_t min_port,
               std::string& out) {
    std::string value;
    const toml::node* node = String(t, name, key, value);
    if (node == nullptr) return;
    Result<HostPort> address = SplitHostPort(value);
    if (!address.ok()) {
      AddProblem(*node, fmt::format("{}.{}: {}", name, key, address.error().message));
      return;
    }
    if (address->port < min_port) {
      AddProblem(*node, fmt::format("{}.{}: address \"{}\": the port must be between {} and "
                                    "65535",
                                    name, key, value, min_port));
      return;
    }
    out = std::move(value);
  }

  // An http:// or https:// base URL, kept without a trailing slash.
  void Url(const toml::table& t, std::string_view name, std::string_view key, std::string& out) {
    std::string value;
    const toml::node* node = String(t, name, key, value);
    if (node == nullptr) return;
    while (!value.empty() && value.back() == '/') value.pop_back();
    std::string_view rest = value;
    const bool scheme = (rest.starts_with("http://") && (rest.remove_prefix(7), true)) ||
                        (rest.starts_with("https://") && (rest.remove_prefix(8), true));
    if (!scheme || rest.empty() || rest.find_first_of(" \t\r\n") != std::string_view::npos) {
      AddProblem(*node, fmt::format("{}.{} must be an http:// or https:// URL, got \"{}\"", name,
                                    key, value));
      return;
    }
    out = std::move(value);
  }

  // The line of t[key] when present, else of the table itself.
  uint32_t KeyLine(const toml::table& t, std::string_view key) const {
    const toml::node* node = t.get(key);
    return node != nullptr ? LineOf(*node) : LineOf(t);
  }

  void AddProblem(const toml::node& node, std::string what) {
    AddProblem(LineOf(node), std::move(what));
  }

  void AddProblem(uint32_t line, std::string what) {
    problems_.push_back(Problem{line, std::move(what)});
  }

  // The Config, or one error listing every problem in file order.
  Result<Config> Finish() {
    if (problems_.empty()) return std::move(config_);
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
    std::string message;
    for (const Problem& problem : problems_) {
      if (!message.empty()) message += '\n';
      message += problem.line != 0 ? fmt::format("{}:{}: {}", path_, problem.line, problem.what)
                                   : fmt::format("{}: {}", path_, problem.what);
    }
    return MakeError(kErrorCode, std::move(message));
  }

  const std::string path_;
  const std::filesystem::path directory_;
  const toml::table& root_;
  Config config_;
  std::vector<Problem> problems_;
};

}  // namespace

Result<HostPort> SplitHostPort(std::string_view address) {
  auto fail = [address](std::string_view reason) {
    return MakeError(kErrorCode, fmt::format("address \"{}\": {}", address, reason));
  };

  // The port follows the last colon; an IPv6 host is written in brackets.
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return fail("expected host:port");
  std::string_view host = address.substr(0, colon);
  const std::string_view port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of(":[]") != std::string_view::npos) {
    return fail("an IPv6 host must be in brackets, as in [::1]:8080");
  }
  if (host.empty()) return fail("the host is empty (expected host:port)");
  const bool bad_host = std::any_of(host.begin(), host.end(), [](char c) {
    return c <= ' ' || c == '/' || c == '@' || c == '\x7f';
  });
  if (bad_host) return fail("the host contains a space, '/' or '@'");

  // The port: decimal, 0 to 65535.
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  const unsigned long number = digits ? std::stoul(std::string(port)) : 0;
  if (!digits || number > std::numeric_limits<uint16_t>::max()) {
    return fail("the port must be a number from 0 to 65535");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(number)};
}

Result<Config> LoadConfig(const std::string& path) {
  Result<std::string> content = ReadWholeFile(path);
  if (!content.ok()) return content.error();
  return ParseConfig(content.value(), path);
}

Result<Config> ParseConfig(std::string_view text, const std::string& path) {
  // toml++ throws on syntax errors; turn that into FILE:LINE: reason.
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& error) {
    const toml::source_position& at = error.source().begin;
    return MakeError(kErrorCode, fmt::format("{}:{}: syntax error: {} (column {})", path, at.line,
                                             error.description(), at.column));
  }
  return Reader(path, root).Read();
}

void ApplyEnvironment(Config& config) {
  auto apply = [](const char* variable, std::string& field) {
    const char* value = std::getenv(variable);
    if (value != nullptr && *value != '\0') field = value;
  };
  apply("PRESENCE_INSTANCE_ID", config.instance_id);
  apply("PRESENCE_LISTEN", config.listen);
  apply("PRESENCE_REDIS", config.redis_address);
}

Status Validate(const Config& config) {
  if (!IsIdentifier(config.instance_id, kInstanceIdExtra)) {
    return MakeError(kErrorCode, fmt::format("instance id \"{}\": must be 1 to 128 letters, "
                                             "digits and \"{}\"",
                                             config.instance_id, kInstanceIdExtra));
  }
  Result<HostPort> listen = SplitHostPort(config.listen);
  if (!listen.ok()) {
    return MakeError(kErrorCode, fmt::format("listen {}", listen.error().message));
  }
  Result<HostPort> redis = SplitHostPort(config.redis_address);
  if (!redis.ok()) return MakeError(kErrorCode, fmt::format("redis {}", redis.error().message));
  if (redis->port == 0) {
    return MakeError(kErrorCode, fmt::format("redis address \"{}\": the port must be between 1 "
                                             "and 65535",
                                             config.redis_address));
  }
  return Ok{};
}

const GraphTenant& GraphCredentials(const Config& config, const std::string& tenant,
                                    GraphTenant& scratch) {
  const auto own = config.graph_tenants.find(tenant);
  if (own != config.graph_tenants.end()) return own->second;
  scratch = config.graph_default;
  if (scratch.azure_tenant_id.empty()) scratch.azure_tenant_id = tenant;
  return scratch;
}

}  // namespace presence::config
