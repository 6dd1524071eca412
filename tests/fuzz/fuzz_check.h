#pragma once

// Invariant checks inside the fuzz targets: a failed check prints what was
// expected and aborts, which libFuzzer reports as a crash with the input that
// caused it.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace presence::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* condition,
                              const std::string& detail) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n  %s\n", file, line, condition,
               detail.c_str());
  std::abort();
}

// The input as text (the targets parse text, not binary).
inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace presence::fuzz

// Aborts with `detail` (a std::string expression, only evaluated on failure)
// when `condition` is false.
#define FUZZ_CHECK(condition, detail)                                                   \
  do {                                                                                  \
    if (!(condition)) ::presence::fuzz::Fail(__FILE__, __LINE__, #condition, (detail)); \
  } while (0)
