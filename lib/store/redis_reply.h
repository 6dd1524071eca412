#pragma once

#include <string>
#include <vector>

namespace presence::store {

// A Redis reply copied out of hiredis's reader.
struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus, kError };

  Type type = Type::kNil;
  std::string str;  // kString, kStatus and kError
  long long integer = 0;
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
};

}  // namespace presence::store
