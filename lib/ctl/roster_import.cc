#include "ctl/roster_import.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

namespace presence::ctl {
namespace {

// Counts one answer of presence_agent_put.
void Count(const nlohmann::json& answer, const RosterRow& row, const std::string& file_name,
           ImportSummary& summary) {
  if (!answer.value("ok", false)) {
    ++summary.refused;
    summary.refusals.push_back(fmt::format(
        "{}:{}: {}/{} refused: {}: {}", file_name, row.line, row.command.tenant, row.command.agent,
        answer.value("code", "unknown"), answer.value("message", "")));
    return;
  }
  std::string outcome = PutOutcome(answer);
  if (outcome == "created") ++summary.created;
  if (outcome == "updated") ++summary.updated;
  if (outcome == "unchanged") ++summary.unchanged;
}

Error PartWay(const Error& error, size_t done, size_t total) {
  return MakeError(error.code, fmt::format("{} (after {} of {} rows; importing again is safe)",
                                           error.message, done, total));
}

}  // namespace

std::string FormatImportSummary(const ImportSummary& s) {
  return fmt::format(
      "imported {} rows: {} created, {} updated, {} unchanged, {} refused in {:.1f} s", s.rows,
      s.created, s.updated, s.unchanged, s.refused, s.seconds);
}

Result<ImportSummary> ImportRoster(FunctionClient& functions, const AgentCallOptions& options,
                                   const std::vector<RosterRow>& rows, const std::string& file_name,
                                   size_t window, const std::function<void(size_t)>& progress) {
  auto started = std::chrono::steady_clock::now();
  ImportSummary summary;
  summary.rows = rows.size();
  if (Status ready = functions.EnsureLibrary(); !ready) return ready.error();

  for (size_t begin = 0; begin < rows.size(); begin += window) {
    size_t end = std::min(rows.size(), begin + window);

    // Queue the window, then read its answers in order.
    std::vector<FunctionCall> calls;
    calls.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      calls.push_back(PutAgentCall(options, rows[i].command));
      if (Status queued = functions.Append(calls.back()); !queued) {
        return PartWay(queued.error(), begin, rows.size());
      }
    }
    std::vector<size_t> lost;  // calls that met a library lost in between
    for (size_t i = begin; i < end; ++i) {
      Result<nlohmann::json> answer = functions.ReadAnswer(calls[i - begin]);
      if (!answer && answer.error().code == kFunctionMissing) {
        lost.push_back(i);
      } else if (!answer) {
        return PartWay(answer.error(), begin, rows.size());
      } else {
        Count(*answer, rows[i], file_name, summary);
      }
    }

    // Repeated one by one: Call loads the library again.
    for (size_t i : lost) {
      Result<nlohmann::json> answer = functions.Call(calls[i - begin]);
      if (!answer) return PartWay(answer.error(), begin, rows.size());
      Count(*answer, rows[i], file_name, summary);
    }
    if (progress) progress(end);
  }

  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace presence::ctl
