#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "ctl/agent_calls.h"
#include "ctl/function_client.h"
#include "ctl/roster_csv.h"
#include "util/result.h"

namespace presence::ctl {

struct ImportSummary {
  size_t rows = 0;
  size_t created = 0;
  size_t updated = 0;
  size_t unchanged = 0;
  size_t refused = 0;
  double seconds = 0;
  // "roster.csv:17: acme/alice refused: stale_seq: ..." for each refused row.
  std::vector<std::string> refusals;
};

// "imported 1000 rows: 1000 created, 0 updated, 0 unchanged, 0 refused in 0.4 s"
std::string FormatImportSummary(const ImportSummary& summary);

// Sends one presence_agent_put per row, pipelined in windows of `window`
// calls, and counts the outcomes. `progress(done)` is called after each
// window. A failed Result means Redis failed part-way; its message says how
// many rows were applied (every row is declarative, so the import can simply
// be run again).
Result<ImportSummary> ImportRoster(FunctionClient& functions, const AgentCallOptions& options,
                                   const std::vector<RosterRow>& rows, const std::string& file_name,
                                   size_t window, const std::function<void(size_t)>& progress);

}  // namespace presence::ctl
