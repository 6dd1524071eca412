// presenced: the presence daemon. Parses the command line and the
// configuration, then hands over to the Daemon.
#include <cstdio>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "daemon.h"
#include "settings.h"

int main(int argc, char** argv) {
  CLI::App app{"presenced: tracks agents' Microsoft Teams presence and publishes every change"};
  std::string config_path;
  presence::daemon::CommandLine command_line;
  bool check_config = false, version = false;
  app.add_option("-c,--config", config_path, "configuration file (TOML)")
      ->default_str("/etc/presence/presenced.toml, else ./conf/presenced.toml");
  app.add_option("--instance-id", command_line.instance_id,
                 "instance id (overrides [instance] id and PRESENCE_INSTANCE_ID)");
  app.add_option("--listen", command_line.listen,
                 "HTTP listen address HOST:PORT (overrides PRESENCE_LISTEN)");
  app.add_option("--redis", command_line.redis,
                 "Redis address HOST:PORT (overrides PRESENCE_REDIS)");
  app.add_flag("--check-config", check_config,
               "validate the configuration (file, environment, options) and exit: 0 valid, "
               "2 not");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (version) {
    fmt::print("presenced {}\n", PRESENCE_VERSION);
    return 0;
  }

  command_line.config_path = presence::daemon::ResolveConfigPath(config_path);
  auto config = presence::daemon::LoadSettings(command_line);
  if (!config) {
    fmt::print(stderr, "presenced: error: {}\n", config.error().message);
    return 2;
  }
  if (check_config) {
    fmt::print("{}: ok\n", command_line.config_path);
    return 0;
  }
  return presence::daemon::Run(*config, command_line);
}
