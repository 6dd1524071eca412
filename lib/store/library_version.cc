#include "store/library_version.h"

#include <charconv>
#include <cstdint>

namespace presence::store {

namespace {

std::optional<uint64_t> ParseVersion(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::string LibraryVersionOf(std::string_view source) {
  constexpr std::string_view kMarker = "local LIBRARY_VERSION";
  size_t at = source.find(kMarker);
  if (at == std::string_view::npos) return "";
  size_t open = source.find('"', at);
  size_t line_end = source.find('\n', at);
  if (open == std::string_view::npos || open > line_end) return "";
  size_t close = source.find('"', open + 1);
  if (close == std::string_view::npos || close > line_end) return "";
  return std::string(source.substr(open + 1, close - open - 1));
}

LibraryDecision DecideLibrary(std::optional<std::string_view> loaded, std::string_view ours) {
  if (!loaded) return LibraryDecision::kLoad;
  std::optional<uint64_t> theirs = ParseVersion(*loaded);
  std::optional<uint64_t> mine = ParseVersion(ours);
  if (!theirs || !mine) return *loaded == ours ? LibraryDecision::kUse : LibraryDecision::kLoad;
  if (*theirs == *mine) return LibraryDecision::kUse;
  return *theirs < *mine ? LibraryDecision::kLoad : LibraryDecision::kNewerLoaded;
}

}  // namespace presence::store
