// Fuzz target: request routing and validation of REST API v1.
//
// The input is an HTTP request written as text:
//
//   PUT /v1/tenants/contoso/agents/alice?seq=1
//   Content-Type: application/json
//   If-Match: "3"
//
//   {"source":"push"}
//
// It becomes an http::Request the way http::Server builds one (target split
// into path and query at the first '?'; header lines the Beast parser would
// refuse are dropped) and goes through the real Router with the real agent
// routes and ops routes, as ApiServer wires them. The store behind the routes
// is a fake: it answers like the Functions would (echoing the command), or
// with the JSON of a pseudo header "X-Fuzz-Store: {...}" ("down" makes it
// fail as if Redis were unreachable), so that the answer mapping is fuzzed
// too.
//
// Invariants beyond "no crash":
//   - without X-Fuzz-Store nothing throws, the status is one the API
//     documents for validation or success, and the store is called at most
//     once; with it, an exception is allowed (the server turns it into 500),
//     but AgentView of any record must not throw (as agent_view.h promises);
//   - every command that reaches the store is fully valid: ids pass
//     ValidateId, seq and If-Match are decimal u64, labels are canonical JSON
//     that parses to an object and re-validates to the same text, a graph
//     source has a lower-case GUID and a push source none, availability and
//     activity are DESIGN.md values, Idempotency-Key is 1..255 visible ASCII
//     with a 32-hex-digit fingerprint;
//   - every body except /metrics is a JSON object; an error body has a code
//     and a message; a 405 has an Allow header; no header value of the
//     response holds CR, LF or NUL.

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/agent_commands.h"
#include "api/agent_requests.h"
#include "api/agent_routes.h"
#include "api/agent_view.h"
#include "api/ops_routes.h"
#include "api/presence_batch_request.h"
#include "api/validation.h"
#include "fuzz_check.h"
#include "graph/presence_values.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/router.h"
#include "known_values.h"
#include "util/asio.h"
#include "util/log.h"

namespace {

using nlohmann::json;
using presence::Error;
using presence::MakeError;
using presence::Result;
using presence::Task;
using presence::http::Request;
using presence::http::Response;
namespace api = presence::api;
namespace asio = presence::asio;
namespace fuzz = presence::fuzz;
namespace store = presence::store;

constexpr uint64_t kNowMs = 1714564800000ull;
constexpr std::string_view kStoreHeader = "X-Fuzz-Store";

// A stored record as the Functions would keep it for the command.
json RecordFor(const std::string& tenant, const std::string& agent, const std::string& labels) {
  return {{"tenant", tenant},       {"agent", agent},           {"state", "registered"},
          {"version", 2},           {"source", "push"},         {"graph_user_id", ""},
          {"labels", labels},       {"created_at", kNowMs},     {"updated_at", kNowMs},
          {"availability", "Busy"}, {"activity", "InACall"},    {"presence_at", kNowMs},
          {"observed_at", kNowMs},  {"presence_source", "push"}};
}

// Checks what the routes hand to the store: only fully validated commands.
void CheckIds(const std::string& tenant, const std::string& agent) {
  FUZZ_CHECK(api::ValidateId("tenant", tenant).ok(), tenant);
  FUZZ_CHECK(agent.empty() || api::ValidateId("agent", agent).ok(), agent);
}

void CheckDecimal(const std::optional<std::string>& text) {
  if (text) FUZZ_CHECK(api::ParseSeqText(*text).ok(), *text);
}

void CheckIdempotency(const std::optional<store::Idempotency>& idempotency) {
  if (!idempotency) return;
  FUZZ_CHECK(api::ValidateIdempotencyKey(idempotency->key).ok(), idempotency->key);
  FUZZ_CHECK(idempotency->fingerprint.size() == 32 && idempotency->fingerprint.find_first_not_of(
                                                          "0123456789abcdef") == std::string::npos,
             idempotency->fingerprint);
}

class FuzzCommands final : public api::AgentCommands {
 public:
  // The answer of every call; nullopt: answer like the Functions would.
  std::optional<Result<json>> answer;
  int calls = 0;

  Task<Result<json>> Put(const store::PutAgentCommand& command) override {
    ++calls;
    CheckIds(command.tenant, command.agent);
    CheckDecimal(command.seq);
    CheckDecimal(command.if_match);
    CheckIdempotency(command.idempotency);
    FUZZ_CHECK(command.source == "graph" || command.source == "push", command.source);
    if (command.source == "graph") {
      FUZZ_CHECK(presence::graph::CanonicalGuid(command.graph_user_id) == command.graph_user_id,
                 command.graph_user_id);
    } else {
      FUZZ_CHECK(command.graph_user_id.empty(), command.graph_user_id);
    }
    json labels = json::parse(command.labels_json, nullptr, false);
    FUZZ_CHECK(labels.is_object(), command.labels_json);
    auto again = api::ParseLabels(labels);
    FUZZ_CHECK(again.ok() && *again == command.labels_json, command.labels_json);
    if (answer) co_return *answer;
    co_return json{{"ok", true},
                   {"changed", true},
                   {"created", true},
                   {"agent", RecordFor(command.tenant, command.agent, command.labels_json)}};
  }

