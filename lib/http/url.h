#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace presence::http {

// Decodes %XX escapes. A '%' not followed by two hex digits is an error
// (code "bad_path"); '+' stays '+' (this is RFC 3986, not form encoding).
Result<std::string> PercentDecode(std::string_view text);

// Splits an encoded path ("/v1/tenants/a%40b") into decoded segments
// (["v1", "tenants", "a@b"]). Splitting happens before decoding, so "%2F"
// yields a '/' inside a segment rather than a new segment. The path must start
// with '/'; "/" alone gives no segments; empty segments ("//", a trailing '/')
// are kept as "" so they never match a route. Errors have code "bad_path".
Result<std::vector<std::string>> SplitPath(std::string_view path);

// Parses an encoded query string ("a=1&b=x%20y") strictly: every parameter is
// NAME=VALUE with a non-empty name, parameters are separated by single '&',
// no name appears twice, and escapes are well formed. An empty query gives no
// parameters. Errors have code "bad_query" and name the parameter.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
Result<QueryParams> ParseQueryString(std::string_view query);

}  // namespace presence::http
