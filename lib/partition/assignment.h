#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace presence::partition {

// The target owner of every partition: owners[p] is an instance id, or empty
// for a partition without a target (no live members).
using Assignment = std::vector<std::string>;

// Computes the next target assignment from the previous one and the live
// members (DESIGN.md invariant 9).
//
// Balanced: every member gets floor(P/N) or ceil(P/N) partitions. Minimal
// movement: a partition keeps its previous owner whenever that owner is still
// a member and under its quota; the quota of ceil(P/N) goes to the members
// that already hold the most. Partitions that must move go to the member
// under quota with the highest rendezvous score XXH3("P/ID"), so the choice is
// the same on every instance. Pure function, deterministic.
Assignment ComputeAssignment(uint32_t partitions, const std::vector<std::string>& members,
                             const Assignment& previous);

// How many partitions have a different non-empty owner in `next` than in
// `previous` (a partition gaining its first owner does not count).
uint32_t CountMoves(const Assignment& previous, const Assignment& next);

}  // namespace presence::partition
