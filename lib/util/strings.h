#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace presence {

// Builds a vector of strings from its arguments. Use it instead of a braced
// list when passing arguments in a co_await expression: g++ 12 rejects an
// initializer_list temporary there ("array used as initializer").
template <typename... Parts>
std::vector<std::string> Strings(Parts&&... parts) {
  std::vector<std::string> out;
  out.reserve(sizeof...(parts));
  (out.emplace_back(std::forward<Parts>(parts)), ...);
  return out;
}

// ASCII lower case; other bytes unchanged (no locale).
inline char LowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII case-insensitive equality, as HTTP media types and Graph's presence
// values are compared.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAscii(a[i]) != LowerAscii(b[i])) return false;
  }
  return true;
}

// The value of one hex digit of any case, or -1.
inline int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace presence
