#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "graph/http_client.h"
#include "graph/throttle.h"
#include "graph/token_source.h"
#include "graph/url.h"
#include "util/asio.h"
#include "util/result.h"

namespace presence::graph {

// Graph refuses getPresencesByUserId with more ids than this.
inline constexpr size_t kMaxIdsPerRead = 650;

// The presence of one user as Graph reported it, normalised.
struct UserPresence {
  std::string id;            // the user object id, lower case
  std::string availability;  // canonical spelling, PresenceUnknown when unknown or missing
  std::string activity;      // canonical spelling, PresenceUnknown when unknown or missing
};

// The answer to one read, in Graph's order. Users Graph did not answer for
// are simply absent.
struct PresenceBatch {
  std::vector<UserPresence> users;
};

// Parses the body of a getPresencesByUserId answer ({"value":[{id,
// availability, activity, ...}]}). Extra fields are ignored; missing or null
// availability/activity become PresenceUnknown. Anything malformed (not JSON,
// no "value" array, an element that is not an object, an id that is not a
// non-empty string, availability or activity of another type) fails the whole
// body with code "bad_response" and a message naming what was wrong, e.g.
//   "value[3].availability is a number, expected a string"
// Never throws; safe for any input.
Result<PresenceBatch> ParsePresenceResponse(std::string_view body);

// Reads presence for batches of users of one tenant with app-only tokens.
//
// Read errors (code: meaning):
//   "too_many_ids"  more than kMaxIdsPerRead ids (the caller chunks)
//   "throttled"     Graph answered 429 or 503; RetryAfterMs (throttle.h) has
//                   the wait Graph asked for:
//                   "graph tenant contoso: throttled (429), retry after 5000 ms"
//   "unauthorized"  Graph answered 401 again after a fresh token
//   "graph_error"   any other non-200 status (message has Graph's error code)
//   "bad_response"  the 200 body did not parse (see ParsePresenceResponse)
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

 private:
  Result<BaseUrl> graph_url_;
  HttpClient& http_;
  TokenSource& tokens_;
};

}  // namespace presence::graph
