#include "partition/assignment.h"

#include <algorithm>
#include <map>
#include <string_view>

#include <fmt/format.h>
#include <xxhash.h>

namespace presence::partition {

namespace {

uint64_t RendezvousScore(uint32_t partition, std::string_view member) {
  auto input = fmt::format("{}/{}", partition, member);
  return XXH3_64bits(input.data(), input.size());
}

// The quota of each member: the `extra` members holding the most partitions
// now (ties by id) may keep ceil(P/N), the others floor(P/N).
std::map<std::string, uint32_t> Quotas(uint32_t partitions, std::vector<std::string> members,
                                       const std::map<std::string, uint32_t>& held) {
  uint32_t base = partitions / members.size();
  uint32_t extra = partitions % members.size();
  std::stable_sort(members.begin(), members.end(), [&](const auto& a, const auto& b) {
    auto ha = held.count(a) ? held.at(a) : 0;
    auto hb = held.count(b) ? held.at(b) : 0;
    return ha != hb ? ha > hb : a < b;
  });
  std::map<std::string, uint32_t> quotas;
  for (size_t i = 0; i < members.size(); ++i) quotas[members[i]] = base + (i < extra ? 1 : 0);
  return quotas;
}

}  // namespace

Assignment ComputeAssignment(uint32_t partitions, const std::vector<std::string>& members,
                             const Assignment& previous) {
  Assignment next(partitions);
  if (members.empty()) return next;

  // Keep every partition whose previous owner is still a member.
  std::map<std::string, std::vector<uint32_t>> kept;
  for (const auto& m : members) kept[m];
  for (uint32_t p = 0; p < partitions && p < previous.size(); ++p) {
    auto it = kept.find(previous[p]);
    if (it != kept.end()) it->second.push_back(p);
  }
  std::map<std::string, uint32_t> held;
  for (const auto& [m, ps] : kept) held[m] = static_cast<uint32_t>(ps.size());
  auto quotas = Quotas(partitions, members, held);

  // A member over quota gives up the partitions it scores lowest on.
  for (auto& [member, ps] : kept) {
    std::sort(ps.begin(), ps.end(), [&, m = member](uint32_t a, uint32_t b) {
      return RendezvousScore(a, m) > RendezvousScore(b, m);
    });
    if (ps.size() > quotas[member]) ps.resize(quotas[member]);
    for (auto p : ps) next[p] = member;
  }

  // Every partition still without an owner goes to the best-scoring member
  // that is under quota.
  std::map<std::string, uint32_t> count;
  for (const auto& [m, ps] : kept) count[m] = static_cast<uint32_t>(ps.size());
  for (uint32_t p = 0; p < partitions; ++p) {
    if (!next[p].empty()) continue;
    const std::string* best = nullptr;
    uint64_t best_score = 0;
    for (const auto& m : members) {
      if (count[m] >= quotas[m]) continue;
      auto score = RendezvousScore(p, m);
      if (best == nullptr || score > best_score) best = &m, best_score = score;
    }
    next[p] = *best;  // quotas add up to P, so someone is under quota
    ++count[*best];
  }
  return next;
}

uint32_t CountMoves(const Assignment& previous, const Assignment& next) {
  uint32_t moves = 0;
  for (size_t p = 0; p < next.size() && p < previous.size(); ++p) {
    if (!previous[p].empty() && previous[p] != next[p]) ++moves;
  }
  return moves;
}

}  // namespace presence::partition
