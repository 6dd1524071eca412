#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace presence::graph {

// The availability every unknown or missing value maps to.
inline constexpr std::string_view kPresenceUnknown = "PresenceUnknown";

// Graph's availability in its canonical spelling ("busy" -> "Busy"), compared
// case-insensitively against the list in DESIGN.md; anything else, including
// "", is "PresenceUnknown". The result refers to static storage.
const std::string& NormalizeAvailability(std::string_view value);

// The same for activity ("inameeting" -> "InAMeeting").
const std::string& NormalizeActivity(std::string_view value);

// True for a GUID in the form 8-4-4-4-12 hex digits, any case, no braces.
bool IsGuid(std::string_view text);

// The GUID in lower case, or nullopt when text is not a GUID.
std::optional<std::string> CanonicalGuid(std::string_view text);

}  // namespace presence::graph
