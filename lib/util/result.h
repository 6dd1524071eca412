#pragma once

#include <string>
#include <utility>
#include <variant>

namespace presence {

// An error as a value: a short machine-readable code and a message that names
// the thing and the reason ("redis 127.0.0.1:6379: connection refused").
struct Error {
  std::string code;
  std::string message;
};

// Either a value or an Error. Errors cross module boundaries this way; only
// setup code throws.
template <typename T>
class Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// A Result that carries no value.
struct Ok {};
using Status = Result<Ok>;

inline Error MakeError(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

}  // namespace presence
