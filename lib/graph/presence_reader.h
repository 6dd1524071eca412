#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "graph/bad_responses.h"
#include "graph/http_client.h"
#include "graph/throttle.h"
#include "graph/token_source.h"
#include "graph/url.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::graph {

// Graph refuses getPresencesByUserId with more ids than this.
inline constexpr size_t kMaxIdsPerRead = 650;

// Largest getPresencesByUserId answer read; a larger one is refused
// ("too_large") as its bytes arrive. Graph's answer for kMaxIdsPerRead users
// is about 300 KB (about 460 bytes an item with statusMessage and
// outOfOfficeSettings); the limit leaves room for three times that and keeps
// what one hostile answer costs to a few MB.
inline constexpr size_t kMaxPresenceAnswerBytes = 1024 * 1024;

// The presence of one user as Graph reported it, normalised.
struct UserPresence {
  std::string id;            // the user object id, lower case
  std::string availability;  // canonical spelling, PresenceUnknown when unknown or missing
  std::string activity;      // canonical spelling, PresenceUnknown when unknown or missing
};

// An item of an answer that was not used, and why.
struct SkippedItem {
  BadReason reason;    // kBadItem, kUnknownId or kDuplicateId
  std::string detail;  // "value[3].availability is a number, expected a string"
};

// The answer to one read, in Graph's order. Users Graph did not answer for
// are simply absent; so are items that were skipped (listed in `skipped`).
struct PresenceBatch {
  std::vector<UserPresence> users;
  std::vector<SkippedItem> skipped;
  size_t unknown_values = 0;  // availability/activity strings mapped to PresenceUnknown
};

// Longest availability or activity string taken as a value (the longest
// known one has 23 characters); longer ones make the item malformed.
inline constexpr size_t kMaxValueBytes = 64;

// Parses the body of a getPresencesByUserId answer ({"value":[{id,
// availability, activity, ...}]}) to a read of the ids `asked`. Extra fields
// are ignored. Never throws; safe for any input. See docs/graph-input.md.
//
// The whole answer fails, with the reason's name as error code and a message
// naming what was wrong, when it nests arrays and objects deeper than
// kMaxGraphJsonDepth ("too_deep", checked before parsing), is not JSON
// ("not_json"), not an object with
// a "value" array ("bad_shape"), or has more items than ids were asked for
// ("too_many_items").
//
// Single items are skipped (and listed in `skipped`), so that they change no
// one's presence, when:
//   kBadItem      not an object; id not a non-empty string; availability or
//                 activity missing, null, not a string, or over kMaxValueBytes
//   kUnknownId    the id was not asked for (compared case-insensitively)
//   kDuplicateId  the id appears more than once: every copy is skipped
// An availability or activity string that is not one of DESIGN.md's values is
// PresenceUnknown, as DESIGN.md says, and counted in unknown_values.
Result<PresenceBatch> ParsePresenceResponse(std::string_view body,
                                            const std::vector<std::string>& asked);

// Reads presence for batches of users of one tenant with app-only tokens.
//
// Read errors (code: meaning):
//   "too_many_ids"  more than kMaxIdsPerRead ids (the caller chunks)
//   "throttled"     Graph answered 429 or 503; RetryAfterMs (throttle.h) has
//                   the wait Graph asked for:
//                   "graph tenant contoso: throttled (429), retry after 5000 ms"
//   "unauthorized"  Graph answered 401 again after a fresh token
//   "graph_error"   any other non-200 status (message has Graph's error code)
//   "bad_response"  the answer was unusable: a 200 body that did not parse
//                   (see ParsePresenceResponse), not application/json, over
//                   kMaxPresenceAnswerBytes, or malformed HTTP
// Every unusable answer, item and unexpected status is counted in
// bad_responses() and logged with the tenant, status, reason and byte count.
//   "bad_url"       graph_url in the configuration is unusable
//   and TokenSource's and HttpClient's codes ("auth_failed",
//   "no_credentials", "unavailable", "timeout", ...).
// The Graph request budget (GraphBudget) is the caller's to reserve.
//
// Not thread-safe: use from the io_context's single thread. config, http and
// tokens must outlive this object and every call in progress.
class PresenceReader {
 public:
  PresenceReader(const config::Config& config, HttpClient& http, TokenSource& tokens);

  // POST {graph_url}/v1.0/communications/getPresencesByUserId for the ids
  // (user object GUIDs). An empty list answers an empty batch without a
  // request. On 401 the token is invalidated and the request sent once more.
  Task<Result<PresenceBatch>> Read(const std::string& tenant, std::vector<std::string> ids);

  // Counters of unusable answers (endpoint "presence").
  const BadResponses& bad_responses() const { return bad_; }

 private:
  Error Bad(const std::string& tenant, BadReason reason, unsigned status, size_t bytes,
            const std::string& detail);
  void NoteSkipped(const std::string& tenant, const PresenceBatch& batch, size_t bytes);

  Result<BaseUrl> graph_url_;
  HttpClient& http_;
  TokenSource& tokens_;
  BadResponses bad_{"presence"};
};

}  // namespace presence::graph
