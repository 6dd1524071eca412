#pragma once

#include <string>
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

}  // namespace presence
