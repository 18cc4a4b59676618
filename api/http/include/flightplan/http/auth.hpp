#pragma once
// Bearer-token authentication with two roles. A caller sends `Authorization: Bearer <token>`; the
// token table says whether the token is known and which role it carries:
//   viewer   - may call every route whose access is `viewer` (reads);
//   operator - may call everything.
// A missing or unknown token is a 401 problem with `WWW-Authenticate: Bearer realm="flightplan"`, a
// known token with too small a role a 403 problem. Tokens are secrets: they never appear in an
// error message, a problem body or a log line; entries are named by their label instead.
#include "flightplan/http/router.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::http {

enum class Role { viewer, operator_ };

std::string_view to_string(Role role);
// "viewer" or "operator"; anything else is nullopt.
std::optional<Role> parse_role(std::string_view text);

inline constexpr std::size_t token_bytes_max = 4096;
// Shorter tokens are accepted but the wiring layer warns about them: they can be guessed.
inline constexpr std::size_t token_bytes_recommended_min = 16;
inline constexpr std::string_view www_authenticate_value = "Bearer realm=\"flightplan\"";

// The known tokens. Immutable once built; lookups are thread-safe.
class TokenTable {
 public:
  struct Entry {
    Role role = Role::viewer;
    std::string token;
    std::string label;  // who the token belongs to; safe to log
  };

  // Adds a token. Throws std::invalid_argument, naming `label` and never the token, when the token is
  // empty, longer than token_bytes_max, holds anything but printable ASCII without spaces, or is
  // already in the table.
  void add(Role role, std::string token, std::string label);
  // Adds every entry of `other` (same rules as add()).
  void add_all(const TokenTable& other);

  // The entry whose token equals `presented`, or nullopt. Every entry is compared, each in time that
  // does not depend on where the strings differ, so response times do not reveal a token bit by bit.
  std::optional<Entry> find(std::string_view presented) const;

  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  // Labels of tokens shorter than token_bytes_recommended_min, for a start-up warning.
  std::vector<std::string> short_token_labels() const;

 private:
  std::vector<Entry> entries_;
};

// Parses a token file: one `ROLE TOKEN [LABEL]` per line (fields separated by spaces or tabs; the
// label is the rest of the line), `#` starts a comment, blank lines are skipped. An entry without a
// label is called "FILE:LINE". Throws std::invalid_argument "FILE:LINE: message" at the first bad line.
TokenTable parse_token_file(std::string_view text, std::string_view file_name);
// Reads and parses the file at `path`; an unreadable file is std::invalid_argument naming it.
TokenTable load_token_file(const std::string& path);
// Parses "operator:tok1,viewer:tok2" (the FLIGHTPLAN_TOKENS variable). Entries are labelled
// "SOURCE#N", counting from 1. Throws std::invalid_argument naming the entry's position.
TokenTable parse_token_list(std::string_view text, std::string_view source_name);

// Compares two strings in time that depends only on the length of `presented`.
bool constant_time_equals(std::string_view presented, std::string_view expected);

// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive), or nullopt
// when the value is not of that form.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// The Authorizer for Router::set_authorizer(): public routes pass (the router does not even ask),
// viewer routes need any known token, operator routes an operator's. Sets request.caller to the
// token's label.
Authorizer bearer_authorizer(std::shared_ptr<const TokenTable> tokens);

}  // namespace flightplan::http
