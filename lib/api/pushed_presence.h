#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "util/result.h"

namespace presence::api {

// A presence pushed by another system, as PUT .../presence and each item of
// POST .../presence carry it.
struct PushedPresence {
  std::string availability;  // canonical spelling ("busy" → "Busy")
  std::string activity;
  uint64_t observed_at_ms = 0;
};

// Reads availability, activity and the optional observed_at of `object`
// (default: now_ms). Codes "bad_availability", "bad_activity",
// "bad_observed_at"; unknown members are the caller's to refuse.
Result<PushedPresence> ParsePushedPresence(const nlohmann::json& object, uint64_t now_ms);

}  // namespace presence::api
