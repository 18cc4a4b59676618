#pragma once
// A Redis reply (RESP2) as our own small value type, so no hiredis type leaves the adapter.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::redis {

class Reply {
 public:
  enum class Type { nil, integer, string, status, error, array };

  Reply() = default;  // nil
  static Reply nil() { return Reply(); }
  static Reply integer(std::int64_t value);
  static Reply string(std::string bytes);
  static Reply status(std::string text);
  static Reply error(std::string message);
  static Reply array(std::vector<Reply> elements);

  Type type() const { return type_; }
  bool is_nil() const { return type_ == Type::nil; }
  bool is_error() const { return type_ == Type::error; }

  // The typed accessors throw engine::OperationError(internal) on a type mismatch: a reply of the
  // wrong type means our adapter and the server disagree about a command, which is a bug.
  std::int64_t as_integer() const;
  const std::string& as_string() const;  // string or status; binary-safe
  const std::vector<Reply>& as_array() const;
  const std::string& error_message() const;  // the whole error line, e.g. "WRONGTYPE Operation ..."
  // The first word of an error reply ("WRONGTYPE", "NOSCRIPT", "ERR"); empty for other types.
  std::string_view error_code() const;

  // A short readable rendering for messages and test output (long strings are cut).
  std::string describe() const;

  friend bool operator==(const Reply& left, const Reply& right) = default;

 private:
  Type type_ = Type::nil;
  std::int64_t integer_ = 0;
  std::string text_;             // string, status or error
  std::vector<Reply> elements_;  // array
};

}  // namespace flightplan::redis
