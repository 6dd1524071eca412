#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

namespace presence::http {

using Verb = boost::beast::http::verb;
using Fields = boost::beast::http::fields;

// One HTTP request as the handlers see it: the whole body already read.
struct Request {
  Verb method = Verb::unknown;
  std::string target;  // as sent: path and query, still percent-encoded
  std::string path;    // the target before '?', still percent-encoded
  std::string query;   // the target after '?', still percent-encoded; empty when none
  Fields headers;
  std::string body;
  // Path parameters ({tenant} → value), percent-decoded; filled by the Router.
  std::map<std::string, std::string, std::less<>> params;

  // The value of a header, or nullopt when the request does not carry it.
  std::optional<std::string> Header(std::string_view name) const;

  // The decoded value of a path parameter; empty when the route has none of that name.
  const std::string& Param(std::string_view name) const;
};

// One HTTP response. The server adds Content-Length, Server, Date and
// Connection; everything else is up to the handler.
struct Response {
  unsigned status = 200;
  Fields headers;
  std::string body;
  // Not sent: what the answer says, for the handler's own metrics, so that
  // they need not parse the body again. JsonResponse fills error_code from an
  // ErrorBody; a command's handler sets changed.
  std::string error_code;
  bool changed = false;

  void SetHeader(std::string_view name, std::string_view value);
};

// A response with a JSON body and Content-Type application/json.
Response JsonResponse(unsigned status, const nlohmann::json& body);

// The error body of the API: {"error": {"code": CODE, "message": MESSAGE}}. Callers may add
// fields to body["error"] (e.g. the current version of a refused command).
nlohmann::json ErrorBody(std::string_view code, std::string_view message);

// JsonResponse(status, ErrorBody(code, message)).
Response ErrorResponse(unsigned status, std::string_view code, std::string_view message);

// Serialises JSON for the wire; invalid UTF-8 (which the parser never lets in) is replaced
// rather than thrown on.
std::string DumpJson(const nlohmann::json& value);

}  // namespace presence::http
