#pragma once

#include <cstddef>
#include <string_view>

#include "util/result.h"

namespace presence {

// Refuses a JSON text whose arrays and objects nest deeper than `max_depth`,
// before it is parsed: one pass over the bytes that skips strings, so that a
// text of 100000 '[' costs no memory and no stack (nlohmann builds a value
// for every '[' it reads, about 80 bytes each, before it sees the text end).
// Says nothing about whether the text is valid JSON otherwise. `what` leads
// the message ("request body", "token answer"). Code "json_too_deep".
Status CheckJsonDepth(std::string_view text, size_t max_depth, std::string_view what = "JSON text");

}  // namespace presence
