#include "api/pushed_presence.h"

#include "api/validation.h"

namespace presence::api {

namespace {

const nlohmann::json* Member(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

Result<PushedPresence> ParsePushedPresence(const nlohmann::json& object, uint64_t now_ms) {
  const nlohmann::json* availability = Member(object, "availability");
  const nlohmann::json* activity = Member(object, "activity");
  if (availability == nullptr) return MakeError("bad_availability", "availability is required");
  if (activity == nullptr) return MakeError("bad_activity", "activity is required");

  PushedPresence pushed;
  auto parsed_availability = ParseAvailability(*availability);
  if (!parsed_availability.ok()) return parsed_availability.error();
  auto parsed_activity = ParseActivity(*activity);
  if (!parsed_activity.ok()) return parsed_activity.error();
  pushed.availability = *parsed_availability;
  pushed.activity = *parsed_activity;

  auto observed_at = ParseObservedAt(Member(object, "observed_at"), now_ms);
  if (!observed_at.ok()) return observed_at.error();
  pushed.observed_at_ms = *observed_at;
  return pushed;
}

}  // namespace presence::api
