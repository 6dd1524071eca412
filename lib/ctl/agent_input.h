#pragma once

#include <map>
#include <string>
#include <string_view>

#include "util/result.h"

// Checks of what an operator types about an agent, done before any call to
// Redis. Every error message names the thing and the reason.
namespace presence::ctl {

// Tenant and agent ids, by the API's rules (api::ValidateId): 1 to 128
// characters of letters, digits and "-_.@", not dots only. `what` names the
// value in the message ("tenant", "agent").
Status ValidateId(std::string_view what, std::string_view value);

// A GUID (8-4-4-4-12 hex digits), returned in lower case.
Result<std::string> NormaliseGuid(std::string_view value);

// A caller sequence number: an unsigned 64-bit decimal without sign or
// leading zeros (except "0").
Status ValidateSeq(std::string_view value);

// Labels are key=value pairs. A key follows the id rules and a value has no
// ';'; LabelsJson then applies the API's rules (api::ParseLabels: at most 64
// labels, keys up to 64 characters, values up to 256, 4096 bytes in all).
using Labels = std::map<std::string, std::string>;

// Adds one "k=v" to `labels`; a repeated key is an error.
Status AddLabel(std::string_view pair, Labels& labels);

// Parses "k=v;k=v" (empty text gives no labels).
Result<Labels> ParseLabelList(std::string_view text);

// The canonical JSON text of labels (sorted keys, "{}" when none), or why
// the API would refuse them (code "bad_label").
Result<std::string> LabelsJson(const Labels& labels);

}  // namespace presence::ctl
