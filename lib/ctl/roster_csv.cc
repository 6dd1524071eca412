#include "ctl/roster_csv.h"

#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "ctl/agent_input.h"

namespace presence::ctl {
namespace {

// One CSV record and the line it starts on.
struct Record {
  size_t line = 0;
  std::vector<std::string> fields;
};

std::string_view Trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

// Reads CSV records one at a time; quoted fields may hold commas, quotes
// ("") and line breaks.
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : text_(text) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);  // UTF-8 byte order mark
  }

  // The next record, nullopt at the end; `error` is set for malformed quoting.
  std::optional<Record> Next(std::string& error) {
    if (pos_ >= text_.size()) return std::nullopt;
    Record record;
    record.line = line_;
    std::string field;
    bool quoted = false;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"' && Trim(field).empty() && !quoted) {
        if (!ReadQuoted(field, error)) return record;
        quoted = true;
      } else if (c == ',') {
        record.fields.push_back(quoted ? field : std::string(Trim(field)));
        field.clear();
        quoted = false;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
        ++line_;
        break;
      } else if (quoted) {
        if (c != ' ' && c != '\t') {
          error = "unexpected character after a closing quote";
          return record;
        }
      } else {
        field += c;
      }
    }
    record.fields.push_back(quoted ? field : std::string(Trim(field)));
    return record;
  }

 private:
  // Reads a quoted field after its opening quote.
  bool ReadQuoted(std::string& field, std::string& error) {
    field.clear();
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          field += '"';
          ++pos_;
          continue;
        }
        return true;
      }
      if (c == '\n') ++line_;
      field += c;
    }
    error = "a quoted field is not closed";
    return false;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t line_ = 1;
};

bool IsBlank(const Record& record) { return record.fields.size() == 1 && record.fields[0].empty(); }

// Validates one data row; the error has no file:line prefix.
Result<store::PutAgentCommand> RowCommand(const Record& record, bool with_labels) {
  size_t expected = with_labels ? 5 : 4;
  if (record.fields.size() != expected) {
    return MakeError("bad_row",
                     fmt::format("expected {} columns, found {}", expected, record.fields.size()));
  }
  store::PutAgentCommand command;
  command.tenant = record.fields[0];
  command.agent = record.fields[1];
  command.source = record.fields[2];
  if (Status valid = ValidateId("tenant", command.tenant); !valid) return valid.error();
  if (Status valid = ValidateId("agent", command.agent); !valid) return valid.error();

  const std::string& guid = record.fields[3];
  if (command.source == "graph") {
    Result<std::string> normalised = NormaliseGuid(guid);
    if (!normalised) return normalised.error();
    command.graph_user_id = *normalised;
  } else if (command.source == "push") {
    if (!guid.empty()) {
      return MakeError("bad_row", "graph_user_id must be empty for source push");
    }
  } else {
    return MakeError("bad_row",
                     fmt::format("source must be graph or push, not '{}'", command.source));
  }

  Result<Labels> labels = with_labels ? ParseLabelList(record.fields[4]) : Labels{};
  if (!labels) return labels.error();
  Result<std::string> labels_json = LabelsJson(*labels);
  if (!labels_json) return labels_json.error();
  command.labels_json = *labels_json;
  return command;
}

}  // namespace

RosterParse ParseRosterCsv(std::string_view file_name, std::string_view text) {
  RosterParse parse;
  auto fail = [&](size_t line, const std::string& message) {
    if (parse.errors.size() < RosterParse::kMaxErrors) {
      parse.errors.push_back(fmt::format("{}:{}: {}", file_name, line, message));
    }
    ++parse.error_count;
  };

  // The header names the columns.
  CsvReader reader(text);
  std::string error;
  std::optional<Record> header = reader.Next(error);
  const std::vector<std::string> kColumns = {"tenant", "agent", "source", "graph_user_id"};
  std::vector<std::string> with_labels = kColumns;
  with_labels.push_back("labels");
  if (!header || !error.empty() || (header->fields != kColumns && header->fields != with_labels)) {
    fail(1, "the header must be tenant,agent,source,graph_user_id (and optionally labels)");
    return parse;
  }
  bool has_labels = header->fields.size() == 5;

  // Every row, each agent at most once.
  std::unordered_map<std::string, size_t> first_line;
  while (std::optional<Record> record = reader.Next(error)) {
    if (!error.empty()) {
      fail(record->line, error);
      break;  // the rest of the file cannot be split reliably
    }
    if (IsBlank(*record)) continue;
    Result<store::PutAgentCommand> command = RowCommand(*record, has_labels);
    if (!command) {
      fail(record->line, command.error().message);
      continue;
    }
    std::string id = command->tenant + "/" + command->agent;
    auto [it, inserted] = first_line.emplace(id, record->line);
    if (!inserted) {
      fail(record->line, fmt::format("agent {} is already on line {}", id, it->second));
      continue;
    }
    parse.rows.push_back({record->line, std::move(*command)});
  }
  return parse;
}

}  // namespace presence::ctl
