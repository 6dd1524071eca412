#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace presence::ctl {

// Edit distance counting insertions, deletions, substitutions and swaps of
// two neighbouring characters as one step each.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `typed` when it is close enough to be what was
// meant (at most 2 steps, and fewer steps than the word has characters, or a
// prefix of at least 3 characters); nullopt otherwise.
std::optional<std::string> ClosestMatch(std::string_view typed,
                                        const std::vector<std::string>& candidates);

}  // namespace presence::ctl
