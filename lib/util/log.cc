#include "util/log.h"

#include <time.h>

#include <chrono>
#include <map>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <nlohmann/json.hpp>

namespace presence {
namespace {

// The level names of the config file; spdlog's own say "warning".
std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

// "2024-05-01T12:00:00.123Z"
std::string Timestamp(spdlog::log_clock::time_point time) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
  const time_t seconds = static_cast<time_t>(ms.count() / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                     ms.count() % 1000);
}

// The %L flag of the text pattern: our level name, padded to 5 columns.
class LevelFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view name = LevelName(msg.level);
    dest.append(name.data(), name.data() + name.size());
    for (size_t i = name.size(); i < 5; ++i) dest.push_back(' ');
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LevelFlag>();
  }
};

// One JSON object per line: ts, level, component, instance, msg. Invalid UTF-8
// in a message is replaced rather than breaking the line.
class JsonFormatter : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string instance) : instance_(std::move(instance)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::ordered_json line;
    line["ts"] = Timestamp(msg.time);
    line["level"] = LevelName(msg.level);
    line["component"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    line["instance"] = instance_;
    line["msg"] = std::string(msg.payload.data(), msg.payload.size());
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(instance_);
  }

 private:
  const std::string instance_;
};

std::unique_ptr<spdlog::formatter> TextFormatter(const std::string& instance_id) {
  // '%' would start a flag in the pattern.
  std::string instance;
  for (char c : instance_id) instance += c == '%' ? std::string("%%") : std::string(1, c);
  const std::string pattern = instance.empty()
                                  ? "%Y-%m-%dT%H:%M:%S.%eZ %^%L%$ %n: %v"
                                  : "%Y-%m-%dT%H:%M:%S.%eZ %^%L%$ " + instance + " %n: %v";
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<LevelFlag>('L').set_pattern(pattern);
  return formatter;
}

// The process-wide logging state. Never destroyed, so that loggers stay usable
// from static destructors and detached threads.
struct State {
  std::mutex mutex;
  std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> sink;
  spdlog::level::level_enum level = spdlog::level::info;
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers;
};

State& GetState() {
  static State* state = [] {
    auto* fresh = new State();
    fresh->sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    fresh->sink->set_formatter(TextFormatter(""));
    return fresh;
  }();
  return *state;
}

}  // namespace

std::optional<spdlog::level::level_enum> ParseLogLevel(std::string_view level) {
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "info") return spdlog::level::info;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  return std::nullopt;
}

void SetupLogging(const std::string& format, const std::string& level,
                  const std::string& instance_id) {
  State& state = GetState();
  if (format == "json") {
    state.sink->set_formatter(std::make_unique<JsonFormatter>(instance_id));
  } else {
    state.sink->set_formatter(TextFormatter(instance_id));
  }
  SetLogLevel(ParseLogLevel(level) ? level : "info");

  // Stray spdlog::info() calls land in the same stream, as component "main".
  spdlog::set_default_logger(Logger("main"));
}

std::shared_ptr<spdlog::logger> Logger(std::string_view component) {
  State& state = GetState();
  std::lock_guard<std::mutex> lock(state.mutex);
  const auto found = state.loggers.find(component);
  if (found != state.loggers.end()) return found->second;

  auto logger = std::make_shared<spdlog::logger>(std::string(component), state.sink);
  logger->set_level(state.level);
  logger->flush_on(spdlog::level::warn);
  state.loggers.emplace(std::string(component), logger);
  return logger;
}

bool SetLogLevel(std::string_view level) {
  const std::optional<spdlog::level::level_enum> parsed = ParseLogLevel(level);
  if (!parsed) return false;
  State& state = GetState();
  std::lock_guard<std::mutex> lock(state.mutex);
  state.level = *parsed;
  for (auto& [name, logger] : state.loggers) logger->set_level(*parsed);
  return true;
}

std::string LogLevel() {
  State& state = GetState();
  std::lock_guard<std::mutex> lock(state.mutex);
  return std::string(LevelName(state.level));
}

}  // namespace presence
