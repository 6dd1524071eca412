#include "graph/url.h"

#include <charconv>

#include <fmt/format.h>

namespace presence::graph {
namespace {

Error BadUrl(std::string_view text, std::string_view reason) {
  return MakeError("bad_url", fmt::format("url \"{}\": {}", text, reason));
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool IsIpv6Char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::string BaseUrl::Authority() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

std::string BaseUrl::HostHeader() const {
  bool default_port = (tls() && port == 443) || (!tls() && port == 80);
  if (!default_port) return Authority();
  if (host.find(':') != std::string::npos) return fmt::format("[{}]", host);
  return host;
}

std::string BaseUrl::Target(std::string_view path) const { return path_prefix + std::string(path); }

std::string BaseUrl::ToString() const {
  return fmt::format("{}://{}{}", scheme, HostHeader(), path_prefix);
}

Result<BaseUrl> ParseBaseUrl(std::string_view text) {
  BaseUrl url;

  // Characters that never belong in a configured URL.
  if (text.empty()) return BadUrl(text, "is empty");
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return BadUrl(text, "contains a space or control character");
    }
  }
  if (text.find_first_of("?#") != std::string_view::npos) {
    return BadUrl(text, "must not have a query or fragment");
  }

  // Scheme.
  size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos)
    return BadUrl(text, "has no scheme (http:// or https://)");
  url.scheme = ToLower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return BadUrl(text, "scheme must be http or https");
  }

  // Authority and path.
  std::string_view rest = text.substr(scheme_end + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return BadUrl(text, "must not have user info");

  // Host: a bracketed IPv6 address or a name / IPv4 address.
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl(text, "has an unclosed '[' in the host");
    std::string_view host = authority.substr(1, close - 1);
    if (host.empty()) return BadUrl(text, "has an empty host");
    for (char c : host) {
      if (!IsIpv6Char(c)) return BadUrl(text, "has an invalid IPv6 address");
    }
    url.host = ToLower(host);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadUrl(text, "has text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return BadUrl(text, "has an empty port");
    }
  } else {
    size_t colon = authority.find(':');
    std::string_view host = authority.substr(0, colon);
    if (host.empty()) return BadUrl(text, "has an empty host");
    for (char c : host) {
      if (!IsHostChar(c))
        return BadUrl(text, fmt::format("has an invalid character '{}' in the host", c));
    }
    url.host = ToLower(host);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return BadUrl(text, "has an empty port");
    }
  }

  // Port: explicit or from the scheme.
  url.port = url.tls() ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return BadUrl(text, "port must be a number from 1 to 65535");
    }
    url.port = static_cast<uint16_t>(value);
  }

  // Path prefix without trailing slashes.
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.path_prefix = std::string(path);
  return url;
}

}  // namespace presence::graph
