#include "ctl/rebalance_plan.h"

#include <algorithm>

#include <fmt/format.h>

#include "store/keys.h"

namespace presence::ctl {

Result<MembersView> ReadMembers(FunctionClient& functions) {
  Result<nlohmann::json> answer =
      functions.Call({"presence_members", {store::keys::Members()}, {}, /*read_only=*/true});
  if (!answer) return answer.error();
  if (!answer->value("ok", false)) {
    return MakeError(answer->value("code", "refused"),
                     "presence_members: " + answer->value("message", ""));
  }
  MembersView view;
  view.now_ms = answer->value("now", int64_t{0});
  if (const auto it = answer->find("rebalance_request"); it != answer->end() && it->is_string()) {
    view.rebalance_request = it->get<std::string>();
  }
  for (const nlohmann::json& member : answer->value("members", nlohmann::json::array())) {
    MemberState state;
    state.id = member.value("id", "");
    state.alive = member.value("alive", false);
    state.draining = member.value("draining", false);
    state.drain_requested = member.value("drain_requested", false);
    view.members.push_back(std::move(state));
  }
  return view;
}

std::vector<std::string> AssignableMembers(const MembersView& view) {
  std::vector<std::string> ids;
  for (const MemberState& member : view.members) {
    if (member.alive && !member.draining) ids.push_back(member.id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<Move> DiffAssignments(const partition::Assignment& before,
                                  const partition::Assignment& after) {
  std::vector<Move> moves;
  for (uint32_t p = 0; p < after.size(); ++p) {
    std::string from = p < before.size() ? before[p] : std::string();
    if (from != after[p]) moves.push_back({p, from, after[p]});
  }
  return moves;
}

RebalancePlan PlanRebalance(uint32_t partitions, const std::vector<std::string>& members,
                            const partition::Assignment& current) {
  RebalancePlan plan;
  plan.members = members;
  plan.current = current;
  plan.current.resize(partitions);
  plan.target = partition::ComputeAssignment(partitions, members, plan.current);
  plan.moves = DiffAssignments(plan.current, plan.target);
  return plan;
}

nlohmann::json MovesJson(const std::vector<Move>& moves) {
  nlohmann::json list = nlohmann::json::array();
  auto text = [](const std::string& id) {
    return id.empty() ? nlohmann::json() : nlohmann::json(id);
  };
  for (const Move& move : moves) {
    list.push_back(nlohmann::json{
        {"partition", move.partition}, {"from", text(move.from)}, {"to", text(move.to)}});
  }
  return list;
}

std::string FormatMove(const Move& move) {
  return fmt::format("p{}: {} -> {}", move.partition, move.from.empty() ? "-" : move.from,
                     move.to.empty() ? "-" : move.to);
}

}  // namespace presence::ctl
