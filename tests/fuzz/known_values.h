#pragma once

// The availability and activity values of DESIGN.md, written out again here
// so that the fuzz targets check the parsers against the contract rather than
// against the parsers' own tables.

#include <algorithm>
#include <array>
#include <string_view>

namespace presence::fuzz {

inline constexpr std::array<std::string_view, 9> kAvailabilities = {
    "Available", "AvailableIdle", "Away",    "BeRightBack",     "Busy",
    "BusyIdle",  "DoNotDisturb",  "Offline", "PresenceUnknown",
};

inline constexpr std::array<std::string_view, 15> kActivities = {
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

inline bool IsKnownAvailability(std::string_view value) {
  return std::find(kAvailabilities.begin(), kAvailabilities.end(), value) != kAvailabilities.end();
}

inline bool IsKnownActivity(std::string_view value) {
  return std::find(kActivities.begin(), kActivities.end(), value) != kActivities.end();
}

}  // namespace presence::fuzz
