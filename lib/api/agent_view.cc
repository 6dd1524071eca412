#include "api/agent_view.h"

#include "api/validation.h"
#include "util/json_fields.h"

namespace presence::api {

namespace {

nlohmann::json TimeOrNull(const nlohmann::json& record, const char* key) {
  uint64_t ms = FieldUint(record, key, 0);
  return ms == 0 ? nlohmann::json(nullptr) : nlohmann::json(FormatRfc3339Ms(ms));
}

nlohmann::json StringOrNull(const nlohmann::json& record, const char* key) {
  std::string value = FieldString(record, key);
  return value.empty() ? nlohmann::json(nullptr) : nlohmann::json(value);
}

// Labels are stored as JSON text; a record without them has none.
nlohmann::json Labels(const nlohmann::json& record) {
  auto it = record.find("labels");
  if (it == record.end()) return nlohmann::json::object();
  if (it->is_object()) return *it;
  if (!it->is_string()) return nlohmann::json::object();
  auto labels = nlohmann::json::parse(it->get_ref<const std::string&>(), nullptr, false);
  return labels.is_object() ? labels : nlohmann::json::object();
}

}  // namespace

uint64_t RecordVersion(const nlohmann::json& record) { return FieldUint(record, "version", 0); }

std::string ETagOf(uint64_t version) { return "\"" + std::to_string(version) + "\""; }

// Built field by field: nlohmann's initializer lists copy every value twice
// and made this a fifth of the CPU time of a PUT (callgrind).
nlohmann::json AgentView(const nlohmann::json& record) {
  const bool presence_known = FieldUint(record, "presence_at", 0) != 0;
  nlohmann::json presence(nlohmann::json::value_t::object);
  presence["availability"] = FieldString(record, "availability", "PresenceUnknown");
  presence["activity"] = FieldString(record, "activity", "PresenceUnknown");
  presence["observed_at"] = TimeOrNull(record, "observed_at");
  presence["changed_at"] = TimeOrNull(record, "presence_at");
  presence["source"] = presence_known ? StringOrNull(record, "presence_source") : nullptr;

  nlohmann::json view(nlohmann::json::value_t::object);
  view["tenant"] = FieldString(record, "tenant");
  view["agent"] = FieldString(record, "agent");
  view["state"] = FieldString(record, "state", "registered");
  view["source"] = StringOrNull(record, "source");
  view["graph_user_id"] = StringOrNull(record, "graph_user_id");
  view["labels"] = Labels(record);
  view["version"] = RecordVersion(record);
  view["seq"] = StringOrNull(record, "seq");
  view["created_at"] = TimeOrNull(record, "created_at");
  view["updated_at"] = TimeOrNull(record, "updated_at");
  view["presence"] = std::move(presence);
  return view;
}

}  // namespace presence::api
