#include "http/router.h"

#include <fmt/format.h>

#include "http/url.h"

namespace presence::http {

bool Router::IsParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

void Router::Add(Verb method, std::string_view pattern, Handler handler) {
  Route route{method, std::string(pattern), {}, std::move(handler)};
  // Patterns are written by us, never with escapes, so a plain split suffices.
  size_t start = 1;
  while (start <= pattern.size() && pattern.size() > 1) {
    size_t slash = pattern.find('/', start);
    size_t end = slash == std::string_view::npos ? pattern.size() : slash;
    route.segments.emplace_back(pattern.substr(start, end - start));
    start = end + 1;
  }

  for (auto& existing : routes_) {
    if (existing.method == method && existing.pattern == route.pattern) {
      existing = std::move(route);
      return;
    }
  }
  routes_.push_back(std::move(route));
}

bool Router::Matches(const Route& route, const std::vector<std::string>& segments) {
  if (route.segments.size() != segments.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& want = route.segments[i];
    if (IsParam(want) ? segments[i].empty() : want != segments[i]) return false;
  }
  return true;
}

Router::Match Router::Find(Verb method, std::string_view path) const {
  Match match;
  auto segments = SplitPath(path);
  if (!segments.ok()) {
    match.outcome = Outcome::kBadPath;
    match.error = segments.error().message;
    return match;
  }

  // The first route whose pattern and method match wins; remember the methods
  // of routes whose pattern alone matches for a 405.
  for (const Route& route : routes_) {
    if (!Matches(route, *segments)) continue;
    if (route.method != method) {
      std::string name(to_string(route.method));
      if (match.allow.find(name) == std::string::npos) {
        match.allow += match.allow.empty() ? name : ", " + name;
      }
      match.pattern = route.pattern;
      continue;
    }
    match.outcome = Outcome::kFound;
    match.handler = &route.handler;
    match.pattern = route.pattern;
    match.allow.clear();
    for (size_t i = 0; i < route.segments.size(); ++i) {
      const std::string& want = route.segments[i];
      if (IsParam(want)) match.params[want.substr(1, want.size() - 2)] = (*segments)[i];
    }
    return match;
  }
  if (!match.allow.empty()) match.outcome = Outcome::kMethodNotAllowed;
  return match;
}

Task<Response> Router::Dispatch(Request& request, std::string& pattern) const {
  Match match = Find(request.method, request.path);
  if (guard_) {
    const bool found = match.outcome == Outcome::kFound;
    if (found) request.params = std::move(match.params);
    std::string guarded = found ? match.pattern : std::string();
    std::optional<Response> refused = co_await guard_(request, guarded);
    if (refused) {
      pattern = found ? match.pattern : "unmatched";
      co_return std::move(*refused);
    }
  }
  switch (match.outcome) {
    case Outcome::kFound:
      pattern = match.pattern;
      if (!guard_) request.params = std::move(match.params);
      co_return co_await (*match.handler)(request);
    case Outcome::kMethodNotAllowed: {
      pattern = match.pattern;
      Response response = ErrorResponse(
          405, "method_not_allowed",
          fmt::format(
              "{} is not allowed on {}; allowed: {}",
              std::string_view(to_string(request.method).data(), to_string(request.method).size()),
              match.pattern, match.allow));
      response.SetHeader("Allow", match.allow);
      co_return response;
    }
    case Outcome::kBadPath:
      pattern = "unmatched";
      co_return ErrorResponse(400, "bad_path", match.error);
    case Outcome::kNotFound:
      break;
  }
  pattern = "unmatched";
  co_return ErrorResponse(404, "not_found", fmt::format("no route for path \"{}\"", request.path));
}

}  // namespace presence::http
