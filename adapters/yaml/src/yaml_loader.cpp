#include "flightplan/yaml/yaml_loader.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace flightplan::yaml {

namespace {

using engine::DefinitionError;
using engine::Diagnostic;
using engine::SourcePosition;
using nlohmann::json;

constexpr std::string_view core_tag_prefix = "tag:yaml.org,2002:";
// Past this many problems the rest are mostly consequences of the first ones.
constexpr std::size_t diagnostics_max = 100;
// Keys, strings and JSON pointers may add up to this many times the size limit once aliases are
// expanded. Beyond that the document is an expansion bomb that nodes_max alone does not catch: a long
// string referenced many times, or long keys above many leaves (every leaf's pointer repeats them).
constexpr std::size_t expansion_factor = 64;

[[noreturn]] void fail(const std::string& file, SourcePosition position, std::string message) {
  throw DefinitionError({Diagnostic{file, position, "", std::move(message)}});
}

std::string nesting_message(std::size_t depth_max) {
  return "nesting deeper than " + std::to_string(depth_max) + " levels";
}

std::string size_message(std::uintmax_t size_bytes, std::size_t bytes_max) {
  return "file is " + std::to_string(size_bytes) + " bytes; the limit is " + std::to_string(bytes_max) +
         " bytes";
}

std::string hex_byte(unsigned char byte) {
  constexpr std::string_view hex_digits = "0123456789ABCDEF";
  return {hex_digits[byte >> 4], hex_digits[byte & 0xF]};
}

std::string escape_pointer_token(std::string_view token) {
  std::string escaped;
  escaped.reserve(token.size());
  for (const char c : token) {
    if (c == '~') {
      escaped += "~0";
    } else if (c == '/') {
      escaped += "~1";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// Maps byte offsets and yaml-cpp marks to 1-based lines and character columns. yaml-cpp counts
// columns in bytes and does not count a leading byte-order mark; people count characters, so columns
// are recounted here. Only '\n' ends a line, as in yaml-cpp (the '\r' of a CRLF ends its own line).
class LineIndex {
 public:
  explicit LineIndex(std::string_view text) : text_(text) {
    line_starts_.push_back(text.starts_with("\xEF\xBB\xBF") ? 3 : 0);
    bool ascii = true;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') line_starts_.push_back(i + 1);
      if (static_cast<unsigned char>(text[i]) >= 0x80) ascii = false;
    }
    if (ascii) return;
    characters_before_.resize(text.size() + 1);
    std::uint32_t count = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      characters_before_[i] = count;
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++count;
    }
    characters_before_[text.size()] = count;
  }

  SourcePosition at_offset(std::size_t offset) const {
    offset = std::min(offset, text_.size());
    const auto next_line = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    if (next_line == line_starts_.begin()) return {1, 1};  // inside the byte-order mark
    const auto line = static_cast<std::size_t>(next_line - line_starts_.begin() - 1);
    return position(line, offset);
  }

  SourcePosition at_mark(const YAML::Mark& mark) const {
    if (mark.line < 0) return {0, 0};
    const std::size_t offset = offset_of(mark);
    if (offset == std::string_view::npos) return {mark.line + 1, std::max(mark.column, 0) + 1};
    return position(static_cast<std::size_t>(mark.line), offset);
  }

  // The byte offset a mark points at, or npos when it lies outside the text.
  std::size_t offset_of(const YAML::Mark& mark) const {
    if (mark.line < 0 || mark.column < 0) return std::string_view::npos;
    const auto line = static_cast<std::size_t>(mark.line);
    if (line >= line_starts_.size()) return std::string_view::npos;
    const std::size_t offset = line_starts_[line] + static_cast<std::size_t>(mark.column);
    return offset <= text_.size() ? offset : std::string_view::npos;
  }

  // The 0-based line's text without its line break ("" past the end).
  std::string_view line_text(std::size_t line) const {
    if (line >= line_starts_.size()) return {};
    const std::size_t begin = line_starts_[line];
    const std::size_t end = line + 1 < line_starts_.size() ? line_starts_[line + 1] - 1 : text_.size();
    return text_.substr(begin, end - begin);
  }

 private:
  SourcePosition position(std::size_t line, std::size_t offset) const {
    const std::size_t begin = line_starts_[line];
    const std::size_t characters =
        characters_before_.empty() ? offset - begin : characters_before_[offset] - characters_before_[begin];
    return {static_cast<int>(line + 1), static_cast<int>(characters + 1)};
  }

  std::string_view text_;
  std::vector<std::size_t> line_starts_;
  // characters_before_[i] counts the characters that start in text_[0, i); empty for ASCII text.
  std::vector<std::uint32_t> characters_before_;
};

// Length of the well-formed UTF-8 sequence at text[i], or 0 when it is malformed: a stray
// continuation byte, a truncated sequence, an overlong form, a surrogate or a code point past U+10FFFF.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  char32_t code_point = 0;
  char32_t minimum = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1Fu;
    minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0Fu;
    minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07u;
    minimum = 0x10000;
  } else {
    return 0;
  }
  if (length > text.size() - i) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3Fu);
  }
  const bool surrogate = code_point >= 0xD800 && code_point <= 0xDFFF;
  return code_point < minimum || code_point > 0x10FFFF || surrogate ? 0 : length;
}

