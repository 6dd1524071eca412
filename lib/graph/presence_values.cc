#include "graph/presence_values.h"

#include <array>

#include "util/strings.h"

namespace presence::graph {
namespace {

const std::string kUnknown(kPresenceUnknown);

const std::array<std::string, 9> kAvailabilities = {
    "Available", "AvailableIdle", "Away",    "BeRightBack",     "Busy",
    "BusyIdle",  "DoNotDisturb",  "Offline", "PresenceUnknown",
};

const std::array<std::string, 15> kActivities = {
    "Available",
    "Away",
    "BeRightBack",
    "Busy",
    "DoNotDisturb",
    "InACall",
    "InAConferenceCall",
    "Inactive",
    "InAMeeting",
    "Offline",
    "OffWork",
    "OutOfOffice",
    "PresenceUnknown",
    "Presenting",
    "UrgentInterruptionsOnly",
};

template <size_t N>
const std::string& Canonical(const std::array<std::string, N>& names, std::string_view value) {
  for (const std::string& name : names) {
    if (EqualsIgnoreCase(name, value)) return name;
  }
  return kUnknown;
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

const std::string& NormalizeAvailability(std::string_view value) {
  return Canonical(kAvailabilities, value);
}

const std::string& NormalizeActivity(std::string_view value) {
  return Canonical(kActivities, value);
}

bool IsGuid(std::string_view text) {
  // 8-4-4-4-12: dashes at 8, 13, 18 and 23, hex digits everywhere else.
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-' : !IsHexDigit(text[i])) return false;
  }
  return true;
}

std::optional<std::string> CanonicalGuid(std::string_view text) {
  if (!IsGuid(text)) return std::nullopt;
  std::string out(text);
  for (char& c : out) c = LowerAscii(c);
  return out;
}

}  // namespace presence::graph
