#pragma once

#include <string>

#include "config/config.h"

namespace presence::daemon {

// The configuration file to read: the one given, else
// /etc/presence/presenced.toml when it exists, else ./conf/presenced.toml.
std::string ResolveConfigPath(const std::string& given);

// Runs presenced until SIGTERM or SIGINT, then hands its partitions over.
// Returns the process exit code: 0 after a clean stop, 1 on a runtime
// failure, 2 when the deployment refuses this configuration.
int Run(const config::Config& config);

}  // namespace presence::daemon
