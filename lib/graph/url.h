#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.h"

namespace presence::graph {

// A base URL from configuration, such as "https://graph.microsoft.com" or
// "http://127.0.0.1:8900/fake". Requests are made to path_prefix + a target
// that starts with "/".
struct BaseUrl {
  std::string scheme;       // "http" or "https"
  std::string host;         // a name or an address; IPv6 without brackets
  uint16_t port = 0;        // explicit, or 80 / 443 from the scheme
  std::string path_prefix;  // "" or "/segment..." without a trailing "/"

  bool tls() const { return scheme == "https"; }

  // "host:port" ("[::1]:8900" for IPv6), as used in error messages.
  std::string Authority() const;

  // The value of the Host header: the authority without a default port.
  std::string HostHeader() const;

  // path_prefix + path; path must start with "/".
  std::string Target(std::string_view path) const;

  // The URL back as text, e.g. "http://127.0.0.1:8900/fake".
  std::string ToString() const;
};

// Parses "scheme://host[:port][/path]". The scheme must be http or https;
// user info, query and fragment are refused. Errors have code "bad_url" and a
// message that names the URL and the reason:
//   url "ftp://x": scheme must be http or https
Result<BaseUrl> ParseBaseUrl(std::string_view text);

}  // namespace presence::graph
