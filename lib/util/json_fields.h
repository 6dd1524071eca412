#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace presence {

// Reads a field that Redis may hand back as a string or a number, without
// throwing: a missing or unusable field gives the fallback.
std::string FieldString(const nlohmann::json& object, const char* key,
                        const std::string& fallback = "");
uint64_t FieldUint(const nlohmann::json& object, const char* key, uint64_t fallback = 0);

}  // namespace presence
