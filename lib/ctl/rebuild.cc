#include "ctl/rebuild.h"

#include <map>
#include <set>

#include <fmt/format.h>

#include "store/keys.h"

namespace presence::ctl {
namespace {

constexpr size_t kPage = 1000;  // entries per XRANGE
constexpr char kUnknown[] = "PresenceUnknown";

using Json = nlohmann::json;

Error ReplyError(const RedisConnection& redis, const std::string& what,
                 const store::RedisReply& reply) {
  return MakeError("redis_error",
                   fmt::format("redis {}: {}: {}", redis.endpoint().ToString(), what, reply.str));
}

Json Number(const std::string& text) {
  try {
    return Json(std::stoll(text));
  } catch (const std::exception&) {
    return Json(text);
  }
}

// What the events say of one agent: the record they build and which of its
// fields they determine.
struct Recomputed {
  Json record = Json::object();
  std::set<std::string> known;
  bool full = false;  // built from an agent.registered event on
};

// A text field of event data; null or absent gives "" (push agents carry
// "graph_user_id": null).
std::string TextOf(const Json& data, const char* name) {
  auto it = data.find(name);
  return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Labels as the record stores them: canonical JSON text. Events carry them as
// an object (older libraries: as the text itself).
std::string LabelsOf(const Json& data) {
  auto it = data.find("labels");
  if (it == data.end() || it->is_null()) return "{}";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void Set(Recomputed& r, const std::string& field, Json value) {
  r.record[field] = std::move(value);
  r.known.insert(field);
}

void Fold(Recomputed& r, const std::map<std::string, std::string>& event, uint64_t tombstone_ms) {
  const std::string type = event.count("type") ? event.at("type") : "";
  Json at = Number(event.count("at") ? event.at("at") : "0");
  Json data = Json::parse(event.count("data") ? event.at("data") : "{}", nullptr, false);
  if (!data.is_object()) data = Json::object();
  r.record["tenant"] = event.count("tenant") ? event.at("tenant") : "";
  r.record["agent"] = event.count("agent") ? event.at("agent") : "";
  Set(r, "version", Number(event.count("version") ? event.at("version") : "0"));

  auto registration = [&](bool created) {
    Set(r, "state", "registered");
    Set(r, "source", TextOf(data, "source"));
    Set(r, "graph_user_id", TextOf(data, "graph_user_id"));
    Set(r, "labels", LabelsOf(data));
    Set(r, "updated_at", at);
    if (data.contains("seq") && data["seq"].is_string()) r.record["seq"] = data["seq"];
    r.record.erase("expires_at");
    if (!created) return;
    r.full = true;
    Set(r, "created_at", at);
    Set(r, "availability", kUnknown);
    Set(r, "activity", kUnknown);
    Set(r, "presence_at", 0);
    Set(r, "observed_at", 0);
    Set(r, "presence_source", TextOf(data, "source"));
  };
  if (type == "agent.registered") {
    registration(true);
  } else if (type == "agent.updated") {
    registration(false);
  } else if (type == "agent.deregistered") {
    Set(r, "state", "deregistered");
    r.known.erase("updated_at");  // a later deregistration with a seq changes it silently
    r.record["updated_at"] = at;
    int64_t at_ms = at.is_number() ? at.get<int64_t>() : 0;
    r.record["expires_at"] = at_ms + static_cast<int64_t>(tombstone_ms);
    if (data.contains("seq") && data["seq"].is_string()) r.record["seq"] = data["seq"];
  } else if (type == "presence.changed") {
    Json after = Json::object();
    if (data.contains("after") && data["after"].is_object()) after = data["after"];
    std::string availability = TextOf(after, "availability");
    std::string activity = TextOf(after, "activity");
    Set(r, "state", "registered");
    Set(r, "availability", availability.empty() ? kUnknown : availability);
    Set(r, "activity", activity.empty() ? kUnknown : activity);
    Set(r, "presence_at", at);
    Set(r, "observed_at", data.contains("observed_at") ? data["observed_at"] : Json(0));
    Set(r, "presence_source", TextOf(data, "source"));
    Set(r, "updated_at", at);
  }
}

// The fields compared, in report order.
const std::vector<std::string>& ComparedFields() {
  static const std::vector<std::string> fields = {
      "state",    "version",     "source",      "graph_user_id",   "labels",     "availability",
      "activity", "presence_at", "observed_at", "presence_source", "created_at", "updated_at"};
  return fields;
}

Json FieldOf(const Json& record, const std::string& field) {
  if (!record.is_object() || !record.contains(field)) return Json();
  return record[field];
}

// Every field an agent record may hold (docs/redis-layout.md).
const std::set<std::string>& RecordFields() {
  static const std::set<std::string> fields = {
      "tenant",        "agent",       "state",           "version",    "seq",          "source",
      "graph_user_id", "labels",      "created_at",      "updated_at", "availability", "activity",
      "presence_at",   "observed_at", "presence_source", "expires_at"};
  return fields;
}

// The stored record brought in line with what the events determine. Only
// fields of the record schema are kept from the stored one, and the ids come
// from the events, so a damaged record is repaired and not carried over.
Json Merged(const Json& stored, const Recomputed& r) {
  Json merged = Json::object();
  if (stored.is_object()) {
    for (const auto& [field, value] : stored.items()) {
      if (RecordFields().count(field)) merged[field] = value;
    }
  } else {
    merged = r.record;
  }
  merged["tenant"] = r.record["tenant"];
  merged["agent"] = r.record["agent"];
  for (const std::string& field : r.known) merged[field] = r.record[field];
  if (FieldOf(merged, "state") == "registered") {
    merged.erase("expires_at");
  } else if (!merged.contains("expires_at")) {
    merged["expires_at"] = FieldOf(r.record, "expires_at");
  }
  if (!merged.contains("seq") && r.record.contains("seq")) merged["seq"] = r.record["seq"];
  return merged;
}

struct PartitionData {
  std::map<std::string, Json> stored;        // "tenant/agent" -> record
  std::map<std::string, Recomputed> events;  // "tenant/agent" -> recomputed
};

Status ReadHistory(RedisConnection& redis, uint32_t p, const RebuildOptions& options,
                   PartitionHistory& history, PartitionData& data) {
  const std::string key = store::keys::Events(p);
  Result<store::RedisReply> info = redis.Command({"XINFO", "STREAM", key});
  if (!info) return info.error();
  uint64_t length = 0, added = 0;
  if (!info->is_error()) {
    for (size_t i = 0; i + 1 < info->elements.size(); i += 2) {
      const std::string& name = info->elements[i].str;
      const store::RedisReply& value = info->elements[i + 1];
      if (name == "length") length = static_cast<uint64_t>(value.integer);
      if (name == "entries-added") added = static_cast<uint64_t>(value.integer);
      if (name == "first-entry" && !value.elements.empty()) {
        history.first_id = value.elements[0].str;
      }
    }
  }
  history.trimmed = added > length;

  std::string start = "-";
  while (true) {
    Result<store::RedisReply> page =
        redis.Command({"XRANGE", key, start, "+", "COUNT", std::to_string(kPage)});
    if (!page) return page.error();
    if (page->is_error()) return ReplyError(redis, "XRANGE " + key, *page);
    for (const store::RedisReply& entry : page->elements) {
      if (entry.elements.size() < 2) continue;
      std::map<std::string, std::string> fields;
      const auto& flat = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < flat.size(); i += 2) fields[flat[i].str] = flat[i + 1].str;
      ++history.events;
      Fold(data.events[fields["tenant"] + "/" + fields["agent"]], fields, options.tombstone_ms);
    }
    if (page->elements.size() < kPage) break;
    start = "(" + page->elements.back().elements[0].str;
  }

  return Ok{};
}

// The stored records, as the library decodes them (presence_records): how
// records are stored is the library's business. A record it cannot read is
// kept as a discarded value, as an unparsable one always was.
Status ReadRecords(FunctionClient& functions, uint32_t p, PartitionData& data) {
  std::string cursor = "0";
  do {
    Result<Json> page = functions.Call(
        {"presence_records", {store::keys::Agents(p)}, {cursor, std::to_string(kPage)}, true});
    if (!page) return page.error();
    if (!page->value("ok", false)) {
      return MakeError("redis_error", fmt::format("presence_records on partition {}: {}", p,
                                                  page->value("message", page->dump())));
    }
    for (const Json& entry : (*page)["records"]) {
      const std::string field = entry.value("field", "");
      auto agent = entry.find("agent");
      data.stored[field] =
          agent != entry.end() && agent->is_object() ? *agent : Json(Json::value_t::discarded);
    }
    cursor = page->value("cursor", "0");
  } while (cursor != "0");
  return Ok{};
}

void SplitField(const std::string& field, AgentDifference& difference) {
  size_t slash = field.find('/');
  difference.tenant = field.substr(0, slash);
  difference.agent = slash == std::string::npos ? "" : field.substr(slash + 1);
}

void Compare(uint32_t p, PartitionHistory& history, const PartitionData& data,
             RebuildReport& report) {
  std::set<std::string> names;
  for (const auto& [name, record] : data.stored) names.insert(name);
  for (const auto& [name, recomputed] : data.events) names.insert(name);
  for (const std::string& name : names) {
    ++report.agents;
    AgentDifference difference;
    difference.partition = p;
    SplitField(name, difference);
    auto stored_it = data.stored.find(name);
    auto events_it = data.events.find(name);
    Json stored = stored_it == data.stored.end() ? Json() : stored_it->second;
    bool stored_registered = FieldOf(stored, "state") == "registered";

    if (events_it == data.events.end()) {
      // No event left for it: a tombstone without one is legitimate (a
      // deregistration of an absent agent with a seq); a registration is not.
      if (!stored_registered) continue;
      if (history.trimmed) {
        ++history.unverifiable;
        ++report.unverifiable;
        continue;
      }
      difference.kind = "extra";
      difference.fields.push_back({"state", "registered", Json()});
      difference.repairable = true;
      difference.repaired = Json();
      report.differences.push_back(std::move(difference));
      continue;
    }

    const Recomputed& r = events_it->second;
    if (stored.is_null()) {
      // A tombstone may have been swept after it expired.
      if (FieldOf(r.record, "state") == "deregistered") continue;
      difference.kind = "missing";
      for (const std::string& field : ComparedFields()) {
        if (r.known.count(field)) difference.fields.push_back({field, Json(), r.record.at(field)});
      }
      difference.repairable = r.full;
      if (r.full) difference.repaired = Merged(Json(), r);
      report.differences.push_back(std::move(difference));
      continue;
    }

    bool tombstone = FieldOf(r.record, "state") == "deregistered";
    for (const std::string& field : ComparedFields()) {
      if (!r.known.count(field) || (tombstone && field == "updated_at")) continue;
      if (FieldOf(stored, field) != r.record.at(field)) {
        difference.fields.push_back({field, FieldOf(stored, field), r.record.at(field)});
      }
    }
    if (difference.fields.empty()) continue;
    difference.kind = "mismatch";
    difference.repairable = true;
    difference.repaired = Merged(stored, r);
    report.differences.push_back(std::move(difference));
  }
}

std::string Text(const Json& value) {
  if (value.is_null()) return "absent";
  return value.dump();
}

}  // namespace

Result<RebuildReport> Rebuild(RedisConnection& redis, const RebuildOptions& options) {
  RebuildReport report;
  FunctionClient functions(redis);
  if (Status loaded = functions.EnsureLibrary(); !loaded) return loaded.error();
  for (uint32_t p = 0; p < options.partitions; ++p) {
    PartitionHistory history;
    history.partition = p;
    PartitionData data;
    if (Status read = ReadHistory(redis, p, options, history, data); !read) return read.error();
    if (Status read = ReadRecords(functions, p, data); !read) return read.error();
    Compare(p, history, data, report);
    report.events += history.events;
    report.partitions.push_back(std::move(history));
  }
  return report;
}

Status Repair(FunctionClient& functions, const AgentDifference& difference) {
  if (!difference.repairable) {
    return MakeError("not_repairable",
                     fmt::format("{}/{}: its registration is older than the first event left in "
                                 "partition {}'s stream; it cannot be rebuilt",
                                 difference.tenant, difference.agent, difference.partition));
  }
  uint32_t p = difference.partition;
  std::string record = difference.repaired.is_null() ? "" : difference.repaired.dump();
  Result<Json> answer = functions.Call(
      {"presence_repair",
       {store::keys::Agents(p), store::keys::Tombstones(p), store::keys::RosterRevision(p)},
       {difference.tenant, difference.agent, record},
       false});
  if (!answer) return answer.error();
  if (!answer->value("ok", false)) {
    return MakeError(answer->value("code", "refused"),
                     fmt::format("presence_repair {}/{}: {}", difference.tenant, difference.agent,
                                 answer->value("message", "")));
  }
  return Ok{};
}

Json ToJson(const AgentDifference& difference) {
  Json fields = Json::array();
  for (const FieldDifference& f : difference.fields) {
    fields.push_back({{"field", f.field}, {"stored", f.stored}, {"expected", f.expected}});
  }
  return {{"kind", difference.kind},
          {"partition", difference.partition},
          {"tenant", difference.tenant},
          {"agent", difference.agent},
          {"fields", fields},
          {"repairable", difference.repairable}};
}

std::string ToLine(const AgentDifference& difference) {
  std::string details;
  for (const FieldDifference& f : difference.fields) {
    details += fmt::format("{}{}: stored {}, events {}", details.empty() ? "" : "; ", f.field,
                           Text(f.stored), Text(f.expected));
  }
  return fmt::format("{:<8}  {}/{}  p{}  {}", difference.kind, difference.tenant, difference.agent,
                     difference.partition, details);
}

}  // namespace presence::ctl
