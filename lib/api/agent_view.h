#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace presence::api {

// The API representation of a stored agent record (docs/redis-layout.md):
//   {"tenant", "agent", "state": "registered"|"deregistered", "source",
//    "graph_user_id": GUID|null, "labels": {...}, "version": N,
//    "seq": "decimal"|null, "created_at", "updated_at",
//    "presence": {"availability", "activity", "observed_at", "changed_at",
//                 "source": "graph"|"push"|null}}
// Times are RFC 3339 UTC strings with ms ("2024-05-01T12:00:00.250Z"), null
// when unknown (presence never set). A malformed record gives what can be
// read; nothing throws.
nlohmann::json AgentView(const nlohmann::json& record);

// The version of a record (0 for null or none), and the ETag value "\"N\"".
uint64_t RecordVersion(const nlohmann::json& record);
std::string ETagOf(uint64_t version);

}  // namespace presence::api
