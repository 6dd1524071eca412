#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ctl/function_client.h"
#include "partition/assignment.h"
#include "util/result.h"

// What `presencectl drain` and `presencectl rebalance` know of the members
// and the target assignment, and the moves a new target would make.
namespace presence::ctl {

struct MemberState {
  std::string id;
  bool alive = false;
  bool draining = false;         // excluded from the target (own or operator's)
  bool drain_requested = false;  // drained by the operator (presence:{ctl}:draining)
};

struct MembersView {
  int64_t now_ms = 0;
  std::vector<MemberState> members;
  std::string rebalance_request;  // a request the leader has not acknowledged yet
};

// presence_members, parsed.
Result<MembersView> ReadMembers(FunctionClient& functions);

// The ids the leader would assign partitions to: alive and not draining, sorted.
std::vector<std::string> AssignableMembers(const MembersView& view);

struct Move {
  uint32_t partition = 0;
  std::string from;  // empty: no target before
  std::string to;    // empty: no target after (no member left)
};

struct RebalancePlan {
  std::vector<std::string> members;
  partition::Assignment current;
  partition::Assignment target;
  std::vector<Move> moves;
};

// The target the leader would write for `members` from `current`
// (partition::ComputeAssignment) and the partitions whose target changes.
RebalancePlan PlanRebalance(uint32_t partitions, const std::vector<std::string>& members,
                            const partition::Assignment& current);

// The partitions whose target differs between two assignments.
std::vector<Move> DiffAssignments(const partition::Assignment& before,
                                  const partition::Assignment& after);

nlohmann::json MovesJson(const std::vector<Move>& moves);
// "p3: a -> c" ("-" for none).
std::string FormatMove(const Move& move);

}  // namespace presence::ctl
