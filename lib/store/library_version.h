#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace presence::store {

// The value of `local LIBRARY_VERSION = "..."` in a Functions library text, or
// empty when the line is missing or malformed.
std::string LibraryVersionOf(std::string_view library_source);

// What a binary does about the Functions library that Redis has loaded.
enum class LibraryDecision {
  kUse,          // the same version as this binary's
  kLoad,         // missing, older or unreadable: load this binary's
  kNewerLoaded,  // a newer binary loaded a newer version: keep it, do not downgrade
};

// Versions are decimal integers compared as numbers. `loaded` is what
// presence_version answered, nullopt when Redis has no library. Never
// kLoad for a newer version: in a rolling upgrade the old and the new
// binaries would otherwise replace each other's library back and forth.
LibraryDecision DecideLibrary(std::optional<std::string_view> loaded, std::string_view ours);

}  // namespace presence::store
