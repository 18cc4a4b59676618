#include "flightplan/redis/reply.hpp"

#include "flightplan/engine/error.hpp"

namespace flightplan::redis {
namespace {

[[noreturn]] void mismatch(const Reply& reply, std::string_view expected) {
  throw engine::OperationError(
      engine::ErrorCategory::internal,
      "redis reply: expected " + std::string(expected) + ", got " + reply.describe());
}

constexpr std::size_t describe_text_max = 80;

// Quotes `text`, escaping bytes that are not printable ASCII, and cuts it after a few dozen bytes.
std::string quoted(const std::string& text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < describe_text_max; ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '"' && byte != '\\') {
      out += static_cast<char>(byte);
    } else {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0xf];
    }
  }
  out += text.size() > describe_text_max ? "\"... (" + std::to_string(text.size()) + " bytes)" : "\"";
  return out;
}

}  // namespace

Reply Reply::integer(std::int64_t value) {
  Reply reply;
  reply.type_ = Type::integer;
  reply.integer_ = value;
  return reply;
}

Reply Reply::string(std::string bytes) {
  Reply reply;
  reply.type_ = Type::string;
  reply.text_ = std::move(bytes);
  return reply;
}

Reply Reply::status(std::string text) {
  Reply reply;
  reply.type_ = Type::status;
  reply.text_ = std::move(text);
  return reply;
}

Reply Reply::error(std::string message) {
  Reply reply;
  reply.type_ = Type::error;
  reply.text_ = std::move(message);
  return reply;
}

Reply Reply::array(std::vector<Reply> elements) {
  Reply reply;
  reply.type_ = Type::array;
  reply.elements_ = std::move(elements);
  return reply;
}

std::int64_t Reply::as_integer() const {
  if (type_ != Type::integer) mismatch(*this, "an integer");
  return integer_;
}

const std::string& Reply::as_string() const {
  if (type_ != Type::string && type_ != Type::status) mismatch(*this, "a string");
  return text_;
}

const std::vector<Reply>& Reply::as_array() const {
  if (type_ != Type::array) mismatch(*this, "an array");
  return elements_;
}

const std::string& Reply::error_message() const {
  if (type_ != Type::error) mismatch(*this, "an error");
  return text_;
}

std::string_view Reply::error_code() const {
  if (type_ != Type::error) return {};
  std::string_view message = text_;
  return message.substr(0, message.find(' '));
}

std::string Reply::describe() const {
  switch (type_) {
    case Type::nil:
      return "nil";
    case Type::integer:
      return "integer " + std::to_string(integer_);
    case Type::string:
      return "string " + quoted(text_);
    case Type::status:
      return "status " + quoted(text_);
    case Type::error:
      return "error " + quoted(text_);
    case Type::array:
      break;
  }
  std::string out = "array [";
  for (std::size_t i = 0; i < elements_.size(); ++i) {
    if (i == 8) {
      out += ", ... (" + std::to_string(elements_.size()) + " elements)";
      break;
    }
    out += (i == 0 ? "" : ", ") + elements_[i].describe();
  }
  return out + "]";
}

}  // namespace flightplan::redis
