#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "util/result.h"

namespace presence::daemon {

// What the command line says about the configuration: the file and the
// values that override it (empty: not given).
struct CommandLine {
  std::string config_path;  // as resolved by ResolveConfigPath()
  std::string instance_id;
  std::string listen;
  std::string redis;
};

// The configuration file to read: the one given, else
// /etc/presence/presenced.toml when it exists, else ./conf/presenced.toml.
std::string ResolveConfigPath(const std::string& given);

// The settings in force: the defaults, the file, the environment
// (PRESENCE_INSTANCE_ID, PRESENCE_LISTEN, PRESENCE_REDIS), then the command
// line, validated. Errors have code "bad_config" and one line per problem.
// Used at start-up, by --check-config and by the SIGHUP reload, so all three
// see the same thing.
Result<config::Config> LoadSettings(const CommandLine& command_line);

// The keys ("partitions.count", "graph.tenants.contoso", ...) whose values
// differ between two configurations, in file order; log.level is left out
// (it is applied at run time). Secrets are compared but never printed.
std::vector<std::string> ChangedKeys(const config::Config& before, const config::Config& after);

}  // namespace presence::daemon