  Task<Result<json>> Delete(const store::DeleteAgentCommand& command) override {
    ++calls;
    CheckIds(command.tenant, command.agent);
    CheckDecimal(command.seq);
    CheckDecimal(command.if_match);
    CheckIdempotency(command.idempotency);
    if (answer) co_return *answer;
    json record = RecordFor(command.tenant, command.agent, "{}");
    record["state"] = "deregistered";
    co_return json{{"ok", true}, {"changed", true}, {"agent", record}};
  }

  Task<Result<json>> Get(const std::string& tenant, const std::string& agent) override {
    ++calls;
    CheckIds(tenant, agent);
    if (answer) co_return *answer;
    co_return json{{"ok", true}, {"agent", RecordFor(tenant, agent, "{\"team\":\"x\"}")}};
  }

  Task<Result<json>> PushPresence(const store::PushPresenceCommand& command) override {
    ++calls;
    CheckIds(command.tenant, command.agent);
    CheckDecimal(command.if_match);
    CheckIdempotency(command.idempotency);
    FUZZ_CHECK(fuzz::IsKnownAvailability(command.availability), command.availability);
    FUZZ_CHECK(fuzz::IsKnownActivity(command.activity), command.activity);
    FUZZ_CHECK(command.observed_at_ms <= kNowMs + api::kMaxObservedAtAheadMs,
               std::to_string(command.observed_at_ms));
    if (answer) co_return *answer;
    json record = RecordFor(command.tenant, command.agent, "{}");
    record["availability"] = command.availability;
    record["activity"] = command.activity;
    record["observed_at"] = command.observed_at_ms;
    co_return json{{"ok", true},
                   {"results", json::array({{{"outcome", "changed"}, {"record", record}}})}};
  }

  Task<Result<json>> PushBatch(store::PresenceBatchCommand command) override {
    ++calls;
    CheckIds(command.tenant, "");
    FUZZ_CHECK(!command.items.empty() && command.items.size() <= api::kMaxBatchItems,
               std::to_string(command.items.size()));
    json results = json::array();
    for (const store::PresenceBatchItem& item : command.items) {
      CheckIds(command.tenant, item.agent);
      FUZZ_CHECK(fuzz::IsKnownAvailability(item.availability), item.availability);
      FUZZ_CHECK(fuzz::IsKnownActivity(item.activity), item.activity);
      FUZZ_CHECK(item.observed_at_ms <= kNowMs + api::kMaxObservedAtAheadMs,
                 std::to_string(item.observed_at_ms));
      results.push_back({{"agent", item.agent}, {"outcome", "changed"}});
    }
    if (answer) co_return *answer;
    co_return json{{"ok", true},      {"changed", results.size()}, {"unchanged", 0},
                   {"missing", 0},    {"wrong_source", 0},         {"stale_observation", 0},
                   {"unreadable", 0}, {"results", results}};
  }

  Task<Result<json>> List(const std::string& tenant, const std::string& cursor,
                          uint32_t limit) override {
    ++calls;
    CheckIds(tenant, "");
    FUZZ_CHECK(cursor.size() <= api::kMaxCursorLength, cursor);
    FUZZ_CHECK(limit >= 1 && limit <= api::kMaxListLimit, std::to_string(limit));
    if (answer) co_return *answer;
    co_return json{
        {"ok", true}, {"agents", json::array({RecordFor(tenant, "alice", "{}")})}, {"next", "0-1"}};
  }
};

// Beast 1.74 has its own string_view type.
boost::beast::string_view BeastView(std::string_view text) {
  return boost::beast::string_view(text.data(), text.size());
}

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// What the Beast parser lets through as a field value: no control
// characters except horizontal tab.
bool IsFieldValue(std::string_view value) {
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
  }
  return true;
}

