#include "api/validation.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>

#include "graph/presence_values.h"
#include "util/strings.h"

namespace presence::api {

namespace {

constexpr std::string_view kMaxU64 = "18446744073709551615";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view TrimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Decimal u64 text without sign or leading zeros; empty string on success,
// else the reason.
std::string CheckDecimalU64(std::string_view text) {
  if (text.empty()) return "must not be empty";
  for (char c : text) {
    if (!IsDigit(c)) return "must be decimal digits only";
  }
  if (text.size() > 1 && text[0] == '0') return "must not have leading zeros";
  if (text.size() > kMaxU64.size() || (text.size() == kMaxU64.size() && text > kMaxU64)) {
    return "must be at most 18446744073709551615";
  }
  return "";
}

// The number of UTF-8 code points (the JSON parser already checked encoding).
size_t CodePoints(std::string_view text) {
  size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

bool HasControlCharacter(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

// A short, printable rendering of a JSON value for messages.
std::string Show(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

std::string ShowText(std::string_view text) {
  if (text.size() > 80) return std::string(text.substr(0, 77)) + "...";
  return std::string(text);
}

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const unsigned year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned DaysInMonth(int year, unsigned month) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Reads exactly `width` digits at text[pos]; -1 when they are not digits.
int ReadDigits(std::string_view text, size_t pos, size_t width) {
  if (pos + width > text.size()) return -1;
  int value = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (!IsDigit(text[i])) return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

Result<std::string> ParsePresenceValue(const nlohmann::json& value, std::string_view field,
                                       const std::string& (*normalize)(std::string_view)) {
  std::string code = fmt::format("bad_{}", field);
  if (!value.is_string()) {
    return MakeError(code, fmt::format("{} must be a string, got {}", field, Show(value)));
  }
  const std::string& text = value.get_ref<const std::string&>();
  const std::string& canonical = normalize(text);
  // The normaliser maps unknown values to PresenceUnknown: tell them apart.
  if (canonical == graph::kPresenceUnknown && !EqualsIgnoreCase(text, graph::kPresenceUnknown)) {
    return MakeError(code, fmt::format("{} \"{}\" is not a known value (see the API documentation)",
                                       field, ShowText(text)));
  }
  return canonical;
}

}  // namespace

unsigned ValidationStatus(const Error& error) {
  return error.code == "unsupported_media_type" ? 415 : 400;
}

Status ValidateId(std::string_view what, std::string_view id, size_t max_length) {
  max_length = std::min(max_length, kMaxIdLength);
  if (id.empty() || id.size() > max_length) {
    return MakeError("bad_id", fmt::format("{} id \"{}\" must be 1 to {} characters long", what,
                                           ShowText(id), max_length));
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' ||
              c == '_' || c == '.' || c == '@';
    if (!ok) {
      return MakeError("bad_id",
                       fmt::format("{} id \"{}\" may only contain letters, digits and -_.@", what,
                                   ShowText(id)));
    }
  }
  if (id.find_first_not_of('.') == std::string_view::npos) {
    return MakeError("bad_id", fmt::format("{} id \"{}\" must not be dots only: \".\" and \"..\" "
                                           "are path steps",
                                           what, ShowText(id)));
  }
  return Ok{};
}

Result<std::string> ParseSeqText(std::string_view text) {
  std::string reason = CheckDecimalU64(text);
  if (!reason.empty()) {
    return MakeError("bad_seq", fmt::format("seq \"{}\" {}", ShowText(text), reason));
  }
  return std::string(text);
}

Result<std::string> ParseSeqJson(const nlohmann::json& value) {
  if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
  if (value.is_string()) return ParseSeqText(value.get_ref<const std::string&>());
  if (value.is_number_integer()) {
    return MakeError("bad_seq", fmt::format("seq {} must not be negative", Show(value)));
  }
  if (value.is_number_float()) {
    return MakeError(
        "bad_seq",
        fmt::format("seq {} must be an integer from 0 to 18446744073709551615", Show(value)));
  }
  return MakeError(
      "bad_seq",
      fmt::format("seq must be an unsigned integer or a decimal string, got {}", Show(value)));
}

Result<std::optional<std::string>> ParseIfMatch(const std::optional<std::string>& header) {
  if (!header) return std::optional<std::string>();
  std::string_view text = TrimSpaces(*header);
  if (text.size() >= 2 && (text[0] == 'W' || text[0] == 'w') && text[1] == '/') {
    return MakeError(
        "bad_if_match",
        fmt::format("If-Match {} is a weak tag; send the version as \"N\"", ShowText(text)));
  }
  if (text == "*") {
    return MakeError("bad_if_match", "If-Match * is not supported; send the version as \"N\"");
  }
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  std::string reason = CheckDecimalU64(text);
  if (!reason.empty()) {
    return MakeError("bad_if_match",
                     fmt::format("If-Match \"{}\" must be one version, a decimal number: it {}",
                                 ShowText(*header), reason));
  }
  return std::optional<std::string>(std::string(text));
}

Status CheckJsonContentType(const std::optional<std::string>& header) {
  if (!header) {
    return MakeError("unsupported_media_type", "Content-Type must be application/json, got none");
  }
  std::string_view media = *header;
  media = TrimSpaces(media.substr(0, media.find(';')));
  if (!EqualsIgnoreCase(media, "application/json")) {
    return MakeError(
        "unsupported_media_type",
        fmt::format("Content-Type must be application/json, got \"{}\"", ShowText(*header)));
  }
  return Ok{};
}

Status ValidateIdempotencyKey(const std::optional<std::string>& header) {
  if (!header) return Ok{};
  if (header->empty() || header->size() > kMaxIdempotencyKeyLength) {
    return MakeError("bad_idempotency_key",
                     fmt::format("Idempotency-Key must be 1 to {} characters, got {}",
                                 kMaxIdempotencyKeyLength, header->size()));
  }
  for (unsigned char c : *header) {
    if (c < 0x21 || c > 0x7E) {
      return MakeError("bad_idempotency_key",
                       "Idempotency-Key may only contain visible ASCII characters");
    }
  }
  return Ok{};
}

Result<uint64_t> ParseRfc3339Ms(std::string_view text) {
  auto bad = [&](std::string_view reason) {
    return MakeError(
        "bad_observed_at",
        fmt::format("observed_at \"{}\" is not an RFC 3339 timestamp: {}", ShowText(text), reason));
  };

  // YYYY-MM-DDTHH:MM:SS
  int year = ReadDigits(text, 0, 4);
  int month = ReadDigits(text, 5, 2);
  int day = ReadDigits(text, 8, 2);
  int hour = ReadDigits(text, 11, 2);
  int minute = ReadDigits(text, 14, 2);
  int second = ReadDigits(text, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || text[4] != '-' ||
      text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':') {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  if (year < 1970) return bad("dates before 1970 are not accepted");
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || day > static_cast<int>(DaysInMonth(year, month))) return bad("day out of range");
  if (hour > 23 || minute > 59 || second > 60) return bad("time out of range");

  // Optional fraction: ms from its first three digits.
  size_t pos = 19;
  int64_t ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    size_t start = ++pos;
    while (pos < text.size() && IsDigit(text[pos])) ++pos;
    if (pos == start) return bad("a '.' must be followed by digits");
    for (size_t i = start; i < start + 3; ++i) ms = ms * 10 + (i < pos ? text[i] - '0' : 0);
  }

  // Z or +HH:MM / -HH:MM.
  int64_t offset_minutes = 0;
  std::string_view zone = text.substr(std::min(pos, text.size()));
  if (zone == "Z" || zone == "z") {
    offset_minutes = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int offset_hours = ReadDigits(zone, 1, 2);
    int offset_mins = ReadDigits(zone, 4, 2);
    if (offset_hours < 0 || offset_mins < 0 || offset_hours > 23 || offset_mins > 59) {
      return bad("bad time zone offset");
    }
    offset_minutes = (zone[0] == '+' ? 1 : -1) * (offset_hours * 60 + offset_mins);
  } else {
    return bad("expected Z or a +HH:MM offset at the end");
  }

  int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                    offset_minutes * 60;
  if (seconds < 0) return bad("before 1970-01-01T00:00:00Z");
  return static_cast<uint64_t>(seconds * 1000 + ms);
}

Result<uint64_t> ParseObservedAt(const nlohmann::json* value, uint64_t now_ms) {
  if (value == nullptr || value->is_null()) return now_ms;

  uint64_t ms = 0;
  if (value->is_string()) {
    auto parsed = ParseRfc3339Ms(value->get_ref<const std::string&>());
    if (!parsed.ok()) return parsed.error();
    ms = *parsed;
  } else if (value->is_number_unsigned()) {
    ms = value->get<uint64_t>();
  } else {
    return MakeError("bad_observed_at",
                     fmt::format("observed_at must be an RFC 3339 string or a non-negative "
                                 "integer of ms since the epoch, got {}",
                                 Show(*value)));
  }
  if (ms > now_ms + kMaxObservedAtAheadMs) {
    return MakeError(
        "bad_observed_at",
        fmt::format("observed_at {} lies more than {} s in the future (now {})",
                    FormatRfc3339Ms(ms), kMaxObservedAtAheadMs / 1000, FormatRfc3339Ms(now_ms)));
  }
  return ms;
}

std::string FormatRfc3339Ms(uint64_t ms) {
  // Civil date from days since the epoch (inverse of DaysFromCivil).
  int64_t days = static_cast<int64_t>(ms / 86400000);
  uint64_t in_day = ms % 86400000;
  days += 719468;
  const int64_t era = days / 146097;
  const unsigned day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned mp = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = static_cast<int64_t>(year_of_era) + era * 400 + (month <= 2);

  // "YYYY-MM-DDTHH:MM:SS.mmmZ", digit by digit: this runs for every time of
  // every agent answered, and fmt::format cost 4,000 instructions a call.
  if (year < 0 || year > 9999) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year, month, day,
                       in_day / 3600000, in_day / 60000 % 60, in_day / 1000 % 60, in_day % 1000);
  }
  std::string text = "0000-00-00T00:00:00.000Z";
  auto put = [&text](size_t at, uint64_t value, size_t digits) {
    for (size_t i = digits; i > 0; --i, value /= 10) text[at + i - 1] = char('0' + value % 10);
  };
  put(0, static_cast<uint64_t>(year), 4);
  put(5, month, 2);
  put(8, day, 2);
  put(11, in_day / 3600000, 2);
  put(14, in_day / 60000 % 60, 2);
  put(17, in_day / 1000 % 60, 2);
  put(20, in_day % 1000, 3);
  return text;
}

Result<std::string> ParseGraphUserId(const nlohmann::json& value) {
  if (value.is_string()) {
    auto guid = graph::CanonicalGuid(value.get_ref<const std::string&>());
    if (guid) return *guid;
  }
  return MakeError("bad_graph_user_id",
                   fmt::format("graph_user_id must be a GUID string "
                               "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), got {}",
                               Show(value)));
}

Result<std::string> ParseLabels(const nlohmann::json& value, const RequestLimits& limits) {
  if (!value.is_object()) {
    return MakeError("bad_labels", fmt::format("labels must be an object, got {}", Show(value)));
  }
  if (value.size() > limits.max_labels) {
    return MakeError("bad_labels", fmt::format("labels has {} entries, at most {} are allowed",
                                               value.size(), limits.max_labels));
  }
  for (const auto& [key, label] : value.items()) {
    if (key.empty() || CodePoints(key) > kMaxLabelKeyLength || HasControlCharacter(key)) {
      return MakeError("bad_labels",
                       fmt::format("label key \"{}\" must be 1 to {} characters without control "
                                   "characters",
                                   ShowText(key), kMaxLabelKeyLength));
    }
    if (!label.is_string()) {
      return MakeError("bad_labels", fmt::format("label \"{}\" must be a string, got {}",
                                                 ShowText(key), Show(label)));
    }
    const std::string& text = label.get_ref<const std::string&>();
    if (CodePoints(text) > kMaxLabelValueLength || HasControlCharacter(text)) {
      return MakeError("bad_labels",
                       fmt::format("label \"{}\" must be at most {} characters without control "
                                   "characters",
                                   ShowText(key), kMaxLabelValueLength));
    }
  }
  // nlohmann's object keeps keys sorted, so dump() is the canonical text.
  std::string text = value.dump();
  if (text.size() > limits.max_labels_bytes) {
    return MakeError("bad_labels", fmt::format("labels take {} bytes as JSON, at most {} are "
                                               "allowed",
                                               text.size(), limits.max_labels_bytes));
  }
  return text;
}

Result<std::string> ParseAvailability(const nlohmann::json& value) {
  return ParsePresenceValue(value, "availability", &graph::NormalizeAvailability);
}

Result<std::string> ParseActivity(const nlohmann::json& value) {
  return ParsePresenceValue(value, "activity", &graph::NormalizeActivity);
}

Result<nlohmann::json> ParseJsonObject(std::string_view body, size_t max_depth) {
  if (auto ok = CheckJsonDepth(body, max_depth, "request body"); !ok.ok()) return ok.error();
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return MakeError("bad_json",
                     fmt::format("request body is not valid JSON (at byte {})", e.byte));
  } catch (const nlohmann::json::out_of_range&) {
    // A number beyond the range of a double (1e400) is out_of_range, not a parse_error.
    return MakeError("bad_json", "request body is not valid JSON: a number is out of range");
  }
  if (!value.is_object()) {
    return MakeError("bad_json",
                     fmt::format("request body must be a JSON object, got {}", value.type_name()));
  }
  return value;
}

Status CheckKnownFields(const nlohmann::json& object,
                        std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, unused] : object.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || key == name;
    if (!known) {
      std::string names;
      for (std::string_view name : allowed)
        names += names.empty() ? name : ", " + std::string(name);
      return MakeError("unknown_field",
                       fmt::format("unknown field \"{}\" (allowed: {})", ShowText(key), names));
    }
  }
  return Ok{};
}

Result<uint32_t> ParseLimit(const std::optional<std::string>& text) {
  if (!text) return kDefaultListLimit;
  uint32_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  bool digits_only = !text->empty() && (*text)[0] != '-' && (*text)[0] != '+';
  if (!digits_only || ec != std::errc() || ptr != end || value < 1 || value > kMaxListLimit) {
    return MakeError("bad_limit", fmt::format("limit \"{}\" must be an integer from 1 to {}",
                                              ShowText(*text), kMaxListLimit));
  }
  return value;
}

}  // namespace presence::api
