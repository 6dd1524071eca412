#include "ctl/agent_input.h"

#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/validation.h"

namespace presence::ctl {
Status ValidateId(std::string_view what, std::string_view value) {
  return api::ValidateId(what, value);
}

Result<std::string> NormaliseGuid(std::string_view value) {
  static constexpr size_t kDashes[] = {8, 13, 18, 23};
  bool ok = value.size() == 36;
  std::string lower(value);
  for (size_t i = 0; ok && i < lower.size(); ++i) {
    bool dash_here = i == kDashes[0] || i == kDashes[1] || i == kDashes[2] || i == kDashes[3];
    char c = lower[i];
    ok = dash_here ? c == '-' : std::isxdigit(static_cast<unsigned char>(c)) != 0;
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!ok) {
    return MakeError("bad_guid", fmt::format("graph_user_id '{}' is not a GUID "
                                             "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                                             value));
  }
  return lower;
}

Status ValidateSeq(std::string_view value) {
  static constexpr std::string_view kMax = "18446744073709551615";
  bool digits = !value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos;
  bool too_big = value.size() > kMax.size() || (value.size() == kMax.size() && value > kMax);
  bool leading_zero = value.size() > 1 && value.front() == '0';
  if (!digits || too_big || leading_zero) {
    return MakeError("bad_seq",
                     fmt::format("seq '{}' is not an unsigned 64-bit decimal number", value));
  }
  return Ok{};
}

Status AddLabel(std::string_view pair, Labels& labels) {
  size_t eq = pair.find('=');
  if (eq == std::string_view::npos) {
    return MakeError("bad_label", fmt::format("label '{}' is not key=value", pair));
  }
  std::string_view key = pair.substr(0, eq);
  std::string_view value = pair.substr(eq + 1);
  // The API's rules (api::ParseLabels, in LabelsJson) hold too; this form also
  // cannot carry ';' in a value, and its keys are ids.
  if (Status valid = ValidateId("label key", key); !valid) return valid;
  if (value.find(';') != std::string_view::npos) {
    return MakeError("bad_label", fmt::format("label '{}' has ';' in its value", key));
  }
  if (!labels.emplace(std::string(key), std::string(value)).second) {
    return MakeError("bad_label", fmt::format("label '{}' is given twice", key));
  }
  return Ok{};
}

Result<Labels> ParseLabelList(std::string_view text) {
  Labels labels;
  while (!text.empty()) {
    size_t semicolon = text.find(';');
    std::string_view pair = text.substr(0, semicolon);
    if (Status added = AddLabel(pair, labels); !added) return added.error();
    if (semicolon == std::string_view::npos) break;
    text.remove_prefix(semicolon + 1);
  }
  return labels;
}

Result<std::string> LabelsJson(const Labels& labels) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : labels) object[key] = value;
  Result<std::string> canonical = api::ParseLabels(object);
  if (!canonical) return MakeError("bad_label", canonical.error().message);
  return canonical;
}

}  // namespace presence::ctl
