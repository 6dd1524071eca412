#pragma once

#include "config/config.h"
#include "settings.h"

namespace presence::daemon {

// Runs presenced until SIGTERM or SIGINT, then hands its partitions over
// within a bound (kStopBound in daemon.cc, 5 s). SIGHUP reads the settings
// again from `command_line` and applies [log] level; other changed keys are
// logged at warn as needing a restart. Under systemd (Type=notify) it sends
// READY=1 once it runs, WATCHDOG=1 at half of WatchdogSec= from its event
// loop, and STOPPING=1 when the handoff starts.
// Returns the process exit code: 0 after a clean stop, 1 on a runtime
// failure, 2 when the deployment refuses this configuration.
int Run(const config::Config& config, const CommandLine& command_line);

}  // namespace presence::daemon