// yaml-cpp silently drops some control characters and accepts malformed UTF-8, so the text is checked
// before parsing. Tab, LF and CR are the only control characters YAML allows.
void check_characters(std::string_view text, const std::string& file, const LineIndex& lines) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == 0) fail(file, lines.at_offset(i), "invalid UTF-8: NUL byte");
    const bool control = (byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r') || byte == 0x7F;
    if (control) {
      fail(file, lines.at_offset(i), "control character U+00" + hex_byte(byte) + " is not allowed");
    }
    const std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      fail(file, lines.at_offset(i), "invalid UTF-8: malformed sequence at byte 0x" + hex_byte(byte));
    }
    i += length;
  }
}

// Finds the `[` or `{` that opens more than depth_max flow collections at once, without parsing, so
// that a pathological `[[[[...` never reaches the recursive parser. Quoted scalars and comments are
// skipped and closers never push the count below zero; the scan can therefore only over-count when a
// plain or block scalar holds more than depth_max unmatched openers.
std::optional<std::size_t> find_deep_flow_nesting(std::string_view text, std::size_t depth_max) {
  std::size_t depth = 0;
  char quote = 0;  // the quote character of the scalar being skipped; 0 outside quotes
  bool in_comment = false;
  char previous = '\n';
  for (std::size_t i = 0; i < text.size(); previous = text[i++]) {
    const char c = text[i];
    if (in_comment) {
      in_comment = c != '\n';
    } else if (quote == '"') {
      if (c == '\\' && i + 1 < text.size()) {
        ++i;  // the escaped character cannot close the scalar
      } else if (c == '"') {
        quote = 0;
      }
    } else if (quote == '\'') {
      if (c == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is an escaped quote
      } else if (c == '\'') {
        quote = 0;
      }
    } else if (c == '#' && (previous == ' ' || previous == '\t' || previous == '\n')) {
      in_comment = true;
    } else if ((c == '"' || c == '\'') &&
               std::string_view(" \t\r\n[{,:").find(previous) != std::string_view::npos) {
      quote = c;
    } else if (c == '[' || c == '{') {
      if (++depth > depth_max) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

// yaml-cpp's messages for tab indentation ("illegal map value") do not mention the tab.
std::string with_tab_hint(std::string message, const LineIndex& lines, const YAML::Mark& mark) {
  if (mark.line < 0 || message.find("tab") != std::string::npos) return message;
  const std::string_view line = lines.line_text(static_cast<std::size_t>(mark.line));
  const std::string_view indentation = line.substr(0, line.find_first_not_of(" \t"));
  if (indentation.find('\t') != std::string_view::npos) message += " (tabs cannot be used for indentation)";
  return message;
}

// A parsed YAML node. yaml-cpp's own Node is not used: building the tree from parser events keeps the
// position of every alias occurrence and leaves the document loop under our control (yaml-cpp 0.7's
// LoadAll loops forever on some inputs, such as a lone ","). An alias is a pointer to the anchored
// node, so the nodes form a graph that may even be cyclic (`&a [*a]`).
struct YamlNode {
  enum class Kind { null, scalar, sequence, mapping };
  // One entry of a collection; `mark` is where it is written, which for an alias is the `*name`.
  struct Child {
    const YamlNode* node;
    YAML::Mark mark;
  };

  Kind kind = Kind::null;
  YAML::Mark mark;
  std::string tag;              // "?" for plain and untagged nodes, "!" for quoted scalars, else the full tag
  std::string text;             // scalars only
  std::vector<Child> children;  // sequence items, or mapping keys and values alternating
};

// Thrown through yaml-cpp's parser when a document holds more nodes than allowed, before aliases are
// even expanded; it stops a huge document early instead of building all of it.
struct NodeLimitReached {
  YAML::Mark mark;
};

// Receives one document's parser events and builds its YamlNodes, which it owns.
class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::size_t nodes_max) : nodes_max_(nodes_max) {}

  const YamlNode* root() const { return root_; }
  const YAML::Mark& start() const { return start_; }

  void OnDocumentStart(const YAML::Mark& mark) override { start_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add(create(YamlNode::Kind::null, mark, "", anchor), mark);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    // The parser rejects undefined anchors itself; a null node is only a fallback.
    const bool known = anchor < anchors_.size() && anchors_[anchor] != nullptr;
    add(known ? anchors_[anchor] : create(YamlNode::Kind::null, mark, "", YAML::NullAnchor), mark);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode* node = create(YamlNode::Kind::scalar, mark, tag, anchor);
    node->text = value;
    add(node, mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    open(create(YamlNode::Kind::sequence, mark, tag, anchor), mark);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    open(create(YamlNode::Kind::mapping, mark, tag, anchor), mark);
  }
  void OnMapEnd() override { close(); }

 private:
  YamlNode* create(YamlNode::Kind kind, const YAML::Mark& mark, const std::string& tag,
                   YAML::anchor_t anchor) {
    if (nodes_.size() >= nodes_max_) throw NodeLimitReached{mark};
    YamlNode* node = &nodes_.emplace_back(YamlNode{kind, mark, tag, "", {}});
    // Registered before any child arrives, so an alias inside the node can refer to the node itself.
    if (anchor != YAML::NullAnchor) {
      if (anchors_.size() <= anchor) anchors_.resize(anchor + 1, nullptr);
      anchors_[anchor] = node;
    }
    return node;
  }

  void add(const YamlNode* node, const YAML::Mark& mark) {
    if (open_.empty()) {
      root_ = node;
    } else {
      open_.back()->children.push_back({node, mark});
    }
  }

  void open(YamlNode* node, const YAML::Mark& mark) {
    add(node, mark);
    open_.push_back(node);
  }

  void close() {
    if (!open_.empty()) open_.pop_back();  // the parser balances start and end events
  }

  std::size_t nodes_max_;
  std::deque<YamlNode> nodes_;            // a deque keeps node addresses stable as it grows
  std::vector<YamlNode*> open_;           // collections whose end event has not arrived yet
  std::vector<const YamlNode*> anchors_;  // indexed by the parser's anchor id
  const YamlNode* root_ = nullptr;
  YAML::Mark start_;
};

// What the parsing steps need to turn a failure into a diagnostic.
struct ParseContext {
  std::string_view text;
  const std::string& file;
  const LineIndex& lines;
  const LoadLimits& limits;
};

// Parses the next document into `builder`; false at the end of the stream. Every parser failure
// becomes a DefinitionError.
bool next_document(YAML::Parser& parser, TreeBuilder& builder, const ParseContext& context) {
  try {
    return parser.HandleNextDocument(builder);
  } catch (const YAML::DeepRecursion& error) {
    // yaml-cpp's own guard sits near 1000 levels, far above any sensible depth_max.
    fail(context.file, context.lines.at_mark(error.mark), nesting_message(context.limits.depth_max));
  } catch (const YAML::Exception& error) {
    fail(context.file, context.lines.at_mark(error.mark),
         with_tab_hint(error.msg, context.lines, error.mark));
  } catch (const NodeLimitReached& error) {
    fail(context.file, context.lines.at_mark(error.mark),
         "document has more than " + std::to_string(context.limits.nodes_max) + " nodes");
  }
}

// Called when a second document was parsed. yaml-cpp reports a token it cannot place (a "," outside
// any flow collection) as an endless series of empty documents that all start at that token; such a
// stall is a syntax error, not a second document.
[[noreturn]] void fail_after_first_document(YAML::Parser& parser, const TreeBuilder& first,
                                            const TreeBuilder& second, const ParseContext& context) {
  const YAML::Mark& start = second.start();
  bool stalled = start.pos == first.start().pos;
  if (!stalled) {
    TreeBuilder third(context.limits.nodes_max);
    stalled = next_document(parser, third, context) && third.start().pos == start.pos;
  }
  const SourcePosition where = context.lines.at_mark(start);
  const std::size_t offset = context.lines.offset_of(start);
  if (stalled && offset < context.text.size()) {
    fail(context.file, where, "unexpected '" + std::string(1, context.text[offset]) + "'");
  }
  fail(context.file, where, "expected one workflow document, but a second document starts here");
}

// Parses the text and returns its only document; every failure is a DefinitionError.
std::unique_ptr<TreeBuilder> parse_single_document(const ParseContext& context) {
  std::istringstream stream{std::string(context.text)};
  YAML::Parser parser(stream);
  auto document = std::make_unique<TreeBuilder>(context.limits.nodes_max);
  const bool found = next_document(parser, *document, context);
  if (found) {
    TreeBuilder second(context.limits.nodes_max);
    if (next_document(parser, second, context)) fail_after_first_document(parser, *document, second, context);
  }
  if (!found || document->root() == nullptr || document->root()->kind == YamlNode::Kind::null) {
    fail(context.file, {1, 1}, "file is empty: expected a workflow document");
  }
  return document;
}

std::string display_tag(const std::string& tag) {
  if (tag.starts_with(core_tag_prefix)) return "!!" + tag.substr(core_tag_prefix.size());
  return tag;
}

// Whether a tag is one of the YAML core schema's, whatever the kind of node it is on.
bool is_core_tag(const std::string& tag) {
  static const std::set<std::string, std::less<>> core_tag_names = {"str",  "int", "float", "bool",
                                                            "null", "seq", "map"};
  return tag.starts_with(core_tag_prefix) &&
         core_tag_names.contains(std::string_view(tag).substr(core_tag_prefix.size()));
}

std::string tag_problem(const std::string& tag, std::string_view kind) {
  if (is_core_tag(tag)) return "tag '" + display_tag(tag) + "' cannot be used on " + std::string(kind);
  return "unknown tag '" + display_tag(tag) +
         "': only the YAML core tags (!!str, !!int, !!float, !!bool, !!null, !!seq, !!map) are supported";
}

// The reading of a scalar's text as one type of the YAML 1.2 core schema.
struct Resolution {
  bool fits = false;  // the text has the form of the type
  json value;         // the value, when it fits and JSON can hold it
  std::string error;  // why a text that fits cannot be represented
};

Resolution resolve_null(std::string_view text) {
  const bool fits = text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
  return {fits, nullptr, ""};
}

Resolution resolve_bool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return {true, true, ""};
  if (text == "false" || text == "False" || text == "FALSE") return {true, false, ""};
  return {};
}

bool all_digits(std::string_view digits, int base) {
  const auto is_digit = [base](char c) {
    if (base == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
    return c >= '0' && c < static_cast<char>('0' + base);
  };
  return !digits.empty() && std::all_of(digits.begin(), digits.end(), is_digit);
}

// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+, held as a signed 64-bit integer.
Resolution resolve_int(std::string_view text) {
  int base = 10;
  bool negative = false;
  std::string_view digits = text;
  if (text.starts_with("0o") || text.starts_with("0x")) {
    base = text[1] == 'o' ? 8 : 16;
    digits.remove_prefix(2);
  } else if (text.starts_with('+') || text.starts_with('-')) {
    negative = text[0] == '-';
    digits.remove_prefix(1);
  }
  if (!all_digits(digits, base)) return {};
  std::uint64_t magnitude = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  const std::uint64_t magnitude_max =
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
  if (error != std::errc() || magnitude > magnitude_max) {
    return {true, nullptr, "integer out of range: '" + std::string(text) + "' does not fit in 64 bits"};
  }
  // Negation is done on the unsigned magnitude; C++20 defines the conversion back to signed.
  const auto value = static_cast<std::int64_t>(negative ? 0 - magnitude : magnitude);
  return {true, value, ""};
}

bool is_float_text(std::string_view text) {
  std::size_t i = 0;
  const auto skip_digits = [&] {
    const std::size_t begin = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - begin;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  std::size_t digit_count = skip_digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    digit_count += skip_digits();
  }
  if (digit_count == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (skip_digits() == 0) return false;
  }
  return i == text.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, plus the infinities and NaN JSON cannot hold.
Resolution resolve_float(std::string_view text) {
  std::string_view magnitude = text;
  if (magnitude.starts_with('+') || magnitude.starts_with('-')) magnitude.remove_prefix(1);
  const bool infinite = magnitude == ".inf" || magnitude == ".Inf" || magnitude == ".INF";
  if (infinite || text == ".nan" || text == ".NaN" || text == ".NAN") {
    return {true, nullptr, "infinite and NaN numbers cannot be represented in JSON"};
  }
  if (!is_float_text(text)) return {};
  const std::string_view number = text.starts_with('+') ? text.substr(1) : text;
  double value = 0;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error != std::errc() || end != number.data() + number.size()) {
    return {true, nullptr, "number out of range: '" + std::string(text) + "' does not fit in a double"};
  }
  return {true, value, ""};
}

// Plain scalars: the first core-schema type whose form fits, else a string.
Resolution resolve_plain(const std::string& text) {
  for (const auto resolve : {resolve_null, resolve_bool, resolve_int, resolve_float}) {
    Resolution resolution = resolve(text);
    if (resolution.fits) return resolution;
  }
  return {true, text, ""};
}

// Scalars with an explicit tag. The text must fit the tag's type; !!float also takes integers.
Resolution resolve_tagged(const std::string& tag, const std::string& text) {
  const std::string_view name = std::string_view(tag).substr(core_tag_prefix.size());
  Resolution resolution;
  if (name == "str") return {true, text, ""};
  if (name == "null") resolution = resolve_null(text);
  if (name == "bool") resolution = resolve_bool(text);
  if (name == "int") resolution = resolve_int(text);
  if (name == "float") resolution = resolve_float(text);
  if (!resolution.fits) resolution.error = "'" + text + "' is not a valid " + display_tag(tag);
  return resolution;
}

// Turns a parsed YAML tree into JSON plus positions, collecting every problem it meets. Invariant:
// once stopped_ is set (a limit was hit) nothing more is converted or reported.
class Converter {
 public:
  Converter(const std::string& file, const LoadLimits& limits, const LineIndex& lines, std::string_view text)
      : file_(file),
        limits_(limits),
        lines_(lines),
        text_(text),
        expanded_bytes_max_(limits.bytes_max > std::numeric_limits<std::size_t>::max() / expansion_factor
                                ? std::numeric_limits<std::size_t>::max()
                                : limits.bytes_max * expansion_factor) {}

  json convert_root(const YamlNode& root) {
    positions_[""] = position(root.mark);
    return convert(root, "", 1);
  }

  std::unordered_map<std::string, SourcePosition> take_positions() { return std::move(positions_); }
  std::vector<Diagnostic> take_diagnostics() { return std::move(diagnostics_); }

 private:
  using Kind = YamlNode::Kind;

  // `depth` counts the collections from the root down to this node, the root being 1.
  json convert(const YamlNode& node, const std::string& pointer, std::size_t depth) {
    if (!charge(node, pointer, pointer.size() + node.text.size())) return nullptr;
    if (node.kind == Kind::scalar) return convert_scalar(node, pointer);
    if (node.kind == Kind::null) return nullptr;
    if (depth > limits_.depth_max) {
      report(pointer, position(node.mark), nesting_message(limits_.depth_max));
      return nullptr;
    }
    const bool mapping = node.kind == Kind::mapping;
    const std::string core_tag = std::string(core_tag_prefix) + (mapping ? "map" : "seq");
    if (node.tag != "?" && node.tag != "!" && node.tag != core_tag) {
      report(pointer, position(node.mark), tag_problem(node.tag, mapping ? "a mapping" : "a sequence"));
      return nullptr;
    }
    return mapping ? convert_mapping(node, pointer, depth) : convert_sequence(node, pointer, depth);
  }

  json convert_sequence(const YamlNode& node, const std::string& pointer, std::size_t depth) {
    json array = json::array();
    for (std::size_t index = 0; index < node.children.size() && !stopped_; ++index) {
      const YamlNode::Child& item = node.children[index];
      const std::string child = pointer + '/' + std::to_string(index);
      positions_[child] = position(item.mark);
      array.push_back(convert(*item.node, child, depth + 1));
    }
    return array;
  }

  json convert_mapping(const YamlNode& node, const std::string& pointer, std::size_t depth) {
    json object = json::object();
    // Children alternate key, value; the parser always delivers both halves of an entry.
    for (std::size_t index = 0; index + 1 < node.children.size() && !stopped_; index += 2) {
      const YamlNode::Child& key = node.children[index];
      const std::optional<std::string> name = key_text(key, pointer);
      if (!name) continue;
      const std::string child = pointer + '/' + escape_pointer_token(*name);
      const SourcePosition key_position = position(key.mark);
      if (object.contains(*name)) {
        const int first_line = positions_[child].line;
        report(child, key_position,
               "duplicate key '" + *name + "' (first defined at line " + std::to_string(first_line) + ")");
        continue;
      }
      positions_[child] = key_position;
      object[*name] = convert(*node.children[index + 1].node, child, depth + 1);
    }
    return object;
  }

  json convert_scalar(const YamlNode& node, const std::string& pointer) {
    if (node.tag == "!") return node.text;  // quoted, a block scalar, or the non-specific tag `!`
    Resolution resolution;
    if (node.tag == "?") {
      resolution = resolve_plain(node.text);
    } else if (is_core_tag(node.tag) && !node.tag.ends_with(":seq") && !node.tag.ends_with(":map")) {
      resolution = resolve_tagged(node.tag, node.text);
    } else {
      resolution.error = tag_problem(node.tag, "a scalar");
    }
    if (!resolution.error.empty()) {
      report(pointer, position(node.mark), resolution.error);
      return nullptr;
    }
    return resolution.value;
  }

  // A key's text as written; nullopt (with a diagnostic) when the key cannot name a JSON member.
  std::optional<std::string> key_text(const YamlNode::Child& key, const std::string& pointer) {
    if (!charge(*key.node, pointer, key.node->text.size())) return std::nullopt;
    if (key.node->kind == Kind::null) return null_key_text(key.mark);
    if (key.node->kind != Kind::scalar) {
      report(pointer, position(key.mark), "mapping keys must be scalars");
      return std::nullopt;
    }
    const std::string& tag = key.node->tag;
    if (tag != "?" && tag != "!" && !is_core_tag(tag)) {
      report(pointer, position(key.mark), tag_problem(tag, "a key"));
      return std::nullopt;
    }
    return key.node->text;
  }

  // The parser turns `~:` and `null:` keys into null events without their text; it is read back from
  // the source so that the key stays as written. An empty key (`: value`) is "".
  std::string null_key_text(const YAML::Mark& mark) const {
    const std::size_t offset = lines_.offset_of(mark);
    if (offset == std::string_view::npos) return "";
    for (const std::string_view spelling : {"~", "null", "Null", "NULL"}) {
      if (text_.substr(offset).starts_with(spelling)) return std::string(spelling);
    }
    return "";
  }

  // Counts one node and its expanded bytes against the limits; false once a limit has been hit.
  bool charge(const YamlNode& node, const std::string& pointer, std::size_t bytes) {
    if (stopped_) return false;
    ++node_count_;
    expanded_bytes_ += bytes;
    if (node_count_ > limits_.nodes_max) {
      report(
          pointer, position(node.mark),
          "document expands to more than " + std::to_string(limits_.nodes_max) + " nodes (alias expansion?)");
      stopped_ = true;
    } else if (expanded_bytes_ > expanded_bytes_max_) {
      report(pointer, position(node.mark),
             "document expands to more than " + std::to_string(expanded_bytes_max_) +
                 " bytes of keys, strings and paths (alias expansion?)");
      stopped_ = true;
    }
    return !stopped_;
  }

  // Records a problem once: a node reached through several aliases is reported at one place only.
  void report(const std::string& pointer, SourcePosition where, std::string message) {
    if (!reported_.emplace(where.line, where.column, message).second) return;
    if (diagnostics_.size() == diagnostics_max) {
      diagnostics_.push_back(Diagnostic{
          file_, where, pointer, "too many problems; stopping after " + std::to_string(diagnostics_max)});
      stopped_ = true;
      return;
    }
    diagnostics_.push_back(Diagnostic{file_, where, pointer, std::move(message)});
  }

  SourcePosition position(const YAML::Mark& mark) const { return lines_.at_mark(mark); }

  const std::string& file_;
  const LoadLimits& limits_;
  const LineIndex& lines_;
  std::string_view text_;
  const std::size_t expanded_bytes_max_;
  std::size_t node_count_ = 0;
  std::size_t expanded_bytes_ = 0;
  bool stopped_ = false;
  std::unordered_map<std::string, SourcePosition> positions_;
  std::vector<Diagnostic> diagnostics_;
  std::set<std::tuple<int, int, std::string>> reported_;
};

std::string cannot_read_message(int error_number) {
  const std::string reason =
      error_number != 0 ? std::error_code(error_number, std::generic_category()).message() : "unknown error";
  return "cannot read file: " + reason;
}

// Reads a whole file, refusing one larger than bytes_max before reading it. Streams that cannot report
// their size (pipes) are read in chunks and refused as soon as they pass the limit.
std::string read_file(const std::string& path, std::size_t bytes_max) {
  std::error_code status_error;
  if (std::filesystem::is_directory(path, status_error)) fail(path, {}, cannot_read_message(EISDIR));
  errno = 0;
  std::ifstream stream(path, std::ios::binary);
  if (!stream) fail(path, {}, cannot_read_message(errno));
  stream.seekg(0, std::ios::end);
  const std::streamoff size_bytes = stream.tellg();
  if (size_bytes >= 0 && static_cast<std::uintmax_t>(size_bytes) > bytes_max) {
    fail(path, {1, 1}, size_message(static_cast<std::uintmax_t>(size_bytes), bytes_max));
  }
  stream.clear();
  if (size_bytes >= 0) stream.seekg(0, std::ios::beg);
  std::string text;
  std::vector<char> buffer(64 * 1024);
  while (stream.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || stream.gcount() > 0) {
    text.append(buffer.data(), static_cast<std::size_t>(stream.gcount()));
    if (text.size() > bytes_max) {
      fail(path, {1, 1},
           "file is more than " + std::to_string(bytes_max) + " bytes; the limit is " +
               std::to_string(bytes_max) + " bytes");
    }
  }
  if (stream.bad()) fail(path, {}, cannot_read_message(errno));
  return text;
}

}  // namespace

engine::SourceDocument load_yaml(std::string_view text, const std::string& file, const LoadLimits& limits) {
  if (text.size() > limits.bytes_max) fail(file, {1, 1}, size_message(text.size(), limits.bytes_max));
  const LineIndex lines(text);
  check_characters(text, file, lines);
  if (const auto offset = find_deep_flow_nesting(text, limits.depth_max)) {
    fail(file, lines.at_offset(*offset), nesting_message(limits.depth_max));
  }
  const std::unique_ptr<TreeBuilder> tree = parse_single_document(ParseContext{text, file, lines, limits});

  Converter converter(file, limits, lines, text);
  engine::SourceDocument document;
  document.file = file;
  document.root = converter.convert_root(*tree->root());
  std::vector<Diagnostic> diagnostics = converter.take_diagnostics();
  if (!diagnostics.empty()) throw DefinitionError(std::move(diagnostics));
  document.positions = converter.take_positions();
  document.text = std::string(text);
  return document;
}

engine::SourceDocument load_yaml_file(const std::string& path, const LoadLimits& limits) {
  const std::string text = read_file(path, limits.bytes_max);
  return load_yaml(text, path, limits);
}

}  // namespace flightplan::yaml