std::string_view TrimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The next line of `text` without its "\n" or "\r\n"; advances `text`.
std::string_view NextLine(std::string_view& text) {
  size_t end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// The request and the store answer the input describes; nullopt for a
// request line the server would never hand to the router.
struct Input {
  Request request;
  std::optional<Result<json>> answer;
};

std::optional<Input> ParseInput(std::string_view text) {
  Input input;
  std::string_view line = NextLine(text);
  size_t space = line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view method = line.substr(0, space);
  std::string_view target = line.substr(space + 1);
  if (method.empty() || target.empty()) return std::nullopt;
  for (char c : method) {
    if (!IsTokenChar(c)) return std::nullopt;
  }
  for (unsigned char c : target) {
    if (c <= 0x20 || c == 0x7F) return std::nullopt;
  }

  // As http::Server does it.
  Request& request = input.request;
  request.method = boost::beast::http::string_to_verb(BeastView(method));
  request.target = std::string(target);
  size_t question = request.target.find('?');
  request.path = request.target.substr(0, question);
  if (question != std::string::npos) request.query = request.target.substr(question + 1);

  // Header lines up to an empty line; the rest is the body.
  while (!text.empty()) {
    line = NextLine(text);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = TrimOws(line.substr(colon + 1));
    bool token = true;
    for (char c : name) token = token && IsTokenChar(c);
    if (!token || !IsFieldValue(value)) continue;
    if (boost::beast::iequals(BeastView(name), BeastView(kStoreHeader))) {
      if (value == "down") {
        input.answer = Result<json>(MakeError("redis_unavailable", "redis 127.0.0.1:1: refused"));
      } else {
        input.answer = Result<json>(json::parse(value, nullptr, false));
      }
      continue;
    }
    request.headers.insert(BeastView(name), BeastView(value));
  }
  request.body = std::string(text);
  return input;
}

// Runs the request through a router wired like ApiServer's. Returns nullopt
// when the handler threw.
std::optional<Response> Dispatch(Request& request, FuzzCommands& commands, bool& threw) {
  static asio::io_context io;
  presence::http::MetricsRegistry metrics;
  presence::http::Router router;
  api::AgentRoutes agent_routes(
      commands, [] { return kNowMs; }, &metrics);
  api::OpsRoutes ops_routes([] { return std::pair<bool, std::string>(true, ""); }, metrics);
  agent_routes.AddTo(router);
  ops_routes.AddTo(router);

  std::optional<Response> response;
  std::string pattern;
  threw = false;
  io.restart();
  asio::co_spawn(
      io, [&]() -> Task<Response> { co_return co_await router.Dispatch(request, pattern); },
      [&](std::exception_ptr error, Response answer) {
        if (error) {
          threw = true;
          if (!commands.answer) std::rethrow_exception(error);
          return;
        }
        response = std::move(answer);
      });
  io.run();
  if (response) FUZZ_CHECK(!pattern.empty(), "no route pattern reported");
  return response;
}

void CheckResponse(const Request& request, const Response& response, bool fuzzed_answer,
                   int store_calls) {
  const unsigned status = response.status;
  if (!fuzzed_answer) {
    const bool documented = status == 200 || status == 201 || status == 400 || status == 404 ||
                            status == 405 || status == 415;
    FUZZ_CHECK(documented, std::to_string(status) + " " + response.body);
    // Success needs the store (the ops routes aside), a validation error must not reach it.
    if (status == 400 || status == 415) FUZZ_CHECK(store_calls == 0, response.body);
  }
  FUZZ_CHECK(store_calls <= 1, std::to_string(store_calls) + " store calls for one request");

  for (const auto& field : response.headers) {
    std::string_view value(field.value().data(), field.value().size());
    FUZZ_CHECK(value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos,
               std::string(field.name_string()) + ": " + std::string(value));
  }
  if (status == 405) {
    FUZZ_CHECK(response.headers.find("Allow") != response.headers.end(), response.body);
  }
  if (request.path == "/metrics" && status == 200) return;

  json body = json::parse(response.body, nullptr, false);
  FUZZ_CHECK(body.is_object(), response.body);
  if (status >= 400) {
    auto error = body.find("error");
    FUZZ_CHECK(error != body.end() && error->is_object(), response.body);
    auto code = error->find("code");
    auto message = error->find("message");
    FUZZ_CHECK(code != error->end() && code->is_string() && !code->get<std::string>().empty(),
               response.body);
    FUZZ_CHECK(message != error->end() && message->is_string(), response.body);
  }
}

// agent_view.h: a malformed record gives what can be read; nothing throws.
void CheckAgentView(const json& record) {
  json view = api::AgentView(record);
  (void)api::RecordVersion(record);
  FUZZ_CHECK(view.is_object(), view.dump());
}

// The records of a store answer: "agent", "agents"[i] and "results"[i].record.
void CheckAgentViewsOf(const json& answer) {
  if (!answer.is_object()) return;
  if (auto agent = answer.find("agent"); agent != answer.end()) CheckAgentView(*agent);
  for (const char* list : {"agents", "results"}) {
    auto items = answer.find(list);
    if (items == answer.end() || !items->is_array()) continue;
    for (const json& item : *items) {
      auto record = item.is_object() ? item.find("record") : item.end();
      CheckAgentView(std::string_view(list) == "agents" ? item
                     : record != item.end()             ? *record
                                                        : json());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The routes log store refusals at error; thousands a second would only slow the run.
  presence::Logger("api")->set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<Input> input = ParseInput(fuzz::AsText(data, size));
  if (!input) return 0;

  FuzzCommands commands;
  commands.answer = input->answer;
  if (input->answer && input->answer->ok()) CheckAgentViewsOf(input->answer->value());

  bool threw = false;
  std::optional<Response> response = Dispatch(input->request, commands, threw);
  if (threw) return 0;  // only with a fuzzed store answer; see Dispatch
  FUZZ_CHECK(response.has_value(), "the request was never answered");
  CheckResponse(input->request, *response, input->answer.has_value(), commands.calls);
  return 0;
}
