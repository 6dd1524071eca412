#include "util/json_fields.h"

#include <charconv>

namespace presence {

std::string FieldString(const nlohmann::json& object, const char* key,
                        const std::string& fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_number_float()) return std::to_string(static_cast<int64_t>(it->get<double>()));
  if (it->is_boolean()) return it->get<bool>() ? "1" : "0";
  return fallback;
}

uint64_t FieldUint(const nlohmann::json& object, const char* key, uint64_t fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer()) return it->get<int64_t>() < 0 ? fallback : it->get<int64_t>();
  if (it->is_number_float()) return it->get<double>() < 0 ? fallback : it->get<double>();
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec == std::errc() && end == s.data() + s.size()) return value;
  }
  return fallback;
}

}  // namespace presence
