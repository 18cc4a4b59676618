#include "flightplan/http/auth.hpp"

#include "flightplan/http/problem.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace flightplan::http {
namespace {

constexpr std::size_t token_file_bytes_max = std::size_t{1024} * 1024;

bool is_token_character(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte > 0x20 && byte < 0x7F;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && (is_blank(text.front()) || text.front() == '\r')) text.remove_prefix(1);
  while (!text.empty() && (is_blank(text.back()) || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

// The next blank-separated field of `line`, removed from it.
std::string_view next_field(std::string_view& line) {
  line = trim(line);
  std::size_t end = 0;
  while (end < line.size() && !is_blank(line[end])) ++end;
  const std::string_view field = line.substr(0, end);
  line.remove_prefix(end);
  return field;
}

Role role_or_throw(std::string_view text, const std::string& where) {
  if (const auto role = parse_role(text)) return *role;
  throw std::invalid_argument(where + ": unknown role '" + std::string(text.substr(0, 40)) +
                              "' (expected viewer or operator)");
}

Response unauthorized(const Request& request, std::string_view detail) {
  Response response = protocol_problem(401, "unauthorized", "Unauthorized", detail, request.path);
  response.headers.set("WWW-Authenticate", std::string(www_authenticate_value));
  return response;
}

}  // namespace

std::string_view to_string(Role role) { return role == Role::operator_ ? "operator" : "viewer"; }

std::optional<Role> parse_role(std::string_view text) {
  if (text == "viewer") return Role::viewer;
  if (text == "operator") return Role::operator_;
  return std::nullopt;
}

bool constant_time_equals(std::string_view presented, std::string_view expected) {
  // Every byte of `presented` is looked at whatever the content; the expected string is walked
  // cyclically so that its length does not change the work done either.
  std::size_t difference = presented.size() ^ expected.size();
  for (std::size_t i = 0; i < presented.size(); ++i) {
    const char wanted = expected.empty() ? '\0' : expected[i % expected.size()];
    difference |= static_cast<std::size_t>(static_cast<unsigned char>(presented[i] ^ wanted));
  }
  return difference == 0;
}

void TokenTable::add(Role role, std::string token, std::string label) {
  if (token.empty()) throw std::invalid_argument("token '" + label + "' is empty");
  if (token.size() > token_bytes_max) {
    throw std::invalid_argument("token '" + label + "' is longer than " + std::to_string(token_bytes_max) +
                                " bytes");
  }
  for (const char c : token) {
    if (!is_token_character(c)) {
      throw std::invalid_argument("token '" + label +
                                  "' may only hold printable ASCII characters without spaces");
    }
  }
  if (find(token)) throw std::invalid_argument("token '" + label + "' is listed twice");
  entries_.push_back(Entry{role, std::move(token), std::move(label)});
}

void TokenTable::add_all(const TokenTable& other) {
  for (const Entry& entry : other.entries_) add(entry.role, entry.token, entry.label);
}

std::optional<TokenTable::Entry> TokenTable::find(std::string_view presented) const {
  const Entry* found = nullptr;
  for (const Entry& entry : entries_) {
    // No early exit: the time taken does not tell how many entries come before the match.
    if (constant_time_equals(presented, entry.token)) found = &entry;
  }
  if (found == nullptr) return std::nullopt;
  return *found;
}

std::vector<std::string> TokenTable::short_token_labels() const {
  std::vector<std::string> labels;
  for (const Entry& entry : entries_)
    if (entry.token.size() < token_bytes_recommended_min) labels.push_back(entry.label);
  return labels;
}

TokenTable parse_token_file(std::string_view text, std::string_view file_name) {
  TokenTable table;
  int line_number = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_number;
    const std::string where = std::string(file_name) + ":" + std::to_string(line_number);
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    const std::string_view role_text = next_field(line);
    const std::string_view token = next_field(line);
    if (token.empty()) throw std::invalid_argument(where + ": expected ROLE TOKEN [LABEL]");
    const std::string_view label = trim(line);
    const Role role = role_or_throw(role_text, where);
    try {
      table.add(role, std::string(token), label.empty() ? where : std::string(label));
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(where + ": " + error.what());
    }
  }
  return table;
}

TokenTable load_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument("cannot read the token file '" + path + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  if (text.size() > token_file_bytes_max)
    throw std::invalid_argument("the token file '" + path + "' is over 1 MiB");
  return parse_token_file(text, path);
}

TokenTable parse_token_list(std::string_view text, std::string_view source_name) {
  TokenTable table;
  int index = 0;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view piece = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const std::string label = std::string(source_name) + "#" + std::to_string(++index);
    if (piece.empty()) continue;
    const auto colon = piece.find(':');
    if (colon == std::string_view::npos) throw std::invalid_argument(label + ": expected ROLE:TOKEN");
    table.add(role_or_throw(piece.substr(0, colon), label), std::string(piece.substr(colon + 1)), label);
  }
  return table;
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
  authorization = trim(authorization);
  constexpr std::string_view scheme = "Bearer";
  if (authorization.size() <= scheme.size() || !iequals(authorization.substr(0, scheme.size()), scheme) ||
      !is_blank(authorization[scheme.size()])) {
    return std::nullopt;
  }
  const std::string_view token = trim(authorization.substr(scheme.size()));
  if (token.empty()) return std::nullopt;
  return token;
}

Authorizer bearer_authorizer(std::shared_ptr<const TokenTable> tokens) {
  if (!tokens) throw std::invalid_argument("bearer_authorizer needs a token table");
  return [tokens = std::move(tokens)](Request& request, Access access) -> std::optional<Response> {
    if (access == Access::public_) return std::nullopt;
    const auto header = request.headers.find("Authorization");
    if (!header) {
      return unauthorized(request,
                          "this route needs credentials: send the header 'Authorization: Bearer <token>'");
    }
    const auto token = bearer_token(*header);
    if (!token) return unauthorized(request, "the Authorization header must be 'Bearer <token>'");
    const auto entry = tokens->find(*token);
    if (!entry) return unauthorized(request, "the bearer token is not valid");
    if (access == Access::operator_ && entry->role != Role::operator_) {
      return protocol_problem(403, "forbidden", "Forbidden",
                              "this route needs the operator role; the token given has the viewer role",
                              request.path);
    }
    request.caller = entry->label;
    return std::nullopt;
  };
}

}  // namespace flightplan::http
