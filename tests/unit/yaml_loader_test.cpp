#define BOOST_TEST_MODULE yaml_loader
#include <boost/test/unit_test.hpp>

#include "flightplan/engine/source.hpp"
#include "flightplan/yaml/yaml_loader.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

using flightplan::engine::DefinitionError;
using flightplan::engine::Diagnostic;
using flightplan::engine::SourceDocument;
using flightplan::engine::SourcePosition;
using flightplan::yaml::load_yaml;
using flightplan::yaml::load_yaml_file;
using flightplan::yaml::LoadLimits;
using nlohmann::json;

constexpr const char* test_file = "test.yaml";

// The diagnostics load_yaml reports for `text`; fails the test when the text loads.
std::vector<Diagnostic> errors_of(const std::string& text, const LoadLimits& limits = {}) {
  try {
    load_yaml(text, test_file, limits);
  } catch (const DefinitionError& error) {
    BOOST_TEST_REQUIRE(!error.diagnostics().empty());
    return error.diagnostics();
  }
  BOOST_FAIL("expected a DefinitionError for: " << text.substr(0, 200));
  return {};
}

// The single diagnostic for `text`, checked for position and a message fragment.
void expect_error(const std::string& text, int line, int column, const std::string& fragment,
                  const LoadLimits& limits = {}) {
  const std::vector<Diagnostic> errors = errors_of(text, limits);
  BOOST_TEST_REQUIRE(errors.size() == 1u);
  BOOST_TEST(errors[0].file == test_file);
  BOOST_TEST(errors[0].position.line == line);
  BOOST_TEST(errors[0].position.column == column);
  BOOST_TEST(errors[0].message.find(fragment) != std::string::npos,
             "'" << errors[0].message << "' lacks '" << fragment << "'");
}

json value_of(const std::string& yaml_value) { return load_yaml("v: " + yaml_value, test_file).root.at("v"); }

void expect_position(const SourceDocument& document, const std::string& pointer, int line, int column) {
  const auto found = document.positions.find(pointer);
  BOOST_TEST_REQUIRE((found != document.positions.end()), "no position for '" << pointer << "'");
  BOOST_TEST(found->second.line == line, pointer);
  BOOST_TEST(found->second.column == column, pointer);
}

// A scratch directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("yaml_loader_test_" + std::to_string(std::random_device{}()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const std::filesystem::path file = path / name;
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(scalars)

BOOST_AUTO_TEST_CASE(core_schema_types) {
  BOOST_TEST(value_of("\"123\"") == json("123"));
  BOOST_TEST(value_of("'123'") == json("123"));
  BOOST_TEST(value_of("123") == json(123));
  BOOST_TEST(value_of("123").is_number_integer());
  BOOST_TEST(value_of("-42") == json(-42));
  BOOST_TEST(value_of("+7") == json(7));
  BOOST_TEST(value_of("0x1F") == json(31));
  BOOST_TEST(value_of("0o17") == json(15));
  BOOST_TEST(value_of("1.5").is_number_float());
  BOOST_TEST(value_of("1.5").get<double>() == 1.5);
  BOOST_TEST(value_of("-2.5e3").get<double>() == -2500.0);
  BOOST_TEST(value_of(".5").get<double>() == 0.5);
  BOOST_TEST(value_of("1e3").is_number_float());
  BOOST_TEST(value_of("true") == json(true));
  BOOST_TEST(value_of("False") == json(false));
  BOOST_TEST(value_of("~").is_null());
  BOOST_TEST(value_of("null").is_null());
  BOOST_TEST(value_of("").is_null());
  BOOST_TEST(value_of("yes") == json("yes"));
  BOOST_TEST(value_of("on") == json("on"));
  BOOST_TEST(value_of("0x1G") == json("0x1G"));
  BOOST_TEST(value_of("1.2.3") == json("1.2.3"));
  BOOST_TEST(value_of("\"true\"") == json("true"));
  BOOST_TEST(value_of("|\n  two\n  lines\n") == json("two\nlines\n"));
  BOOST_TEST(value_of("9223372036854775807") == json(INT64_MAX));
  BOOST_TEST(value_of("-9223372036854775808") == json(INT64_MIN));
}

