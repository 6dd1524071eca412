#include "util/json_depth.h"

#include <fmt/format.h>

namespace presence {

Status CheckJsonDepth(std::string_view text, size_t max_depth, std::string_view what) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return MakeError(
            "json_too_deep",
            fmt::format("{} nests arrays and objects deeper than {} levels (at byte {})", what,
                        max_depth, i));
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return Ok{};
}

}  // namespace presence
