#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "store/agent_store.h"

namespace presence::ctl {

// One row of a roster file, validated and ready to be sent.
struct RosterRow {
  size_t line = 0;  // 1-based line where the row starts
  store::PutAgentCommand command;
};

struct RosterParse {
  std::vector<RosterRow> rows;
  // "roster.csv:17: graph_user_id 'x' is not a GUID ...", at most kMaxErrors.
  std::vector<std::string> errors;
  size_t error_count = 0;  // all errors, including those not kept

  static constexpr size_t kMaxErrors = 20;
  bool ok() const { return error_count == 0; }
};

// Parses and validates a whole roster CSV (RFC 4180 quoting, LF or CRLF).
// The header must be `tenant,agent,source,graph_user_id` with an optional
// fifth column `labels` holding "k=v;k=v". Every row is checked (ids, source
// graph|push, GUID for graph and none for push, labels, no agent twice)
// before anything is sent; `file_name` prefixes the messages. Blank lines are
// skipped.
RosterParse ParseRosterCsv(std::string_view file_name, std::string_view text);

}  // namespace presence::ctl