BOOST_AUTO_TEST_CASE(explicit_core_tags) {
  BOOST_TEST(value_of("!!str 5") == json("5"));
  BOOST_TEST(value_of("!!int \"12\"") == json(12));
  BOOST_TEST(value_of("!!float 3").is_number_float());
  BOOST_TEST(value_of("!!bool true") == json(true));
  BOOST_TEST(value_of("!!null ''").is_null());
  BOOST_TEST(value_of("! 12") == json("12"));
  BOOST_TEST(value_of("!!seq [1]") == json::array({1}));
  expect_error("v: !!int abc", 1, 4, "'abc' is not a valid !!int");
  expect_error("v: !!bool yes", 1, 4, "'yes' is not a valid !!bool");
  expect_error("v: !!map x", 1, 4, "tag '!!map' cannot be used on a scalar");
}

BOOST_AUTO_TEST_CASE(unrepresentable_scalars) {
  expect_error("v: 9223372036854775808", 1, 4, "integer out of range");
  expect_error("v: -9223372036854775809", 1, 4, "integer out of range");
  expect_error("v: 0xFFFFFFFFFFFFFFFFF", 1, 4, "integer out of range");
  expect_error("v: .inf", 1, 4, "infinite and NaN numbers cannot be represented in JSON");
  expect_error("v: -.Inf", 1, 4, "infinite and NaN");
  expect_error("v: .NaN", 1, 4, "infinite and NaN");
  expect_error("v: !custom x", 1, 4, "unknown tag '!custom'");
  expect_error("v: !custom {a: 1}", 1, 4, "unknown tag '!custom'");
}

