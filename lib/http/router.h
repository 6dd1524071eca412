#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"
#include "util/asio.h"

namespace presence::http {

// Answers one request. Runs on the server's io_context thread.
using Handler = std::function<Task<Response>(const Request&)>;

// Runs before every handler (and before the 404/405/400 answers): nullopt lets the request
// go on, a Response is sent instead. Gets the request with its params filled and the matched
// pattern ("" when no route matched). Used for API keys (auth/authenticator.h).
using Guard = std::function<Task<std::optional<Response>>(const Request&, std::string pattern)>;

// Maps method + path pattern to handlers. A pattern is a path whose segments
// are literals or "{name}" parameters ("/v1/tenants/{tenant}/agents/{agent}");
// a parameter matches exactly one non-empty segment, after percent-decoding.
// Not thread-safe: add every route before the server starts.
class Router {
 public:
  enum class Outcome { kFound, kNotFound, kMethodNotAllowed, kBadPath };

  struct Match {
    Outcome outcome = Outcome::kNotFound;
    const Handler* handler = nullptr;  // kFound only
    std::string pattern;               // the matched pattern (kFound, kMethodNotAllowed)
    std::map<std::string, std::string, std::less<>> params;  // kFound only, decoded
    std::string allow;                                       // kMethodNotAllowed: "GET, PUT"
    std::string error;  // kBadPath: why the path could not be decoded
  };

  // Adds a route. Adding the same method and pattern twice replaces the handler.
  void Add(Verb method, std::string_view pattern, Handler handler);

  // Finds the route for an encoded path (no query).
  Match Find(Verb method, std::string_view path) const;

  // Finds the route, fills request.params and runs the handler. Unknown paths
  // get 404 not_found, a known path with another method 405 method_not_allowed
  // with an Allow header, an undecodable path 400 bad_path. `pattern` receives
  // the matched pattern (for metrics), or "unmatched".
  Task<Response> Dispatch(Request& request, std::string& pattern) const;

  // Sets the guard every request passes first (none by default). Set it before the server
  // starts.
  void SetGuard(Guard guard) { guard_ = std::move(guard); }

 private:
  struct Route {
    Verb method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" for parameters
    Handler handler;
  };

  static bool IsParam(const std::string& segment);
  static bool Matches(const Route& route, const std::vector<std::string>& segments);

  std::vector<Route> routes_;
  Guard guard_;
};

}  // namespace presence::http
