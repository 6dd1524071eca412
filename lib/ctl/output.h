#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// Output helpers of presencectl: aligned tables for people, compact JSON for
// scripts. Data goes to stdout; the callers write messages to stderr.
namespace presence::ctl {

// Columns aligned with two spaces between them; the last column is not padded.
class Table {
 public:
  explicit Table(std::vector<std::string> header);

  void AddRow(std::vector<std::string> row);
  void Print(std::ostream& out) const;
  size_t rows() const { return rows_.size() - 1; }

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

// A field of a JSON object as text for a table: strings as they are, numbers
// in decimal, booleans as yes/no, absent or null as "-".
std::string FieldText(const nlohmann::json& object, const std::string& name);

// An integer field that may be stored as a number or a decimal string;
// `fallback` when absent or not a number.
int64_t FieldInt(const nlohmann::json& object, const std::string& name, int64_t fallback = 0);

// Milliseconds since the epoch as "2024-05-01T12:00:00.123Z"; "-" for 0.
std::string FormatTimestamp(int64_t ms);

// Compact JSON on one line; invalid UTF-8 is replaced, never thrown on.
std::string JsonLine(const nlohmann::json& value);

}  // namespace presence::ctl
