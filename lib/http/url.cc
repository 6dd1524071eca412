#include "http/url.h"

#include <fmt/format.h>

#include "util/strings.h"

namespace presence::http {

namespace {

// Decodes escapes; on a malformed one returns false and leaves `out` partial.
bool DecodeInto(std::string_view text, std::string& out) {
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int high = HexDigitValue(text[i + 1]);
    int low = HexDigitValue(text[i + 2]);
    if (high < 0 || low < 0) return false;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

}  // namespace

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  if (!DecodeInto(text, out)) {
    return MakeError("bad_path", fmt::format("\"{}\": malformed percent escape", text));
  }
  return out;
}

Result<std::vector<std::string>> SplitPath(std::string_view path) {
  if (path.empty() || path[0] != '/') {
    return MakeError("bad_path", fmt::format("path \"{}\" must start with '/'", path));
  }
  std::vector<std::string> segments;
  if (path.size() == 1) return segments;

  // Each '/' starts a segment; decode each piece on its own.
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view raw = path.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    std::string decoded;
    if (!DecodeInto(raw, decoded)) {
      return MakeError("bad_path",
                       fmt::format("path segment \"{}\" has a malformed percent escape", raw));
    }
    segments.push_back(std::move(decoded));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

Result<QueryParams> ParseQueryString(std::string_view query) {
  QueryParams params;
  if (query.empty()) return params;

  size_t start = 0;
  while (true) {
    size_t amp = query.find('&', start);
    std::string_view piece =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);

    // NAME=VALUE with a non-empty name.
    size_t eq = piece.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return MakeError("bad_query",
                       fmt::format("query parameter \"{}\" must have the form name=value", piece));
    }
    std::string name;
    std::string value;
    if (!DecodeInto(piece.substr(0, eq), name) || !DecodeInto(piece.substr(eq + 1), value)) {
      return MakeError("bad_query",
                       fmt::format("query parameter \"{}\" has a malformed percent escape", piece));
    }
    for (const auto& [seen, unused] : params) {
      if (seen == name) {
        return MakeError("bad_query", fmt::format("query parameter \"{}\" appears twice", name));
      }
    }
    params.emplace_back(std::move(name), std::move(value));

    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return params;
}

}  // namespace presence::http
