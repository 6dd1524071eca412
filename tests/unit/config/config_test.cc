#include "config/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <catch2/catch.hpp>

namespace presence::config {
namespace {

namespace fs = std::filesystem;

// The shipped example, found from this file's path: tests/unit/config/ -> conf/.
const fs::path kShippedConfig =
    fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "conf" /
    "presenced.toml";

// A private directory for config and secret files, removed afterwards.
class TempDir {
 public:
  TempDir() {
    // mkdtemp replaces the six trailing X characters.
    std::string pattern =
        (fs::temp_directory_path() / ("presence-config-" + std::string(6, 'X'))).string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }

  std::string Write(const std::string& name, const std::string& content) const {
    const fs::path file = path_ / name;
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  fs::path path_;
};

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = getenv(name_.c_str())) old_ = old;
    if (value != nullptr) {
      setenv(name_.c_str(), value, 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Loads `content` and returns the error message with the file's path written
// as FILE; fails the test if it loads.
std::string LoadError(const TempDir& dir, const std::string& content) {
  const std::string file = dir.Write("presenced.toml", content);
  Result<Config> config = LoadConfig(file);
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().code == "bad_config");
  std::string message = config.error().message;
  for (size_t at = message.find(file); at != std::string::npos; at = message.find(file, at)) {
    message.replace(at, file.size(), "FILE");
  }
  return message;
}

std::string HostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

TEST_CASE("the shipped config loads and holds the defaults", "[config]") {
  Result<Config> loaded = LoadConfig(kShippedConfig.string());
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  const Config& config = loaded.value();
  const Config defaults;

  CHECK(config.instance_id == HostName());
  CHECK(config.listen == defaults.listen);
  CHECK(config.redis_address == defaults.redis_address);
  CHECK(config.redis_timeout_ms == defaults.redis_timeout_ms);
  CHECK(config.partitions == defaults.partitions);
  CHECK(config.lease_ms == defaults.lease_ms);
  CHECK(config.renew_ms == defaults.renew_ms);
  CHECK(config.heartbeat_ms == defaults.heartbeat_ms);
  CHECK(config.member_ttl_ms == defaults.member_ttl_ms);
  CHECK(config.stabilization_ms == defaults.stabilization_ms);
  CHECK(config.tombstone_retention_s == defaults.tombstone_retention_s);
  CHECK(config.events_maxlen == defaults.events_maxlen);
  CHECK(config.poll_interval_ms == defaults.poll_interval_ms);
  CHECK(config.batch_size == defaults.batch_size);
  CHECK(config.graph_url == defaults.graph_url);
  CHECK(config.login_url == defaults.login_url);
  CHECK(config.graph_default.client_id.empty());
  CHECK(config.graph_default.client_secret.empty());
  CHECK(config.graph_tenants.empty());
  CHECK(config.graph_requests_per_window == defaults.graph_requests_per_window);
  CHECK(config.graph_window_s == defaults.graph_window_s);
  CHECK(config.graph_timeout_ms == defaults.graph_timeout_ms);
  CHECK(config.max_body_bytes == defaults.max_body_bytes);
  CHECK(config.log_level == defaults.log_level);
  CHECK(config.log_format == defaults.log_format);
}

TEST_CASE("an empty file gives the defaults", "[config]") {
  TempDir dir;
  Result<Config> config = LoadConfig(dir.Write("empty.toml", ""));
  REQUIRE(config.ok());
  CHECK(config->partitions == 64);
  CHECK(config->instance_id == HostName());
}

TEST_CASE("every key is read into its field", "[config]") {
  TempDir dir;
  const std::string file = dir.Write("full.toml", R"([instance]
id = "node-1"
listen = "[::1]:9090"
[redis]
address = "redis.local:6380"
timeout_ms = 300
[partitions]
count = 128
lease_ms = 5000
renew_ms = 1000
[membership]
heartbeat_ms = 200
ttl_ms = 1000
stabilization_ms = 0
[agents]
tombstone_retention_s = 60
[events]
maxlen = 5000
[presence]
poll_interval_ms = 1000
batch_size = 100
[graph]
graph_url = "http://127.0.0.1:8999/"
login_url = "http://127.0.0.1:8999"
requests_per_window = 10
window_s = 5
timeout_ms = 500
[http]
max_body_bytes = 2048
[log]
level = "debug"
format = "json"
)");
  Result<Config> loaded = LoadConfig(file);
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  const Config& config = loaded.value();
  CHECK(config.instance_id == "node-1");
  CHECK(config.listen == "[::1]:9090");
  CHECK(config.redis_address == "redis.local:6380");
  CHECK(config.redis_timeout_ms == 300);
  CHECK(config.partitions == 128);
  CHECK(config.lease_ms == 5000);
  CHECK(config.renew_ms == 1000);
  CHECK(config.heartbeat_ms == 200);
  CHECK(config.member_ttl_ms == 1000);
  CHECK(config.stabilization_ms == 0);
  CHECK(config.tombstone_retention_s == 60);
  CHECK(config.events_maxlen == 5000);
  CHECK(config.poll_interval_ms == 1000);
  CHECK(config.batch_size == 100);
  CHECK(config.graph_url == "http://127.0.0.1:8999");  // trailing slash removed
  CHECK(config.login_url == "http://127.0.0.1:8999");
  CHECK(config.graph_requests_per_window == 10);
  CHECK(config.graph_window_s == 5);
  CHECK(config.graph_timeout_ms == 500);
  CHECK(config.max_body_bytes == 2048);
  CHECK(config.log_level == "debug");
  CHECK(config.log_format == "json");
}

TEST_CASE("a missing file is an error naming the file", "[config]") {
  TempDir dir;
  Result<Config> config = LoadConfig("/nonexistent/presenced.toml");
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().message ==
        "/nonexistent/presenced.toml: cannot read: No such file or directory");
}

TEST_CASE("a syntax error gives FILE:LINE and the parser's reason", "[config]") {
  TempDir dir;
  const std::string message = LoadError(dir, "[partitions]\ncount = 64\nlease_ms = = 3\n");
  CHECK_THAT(message, Catch::StartsWith("FILE:3: syntax error: "));
}

TEST_CASE("a duplicate key is a syntax error", "[config]") {
  TempDir dir;
  const std::string message = LoadError(dir, "[log]\nlevel = \"info\"\nlevel = \"debug\"\n");
  CHECK_THAT(message, Catch::StartsWith("FILE:3: syntax error: "));
}

TEST_CASE("an unknown key gives FILE:LINE and a suggestion", "[config]") {
  TempDir dir;
  const std::string message = LoadError(dir, "[partitions]\ncount = 64\nlease = 3000\n");
  CHECK(message == "FILE:3: unknown key partitions.lease (did you mean lease_ms?)");
}

TEST_CASE("an unknown table gives FILE:LINE", "[config]") {
  TempDir dir;
  const std::string message = LoadError(dir, "[log]\nlevel = \"info\"\n\n[metrics]\nport = 1\n");
  CHECK(message == "FILE:4: unknown table [metrics]");
}

TEST_CASE("an unknown top-level key gives FILE:LINE", "[config]") {
  TempDir dir;
  CHECK(LoadError(dir, "verbose = true\n") == "FILE:1: unknown key verbose");
}

TEST_CASE("out-of-range values give FILE:LINE and the range", "[config]") {
  TempDir dir;
  SECTION("partitions.count") {
    CHECK(LoadError(dir, "[partitions]\ncount = 0\n") ==
          "FILE:2: partitions.count must be between 1 and 4096, got 0");
    CHECK(LoadError(dir, "[partitions]\ncount = 4097\n") ==
          "FILE:2: partitions.count must be between 1 and 4096, got 4097");
  }
  SECTION("lease_ms") {
    CHECK(LoadError(dir, "[partitions]\nlease_ms = 499\n") ==
          "FILE:2: partitions.lease_ms must be between 500 and 60000, got 499");
  }
  SECTION("poll_interval_ms") {
    CHECK(LoadError(dir, "[presence]\npoll_interval_ms = 99\n") ==
          "FILE:2: presence.poll_interval_ms must be between 100 and 3600000, got 99");
  }
  SECTION("batch_size") {
    CHECK(LoadError(dir, "[presence]\nbatch_size = 651\n") ==
          "FILE:2: presence.batch_size must be between 1 and 650, got 651");
  }
  SECTION("a negative number") {
    CHECK(LoadError(dir, "[events]\nmaxlen = -1\n") ==
          "FILE:2: events.maxlen must be between 1 and 1000000000, got -1");
  }
}

TEST_CASE("renew_ms must be less than half of lease_ms", "[config]") {
  TempDir dir;
  CHECK(LoadError(dir, "[partitions]\nlease_ms = 2000\nrenew_ms = 1000\n") ==
        "FILE:3: partitions.renew_ms must be less than half of partitions.lease_ms "
        "(2000 ms), got 1000");
  // With renew_ms left at its default (500), the line is that of lease_ms.
  CHECK(LoadError(dir, "[partitions]\nlease_ms = 1000\n") ==
        "FILE:2: partitions.renew_ms must be less than half of partitions.lease_ms "
        "(1000 ms), got 500");
}

TEST_CASE("heartbeat_ms must be less than half of ttl_ms", "[config]") {
  TempDir dir;
  CHECK(LoadError(dir, "[membership]\nttl_ms = 1000\nheartbeat_ms = 600\n") ==
        "FILE:3: membership.heartbeat_ms must be less than half of membership.ttl_ms "
        "(1000 ms), got 600");
}

TEST_CASE("a value of the wrong type gives FILE:LINE and both types", "[config]") {
  TempDir dir;
  CHECK(LoadError(dir, "[partitions]\ncount = \"64\"\n") ==
        "FILE:2: partitions.count must be an integer, got a string");
  CHECK(LoadError(dir, "[redis]\ntimeout_ms = 2.5\n") ==
        "FILE:2: redis.timeout_ms must be an integer, got a floating-point number");
  CHECK(LoadError(dir, "[instance]\nlisten = 8080\n") ==
        "FILE:2: instance.listen must be a string, got an integer");
  CHECK(LoadError(dir, "log = \"debug\"\n") == "FILE:1: log must be a table, got a string");
}

TEST_CASE("bad choices and addresses give FILE:LINE and the reason", "[config]") {
  TempDir dir;
  CHECK(LoadError(dir, "[log]\nlevel = \"verbose\"\n") ==
        "FILE:2: log.level must be one of trace, debug, info, warn, error, got \"verbose\"");
  CHECK(LoadError(dir, "[log]\nformat = \"xml\"\n") ==
        "FILE:2: log.format must be one of text, json, got \"xml\"");
  CHECK(LoadError(dir, "[redis]\naddress = \"localhost\"\n") ==
        "FILE:2: redis.address: address \"localhost\": expected host:port");
  CHECK(LoadError(dir, "[redis]\naddress = \"localhost:0\"\n") ==
        "FILE:2: redis.address: address \"localhost:0\": the port must be between 1 and "
        "65535");
  CHECK(LoadError(dir, "[instance]\nlisten = \"0.0.0.0:70000\"\n") ==
        "FILE:2: instance.listen: address \"0.0.0.0:70000\": the port must be a number "
        "from 0 to 65535");
  CHECK(LoadError(dir, "[instance]\nid = \"bad id\"\n") ==
        "FILE:2: instance.id must be 1 to 128 letters, digits and \"-_.:@\", got \"bad id\"");
  CHECK(LoadError(dir, "[graph]\ngraph_url = \"ftp://x\"\n") ==
        "FILE:2: graph.graph_url must be an http:// or https:// URL, got \"ftp://x\"");
}

TEST_CASE("a literal client_secret is refused with the reason", "[config]") {
  TempDir dir;
  CHECK(LoadError(dir, "[graph]\nclient_id = \"app\"\nclient_secret = \"hunter2\"\n") ==
        "FILE:3: graph.client_secret is refused: a secret must not be written in the "
        "config file; name an environment variable with client_secret_env or a file "
        "with client_secret_file");
  const std::string tenant =
      LoadError(dir, "[graph.tenants.\"contoso\"]\nclient_id = \"app\"\nclient_secret = \"x\"\n");
  CHECK_THAT(tenant, Catch::StartsWith("FILE:3: graph.tenants.\"contoso\".client_secret is "
                                       "refused: a secret must not be written"));
}

TEST_CASE("several problems are all reported, in file order", "[config]") {
  TempDir dir;
  const std::string message =
      LoadError(dir, "[log]\nlevel = \"loud\"\n[partitions]\ncount = 0\nsize = 1\n");
  CHECK(message ==
        "FILE:2: log.level must be one of trace, debug, info, warn, error, got \"loud\"\n"
        "FILE:4: partitions.count must be between 1 and 4096, got 0\n"
        "FILE:5: unknown key partitions.size");
}

TEST_CASE("the Graph secret is read from the named environment variable", "[config]") {
  TempDir dir;
  ScopedEnv secret("PRESENCE_TEST_GRAPH_SECRET", "s3cret");
  Result<Config> config = LoadConfig(dir.Write(
      "c.toml",
      "[graph]\nclient_id = \"app\"\nclient_secret_env = \"PRESENCE_TEST_GRAPH_SECRET\"\n"));
  REQUIRE(config.ok());
  CHECK(config->graph_default.client_id == "app");
  CHECK(config->graph_default.client_secret == "s3cret");
}

TEST_CASE("an unset secret variable is an error naming it", "[config]") {
  TempDir dir;
  ScopedEnv secret("PRESENCE_TEST_GRAPH_SECRET", nullptr);
  CHECK(LoadError(dir,
                  "[graph]\nclient_id = \"app\"\n"
                  "client_secret_env = \"PRESENCE_TEST_GRAPH_SECRET\"\n") ==
        "FILE:3: graph.client_secret_env: environment variable "
        "PRESENCE_TEST_GRAPH_SECRET is not set");
}

TEST_CASE("the Graph secret is read from a file without its trailing newline", "[config]") {
  TempDir dir;
  const std::string secret_file = dir.Write("secret", "from-file\n");
  SECTION("absolute path") {
    Result<Config> config = LoadConfig(dir.Write(
        "c.toml", "[graph]\nclient_id = \"app\"\nclient_secret_file = \"" + secret_file + "\"\n"));
    REQUIRE(config.ok());
    CHECK(config->graph_default.client_secret == "from-file");
  }
  SECTION("path relative to the config file") {
    Result<Config> config = LoadConfig(
        dir.Write("c.toml", "[graph]\nclient_id = \"app\"\nclient_secret_file = \"secret\"\n"));
    REQUIRE(config.ok());
    CHECK(config->graph_default.client_secret == "from-file");
  }
}

TEST_CASE("secret problems give FILE:LINE and the reason", "[config]") {
  TempDir dir;
  SECTION("unreadable file") {
    CHECK_THAT(LoadError(dir,
                         "[graph]\nclient_id = \"app\"\n"
                         "client_secret_file = \"/nonexistent/secret\"\n"),
               Catch::StartsWith("FILE:3: graph.client_secret_file: /nonexistent/secret: "
                                 "cannot read: No such file or directory"));
  }
  SECTION("both sources") {
    ScopedEnv secret("PRESENCE_TEST_GRAPH_SECRET", "x");
    dir.Write("secret", "y");
    CHECK(LoadError(dir,
                    "[graph]\nclient_id = \"app\"\n"
                    "client_secret_env = \"PRESENCE_TEST_GRAPH_SECRET\"\n"
                    "client_secret_file = \"secret\"\n") ==
          "FILE:4: graph: client_secret_env and client_secret_file are "
          "both set; keep one");
  }
  SECTION("client id without a secret") {
    CHECK(LoadError(dir, "[graph]\nclient_id = \"app\"\n") ==
          "FILE:2: graph.client_id is set but neither graph.client_secret_env nor "
          "graph.client_secret_file is");
  }
}

TEST_CASE("tenant tables have their own credentials or inherit the default app", "[config]") {
  TempDir dir;
  ScopedEnv default_secret("PRESENCE_TEST_DEFAULT_SECRET", "default-secret");
  ScopedEnv contoso_secret("PRESENCE_TEST_CONTOSO_SECRET", "contoso-secret");
  Result<Config> loaded = LoadConfig(dir.Write("c.toml", R"([graph]
client_id = "default-app"
client_secret_env = "PRESENCE_TEST_DEFAULT_SECRET"

[graph.tenants."contoso"]
azure_tenant_id = "00000000-0000-0000-0000-000000000001"
client_id = "contoso-app"
client_secret_env = "PRESENCE_TEST_CONTOSO_SECRET"

[graph.tenants."fabrikam"]
)"));
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  const Config& config = loaded.value();
  GraphTenant scratch;

  const GraphTenant& contoso = GraphCredentials(config, "contoso", scratch);
  CHECK(contoso.azure_tenant_id == "00000000-0000-0000-0000-000000000001");
  CHECK(contoso.client_id == "contoso-app");
  CHECK(contoso.client_secret == "contoso-secret");

  const GraphTenant& fabrikam = GraphCredentials(config, "fabrikam", scratch);
  CHECK(fabrikam.azure_tenant_id == "fabrikam");
  CHECK(fabrikam.client_id == "default-app");
  CHECK(fabrikam.client_secret == "default-secret");

  const GraphTenant& other = GraphCredentials(config, "tailspin", scratch);
  CHECK(&other == &scratch);
  CHECK(other.azure_tenant_id == "tailspin");
  CHECK(other.client_id == "default-app");
  CHECK(other.client_secret == "default-secret");
}

TEST_CASE("tenant table problems give FILE:LINE", "[config]") {
  TempDir dir;
  CHECK(LoadError(dir, "[graph.tenants.\"contoso\"]\nazure_tenant_id = \"x\"\n") ==
        "FILE:1: graph.tenants.\"contoso\" has no client_id and graph.client_id is empty");
  CHECK(LoadError(dir, "[graph.tenants.\"contoso\"]\nclient_id = \"a\"\nscope = \"x\"\n") ==
        "FILE:2: graph.tenants.\"contoso\".client_id is set but neither client_secret_env "
        "nor client_secret_file is\n"
        "FILE:3: unknown key graph.tenants.\"contoso\".scope");
  CHECK_THAT(LoadError(dir, "[graph.tenants.\"bad tenant\"]\nclient_id = \"a\"\n"),
             Catch::StartsWith("FILE:1: graph.tenants.\"bad tenant\": a tenant id must be"));
}

TEST_CASE("ApplyEnvironment overrides instance id, listen and redis", "[config]") {
  Config config;
  config.instance_id = "from-file";
  SECTION("set") {
    ScopedEnv id("PRESENCE_INSTANCE_ID", "from-env");
    ScopedEnv listen("PRESENCE_LISTEN", "0.0.0.0:9000");
    ScopedEnv redis("PRESENCE_REDIS", "10.0.0.5:6379");
    ApplyEnvironment(config);
    CHECK(config.instance_id == "from-env");
    CHECK(config.listen == "0.0.0.0:9000");
    CHECK(config.redis_address == "10.0.0.5:6379");
    CHECK(Validate(config).ok());
  }
  SECTION("unset or empty") {
    ScopedEnv id("PRESENCE_INSTANCE_ID", "");
    ScopedEnv listen("PRESENCE_LISTEN", nullptr);
    ScopedEnv redis("PRESENCE_REDIS", nullptr);
    ApplyEnvironment(config);
    CHECK(config.instance_id == "from-file");
    CHECK(config.listen == Config().listen);
    CHECK(config.redis_address == Config().redis_address);
  }
}

TEST_CASE("Validate checks what the environment and command line override", "[config]") {
  Config config;
  config.instance_id = "node-1";
  CHECK(Validate(config).ok());

  config.instance_id = "bad id";
  CHECK(Validate(config).error().message ==
        "instance id \"bad id\": must be 1 to 128 letters, digits and \"-_.:@\"");
  config.instance_id = "node-1";

  config.listen = "nope";
  CHECK(Validate(config).error().message == "listen address \"nope\": expected host:port");
  config.listen = "127.0.0.1:0";
  CHECK(Validate(config).ok());

  config.redis_address = "127.0.0.1:0";
  CHECK(Validate(config).error().message ==
        "redis address \"127.0.0.1:0\": the port must be between 1 and 65535");
}

TEST_CASE("SplitHostPort splits names, IPv4 and bracketed IPv6", "[config]") {
  Result<HostPort> name = SplitHostPort("redis.local:6379");
  REQUIRE(name.ok());
  CHECK(name->host == "redis.local");
  CHECK(name->port == 6379);

  Result<HostPort> v6 = SplitHostPort("[::1]:8080");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 8080);

  CHECK(SplitHostPort("127.0.0.1:0")->port == 0);
  CHECK_FALSE(SplitHostPort("::1:8080").ok());
  CHECK_FALSE(SplitHostPort(":8080").ok());
  CHECK_FALSE(SplitHostPort("host:").ok());
  CHECK_FALSE(SplitHostPort("host:65536").ok());
  CHECK_FALSE(SplitHostPort("host:-1").ok());
  CHECK_FALSE(SplitHostPort("my host:80").ok());
}

TEST_CASE("the shipped config holds the default [http] and [api] limits", "[config][limits]") {
  Result<Config> loaded = LoadConfig(kShippedConfig.string());
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  const Config& config = loaded.value();
  CHECK(config.max_header_bytes == 16384);
  CHECK(config.max_headers == 100);
  CHECK(config.max_connections == 10000);
  CHECK(config.read_timeout_ms == 10000);
  CHECK(config.idle_timeout_ms == 60000);
  CHECK(config.write_timeout_ms == 10000);
  CHECK(config.max_json_depth == 16);
  CHECK(config.max_labels == 64);
  CHECK(config.max_labels_bytes == 4096);
  CHECK(config.max_id_length == 128);
  const Config defaults;
  CHECK(config.max_header_bytes == defaults.max_header_bytes);
  CHECK(config.max_headers == defaults.max_headers);
  CHECK(config.max_connections == defaults.max_connections);
  CHECK(config.read_timeout_ms == defaults.read_timeout_ms);
  CHECK(config.idle_timeout_ms == defaults.idle_timeout_ms);
  CHECK(config.write_timeout_ms == defaults.write_timeout_ms);
  CHECK(config.max_json_depth == defaults.max_json_depth);
  CHECK(config.max_labels == defaults.max_labels);
  CHECK(config.max_labels_bytes == defaults.max_labels_bytes);
  CHECK(config.max_id_length == defaults.max_id_length);
}

TEST_CASE("every [http] and [api] limit is read into its field", "[config][limits]") {
  TempDir dir;
  Result<Config> loaded = LoadConfig(dir.Write("limits.toml", R"([http]
max_header_bytes = 2048
max_headers = 20
max_connections = 5
read_timeout_ms = 2000
idle_timeout_ms = 3000
write_timeout_ms = 4000
[api]
max_json_depth = 4
max_labels = 3
max_labels_bytes = 100
max_id_length = 32
)"));
  INFO((loaded.ok() ? std::string() : loaded.error().message));
  REQUIRE(loaded.ok());
  const Config& config = loaded.value();
  CHECK(config.max_header_bytes == 2048);
  CHECK(config.max_headers == 20);
  CHECK(config.max_connections == 5);
  CHECK(config.read_timeout_ms == 2000);
  CHECK(config.idle_timeout_ms == 3000);
  CHECK(config.write_timeout_ms == 4000);
  CHECK(config.max_json_depth == 4);
  CHECK(config.max_labels == 3);
  CHECK(config.max_labels_bytes == 100);
  CHECK(config.max_id_length == 32);
}

TEST_CASE("out-of-range limits give FILE:LINE and the range", "[config][limits]") {
  TempDir dir;
  struct Case {
    const char* table;
    const char* key;
    int64_t low;   // the smallest accepted value
    int64_t high;  // the largest accepted value
  };
  const Case cases[] = {
      {"http", "max_body_bytes", 1024, 16777216},
      {"http", "max_header_bytes", 1024, 65535},
      {"http", "max_headers", 8, 10000},
      {"http", "max_connections", 1, 1000000},
      {"http", "read_timeout_ms", 100, 600000},
      {"http", "idle_timeout_ms", 100, 3600000},
      {"http", "write_timeout_ms", 100, 600000},
      {"api", "max_json_depth", 2, 64},
      {"api", "max_labels", 0, 1024},
      {"api", "max_labels_bytes", 2, 65536},
      {"api", "max_id_length", 1, 128},
  };
  for (const Case& c : cases) {
    INFO(c.table << "." << c.key);
    for (int64_t bad : {c.low - 1, c.high + 1}) {
      const std::string text = fmt::format("[{}]\n# comment\n{} = {}\n", c.table, c.key, bad);
      CHECK(LoadError(dir, text) == fmt::format("FILE:3: {}.{} must be between {} and {}, got {}",
                                                c.table, c.key, c.low, c.high, bad));
    }
    for (int64_t good : {c.low, c.high}) {
      const std::string text = fmt::format("[{}]\n{} = {}\n", c.table, c.key, good);
      CHECK(LoadConfig(dir.Write("good.toml", text)).ok());
    }
  }
  CHECK(LoadError(dir, "[api]\nmax_label = 3\n") ==
        "FILE:2: unknown key api.max_label (did you mean max_labels?)");
}

}  // namespace
}  // namespace presence::config
