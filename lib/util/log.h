#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace presence {

// Configures logging for the whole process; every logger writes to stderr.
//   format "text": "2024-05-01T12:00:00.123Z info  a1 lease: msg", coloured
//                  when stderr is a terminal;
//   format "json": one JSON object per line with the fields ts (UTC,
//                  milliseconds), level, component, instance and msg.
// `level` is one of trace, debug, info, warn, error. An unknown format falls
// back to text and an unknown level to info (the config is validated before).
// Loggers made earlier by Logger() follow the new format and level.
// Call it from main before starting threads; later changes go through
// SetLogLevel().
void SetupLogging(const std::string& format, const std::string& level,
                  const std::string& instance_id);

// The logger of one component (http, api, lease, leader, member, job, graph,
// main, ...): created on first use, shared afterwards, writing to the sink of
// SetupLogging() (or text on stderr at info before it is called). Thread-safe.
std::shared_ptr<spdlog::logger> Logger(std::string_view component);

// Sets the level of every logger, existing and future. Returns false (and
// changes nothing) when `level` is not trace, debug, info, warn or error.
// Thread-safe.
bool SetLogLevel(std::string_view level);

// The current level's name ("info", ...).
std::string LogLevel();

// Parses trace, debug, info, warn or error.
std::optional<spdlog::level::level_enum> ParseLogLevel(std::string_view level);

}  // namespace presence