BOOST_AUTO_TEST_CASE(keys_are_text_as_written) {
  const json root = load_yaml("true: 1\n123: 2\n~: 3\n\"q\": 4\n", test_file).root;
  BOOST_TEST(root == json({{"true", 1}, {"123", 2}, {"~", 3}, {"q", 4}}));
  expect_error("? [a, b]\n: 1\n", 1, 3, "mapping keys must be scalars");
  expect_error("{[a]: 1}", 1, 2, "mapping keys must be scalars");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(positions)

BOOST_AUTO_TEST_CASE(keys_and_sequence_items) {
  const std::string text =
      "name: demo\n"
      "steps:\n"
      "  - first: 1\n"
      "    second: [x, 'y']\n"
      "  - \"third\"\n";
  const SourceDocument document = load_yaml(text, "flows/demo.yaml");
  BOOST_TEST(document.file == "flows/demo.yaml");
  BOOST_TEST(document.text == text);
  expect_position(document, "", 1, 1);
  expect_position(document, "/name", 1, 1);
  expect_position(document, "/steps", 2, 1);
  expect_position(document, "/steps/0", 3, 5);
  expect_position(document, "/steps/0/first", 3, 5);
  expect_position(document, "/steps/0/second", 4, 5);
  expect_position(document, "/steps/0/second/0", 4, 14);
  expect_position(document, "/steps/0/second/1", 4, 17);
  expect_position(document, "/steps/1", 5, 5);
  BOOST_TEST(document.positions.size() == 9u);
}

BOOST_AUTO_TEST_CASE(pointer_escaping) {
  const SourceDocument document = load_yaml("outer:\n  a/b: x\n  \"c~d\": {e/f~: 1}\n", test_file);
  BOOST_TEST(document.root.at("outer").at("a/b") == json("x"));
  BOOST_TEST(document.root.at(json::json_pointer("/outer/c~0d/e~1f~0")) == json(1));
  expect_position(document, "/outer/a~1b", 2, 3);
  expect_position(document, "/outer/c~0d", 3, 3);
  expect_position(document, "/outer/c~0d/e~1f~0", 3, 11);
}

BOOST_AUTO_TEST_CASE(columns_count_characters_not_bytes) {
  const SourceDocument document = load_yaml("\xC3\xA9t\xC3\xA9: [x, y]\n", test_file);
  BOOST_TEST(document.root.contains("\xC3\xA9t\xC3\xA9"));
  expect_position(document, "/\xC3\xA9t\xC3\xA9/1", 1, 10);
}

BOOST_AUTO_TEST_CASE(byte_order_mark_and_crlf) {
  const SourceDocument document = load_yaml(
      "\xEF\xBB\xBF"
      "a: 1\r\nb: [x, y]\r\n",
      test_file);
  BOOST_TEST(document.root == json({{"a", 1}, {"b", {"x", "y"}}}));
  expect_position(document, "/a", 1, 1);
  expect_position(document, "/b/1", 2, 8);
}

BOOST_AUTO_TEST_CASE(position_of_falls_back_to_the_nearest_ancestor) {
  const SourceDocument document = load_yaml("do:\n  - step:\n      call: http\n", test_file);
  const SourcePosition exact = document.position_of("/do/0/step/call");
  BOOST_TEST(exact.line == 3);
  BOOST_TEST(exact.column == 7);
  const SourcePosition parent = document.position_of("/do/0/step/with/endpoint");
  BOOST_TEST(parent.line == 2);
  BOOST_TEST(parent.column == 5);
  const SourcePosition top = document.position_of("/missing");
  BOOST_TEST(top.line == 1);
  BOOST_TEST(top.column == 1);
  const SourcePosition nothing = SourceDocument{}.position_of("/a/b");
  BOOST_TEST(nothing.line == 1);
  BOOST_TEST(nothing.column == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(syntax_error_has_line_and_column) {
  expect_error("a: [1, 2\nb: 3\n", 2, 2, "end of sequence flow not found");
  expect_error("ok: 1\nbad: b: c\n", 2, 7, "illegal map value");
}

BOOST_AUTO_TEST_CASE(tab_indentation) {
  expect_error("a:\n\tb: 1\n", 2, 3, "tabs cannot be used for indentation");
  expect_error("a:\n  b: 1\n\tc: 2\n", 3, 1, "tab");
}

BOOST_AUTO_TEST_CASE(duplicate_keys_are_all_reported) {
  const std::vector<Diagnostic> errors = errors_of("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n");
  BOOST_TEST_REQUIRE(errors.size() == 2u);
  BOOST_TEST(errors[0].message == "duplicate key 'c' (first defined at line 3)");
  BOOST_TEST(errors[0].pointer == "/b/c");
  BOOST_TEST(errors[0].position.line == 4);
  BOOST_TEST(errors[0].position.column == 3);
  BOOST_TEST(errors[1].message == "duplicate key 'a' (first defined at line 1)");
  BOOST_TEST(errors[1].position.line == 5);
  expect_error("{x: 1, x: 2}", 1, 8, "duplicate key 'x'");
}

BOOST_AUTO_TEST_CASE(empty_document) {
  for (const std::string text : {"", "# only a comment\n", "---\n", "~\n", "\n\n"}) {
    expect_error(text, 1, 1, "file is empty: expected a workflow document");
  }
}

BOOST_AUTO_TEST_CASE(more_than_one_document) {
  expect_error("a: 1\n---\nb: 2\n", 2, 1,
               "expected one workflow document, but a second document starts here");
  expect_error("a: 1\n---\n", 2, 1, "second document");
  expect_error("a: 1\n...\nb: 2\n", 3, 1, "second document");
  BOOST_TEST(load_yaml("a: 1\n...\n", test_file).root == json({{"a", 1}}));
}

// yaml-cpp 0.7's LoadAll never returns on these (it keeps producing empty documents).
BOOST_AUTO_TEST_CASE(stray_comma_does_not_hang) {
  expect_error(",", 1, 1, "unexpected ','");
  expect_error("---\n,\n", 2, 1, "unexpected ','");
  expect_error("a: 1\n---\n,\n", 2, 1, "second document");
}

BOOST_AUTO_TEST_CASE(size_limit) {
  LoadLimits limits;
  limits.bytes_max = 10;
  expect_error("a: 12345678", 1, 1, "file is 11 bytes; the limit is 10 bytes", limits);
  BOOST_TEST(load_yaml("a: 1234567", test_file, limits).root == json({{"a", 1234567}}));
}

BOOST_AUTO_TEST_CASE(deep_flow_nesting_does_not_crash) {
  expect_error(std::string(100000, '['), 1, 65, "nesting deeper than 64 levels");
  expect_error("a: " + std::string(100000, '{'), 1, 68, "nesting deeper than 64 levels");
  // Exactly at the limit loads; brackets inside quotes and comments do not count.
  BOOST_TEST(load_yaml(std::string(64, '[') + std::string(64, ']'), test_file).root.is_array());
  const std::string quoted = "a: \"" + std::string(100, '[') + "\" # " + std::string(100, '{') + "\n";
  BOOST_TEST(load_yaml(quoted, test_file).root.at("a") == json(std::string(100, '[')));
}

BOOST_AUTO_TEST_CASE(deep_block_nesting) {
  std::string text;
  for (int level = 0; level < 100; ++level) text += std::string(2 * level, ' ') + "k:\n";
  expect_error(text, 65, 129, "nesting deeper than 64 levels");

  std::string at_limit;
  for (int level = 0; level < 64; ++level) at_limit += std::string(2 * level, ' ') + "k:\n";
  BOOST_TEST(load_yaml(at_limit, test_file).root.is_object());

  // Far deeper than yaml-cpp's own recursion guard: still an error, never a crash.
  std::string dashes;
  for (int level = 0; level < 20000; ++level) dashes += "- ";
  const std::vector<Diagnostic> errors = errors_of(dashes + "x\n");
  BOOST_TEST_REQUIRE(errors.size() == 1u);
  BOOST_TEST(errors[0].message == "nesting deeper than 64 levels");
  BOOST_TEST(errors[0].position.line == 1);
}

BOOST_AUTO_TEST_CASE(alias_bomb_is_rejected) {
  std::string text = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level <= 9; ++level) {
    const std::string previous = "*l" + std::to_string(level - 1);
    text += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int copy = 0; copy < 9; ++copy) text += (copy > 0 ? ", " : "") + previous;
    text += "]\n";
  }
  const std::vector<Diagnostic> errors = errors_of(text);
  BOOST_TEST_REQUIRE(errors.size() == 1u);
  BOOST_TEST(errors[0].message == "document expands to more than 200000 nodes (alias expansion?)");
}

BOOST_AUTO_TEST_CASE(large_document_is_rejected_while_parsing) {
  LoadLimits limits;
  limits.nodes_max = 5;
  expect_error("[1, 2, 3, 4, 5]", 1, 14, "document has more than 5 nodes", limits);
  BOOST_TEST(load_yaml("[1, 2, 3, 4]", test_file, limits).root == json::parse("[1, 2, 3, 4]"));
}

BOOST_AUTO_TEST_CASE(aliases_within_limits_are_expanded) {
  const SourceDocument document = load_yaml("base: &b {x: 1}\nuse: *b\nlist: [1, *b]\n", test_file);
  BOOST_TEST(document.root.at("use") == json({{"x", 1}}));
  BOOST_TEST(document.root.at("list") == json::parse(R"([1, {"x": 1}])"));
  expect_position(document, "/list/1", 3, 11);    // where the alias is written
  expect_position(document, "/list/1/x", 1, 11);  // inside the anchored node
}

BOOST_AUTO_TEST_CASE(cyclic_alias_is_rejected) {
  const std::vector<Diagnostic> errors = errors_of("&a [*a]\n");
  BOOST_TEST_REQUIRE(errors.size() == 1u);
  BOOST_TEST(errors[0].message == "nesting deeper than 64 levels");
}

BOOST_AUTO_TEST_CASE(long_string_alias_bomb_is_rejected) {
  std::string text = "s: &s \"" + std::string(100000, 'x') + "\"\nall: [";
  for (int copy = 0; copy < 1000; ++copy) text += "*s, ";
  text += "*s]\n";
  const std::vector<Diagnostic> errors = errors_of(text);
  BOOST_TEST_REQUIRE(errors.size() == 1u);
  BOOST_TEST(errors[0].message.find("bytes of keys, strings and paths") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_and_control_characters) {
  expect_error("a: 1\nb: \xFF\n", 2, 4, "invalid UTF-8");
  expect_error("a: \xC3\n", 1, 4, "invalid UTF-8");
  expect_error("a: \xC0\xAF\n", 1, 4, "invalid UTF-8");      // overlong '/'
  expect_error("a: \xED\xA0\x80\n", 1, 4, "invalid UTF-8");  // a UTF-16 surrogate
  expect_error(std::string("a: b\0c\n", 7), 1, 5, "invalid UTF-8: NUL byte");
  expect_error("a: \x01\x62\n", 1, 4, "control character U+0001");
}

BOOST_AUTO_TEST_CASE(several_problems_are_reported_together) {
  const std::vector<Diagnostic> errors = errors_of("a: !!int x\nb: .nan\nc: ok\nd: !foo y\n");
  BOOST_TEST_REQUIRE(errors.size() == 3u);
  BOOST_TEST(errors[0].position.line == 1);
  BOOST_TEST(errors[1].position.line == 2);
  BOOST_TEST(errors[2].position.line == 4);
  BOOST_TEST(errors[2].pointer == "/d");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(files)

BOOST_AUTO_TEST_CASE(reads_a_file) {
  const TempDir directory;
  const std::string path = directory.write("flow.yaml", "document:\n  name: x\n");
  const SourceDocument document = load_yaml_file(path);
  BOOST_TEST(document.file == path);
  BOOST_TEST(document.root.at("document").at("name") == json("x"));
  expect_position(document, "/document/name", 2, 3);
}

BOOST_AUTO_TEST_CASE(errors_name_the_file) {
  const TempDir directory;
  const std::string path = directory.write("bad.yaml", "a: 1\na: 2\n");
  try {
    load_yaml_file(path);
    BOOST_FAIL("expected a DefinitionError");
  } catch (const DefinitionError& error) {
    BOOST_TEST(std::string(error.what()) == path + ":2:1: duplicate key 'a' (first defined at line 1)");
  }
}

BOOST_AUTO_TEST_CASE(missing_file) {
  const std::string path = "/nonexistent/flightplan/missing.yaml";
  try {
    load_yaml_file(path);
    BOOST_FAIL("expected a DefinitionError");
  } catch (const DefinitionError& error) {
    BOOST_TEST_REQUIRE(error.diagnostics().size() == 1u);
    const Diagnostic& diagnostic = error.diagnostics()[0];
    BOOST_TEST(diagnostic.file == path);
    BOOST_TEST(diagnostic.position.line == 0);
    BOOST_TEST(diagnostic.message == "cannot read file: No such file or directory");
    BOOST_TEST(diagnostic.to_string() == path + ": cannot read file: No such file or directory");
  }
}

BOOST_AUTO_TEST_CASE(directory_is_not_a_file) {
  const TempDir directory;
  try {
    load_yaml_file(directory.path.string());
    BOOST_FAIL("expected a DefinitionError");
  } catch (const DefinitionError& error) {
    BOOST_TEST(error.diagnostics().at(0).message == "cannot read file: Is a directory");
  }
}

BOOST_AUTO_TEST_CASE(oversized_file_is_refused_before_reading) {
  const TempDir directory;
  const std::string path = directory.write("big.yaml", "a: " + std::string(100, 'x') + "\n");
  LoadLimits limits;
  limits.bytes_max = 50;
  try {
    load_yaml_file(path, limits);
    BOOST_FAIL("expected a DefinitionError");
  } catch (const DefinitionError& error) {
    BOOST_TEST(error.diagnostics().at(0).message == "file is 104 bytes; the limit is 50 bytes");
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(diagnostics)

BOOST_AUTO_TEST_CASE(to_string_format) {
  BOOST_TEST((Diagnostic{"w.yaml", {3, 7}, "/a", "bad thing"}.to_string() == "w.yaml:3:7: bad thing"));
  BOOST_TEST(
      (Diagnostic{"w.yaml", {0, 0}, "", "cannot read file"}.to_string() == "w.yaml: cannot read file"));
  BOOST_TEST((Diagnostic{"w.yaml", {4, 0}, "", "no column"}.to_string() == "w.yaml:4: no column"));
}

BOOST_AUTO_TEST_CASE(definition_error_joins_all_diagnostics) {
  const DefinitionError error(
      {Diagnostic{"a.yaml", {1, 2}, "", "first"}, Diagnostic{"a.yaml", {3, 4}, "", "second"}});
  BOOST_TEST(std::string(error.what()) == "a.yaml:1:2: first\na.yaml:3:4: second");
  BOOST_TEST(error.diagnostics().size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
