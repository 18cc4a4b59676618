// compile_definition(): the workflow level of the compiler (root keys, document, evaluate, use).
// Tasks are compiled in compiler_tasks.cpp, values and policies in compiler_support.cpp.
#include "flightplan/engine/compiler.hpp"

#include <algorithm>
#include <climits>
#include <regex>
#include <tuple>

#include "compiler_context.hpp"
#include "flightplan/engine/hash.hpp"

namespace flightplan::engine {

namespace compiler_detail {

Compiler::Compiler(const SourceDocument& document, const CompileOptions& options)
    : document_(document), options_(options) {
  root_scope_.variables.assign(std::begin(standard_variables), std::end(standard_variables));
}

DefinitionPtr Compiler::compile() {
  auto definition = std::make_shared<Definition>();
  compile_root(document_.root, *definition);
  // All of the definition's expressions in one go: jq parses its builtin library once (ExpressionBatch).
  expressions_.compile();
  if (!diagnostics_.empty()) {
    // Document order: a reader fixes problems top to bottom. Unknown positions go last.
    const auto order = [](const Diagnostic& d) {
      return std::tuple(d.position.line == 0 ? INT_MAX : d.position.line, d.position.column);
    };
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                     [&](const Diagnostic& a, const Diagnostic& b) { return order(a) < order(b); });
    diagnostics_.erase(std::unique(diagnostics_.begin(), diagnostics_.end(),
                                   [](const Diagnostic& a, const Diagnostic& b) {
                                     return a.pointer == b.pointer && a.message == b.message;
                                   }),
                       diagnostics_.end());
    throw DefinitionError(std::move(diagnostics_));
  }
  definition->retries = retries_;
  definition->errors = errors_;
  definition->functions = functions_;
  for (const auto& task : tasks_) definition->tasks.push_back(task.get());
  definition->source_file = document_.file;
  definition->source_text = document_.text;
  definition->digest = fnv1a_64_hex(document_.text);
  index_task_lists(*definition);
  return definition;
}

void Compiler::compile_root(const json& root, Definition& definition) {
  const Where at;
  if (!root.is_object()) {
    report("", "expected a mapping for the workflow document, got " + describe_kind(root));
    return;
  }
  check_keys(root, at,
             {"document", "input", "use", "do", "timeout", "output", "evaluate", "metadata", "schedule"});
  if (root.contains("schedule")) report("/schedule", "'schedule' is not supported by flightplan yet");
  if (const json* document = member(root, "document", at, true)) {
    compile_document(*document, at.child("document"), definition.document);
  }
  if (const json* evaluate = member(root, "evaluate", at)) compile_evaluate(*evaluate, at.child("evaluate"));
  // `use` first: tasks refer to its retries, errors, timeouts and functions by name.
  if (const json* use = member(root, "use", at)) compile_use(*use, at.child("use"));
  if (const json* input = member(root, "input", at)) {
    definition.input_from =
        transform(*input, at.child("input"), root_scope_, "from", &definition.input_schema);
  }
  if (const json* limit = member(root, "timeout", at)) {
    definition.timeout = timeout(*limit, at.child("timeout"), root_scope_);
  }
  if (const json* output = member(root, "output", at)) {
    definition.output_as = transform(*output, at.child("output"), root_scope_, "as", nullptr);
  }
  if (const json* tasks = member(root, "do", at, true)) {
    definition.do_ = task_list(*tasks, at.child("do"), root_scope_);
  }
}

void Compiler::compile_document(const json& value, const Where& at, DocumentInfo& info) {
  if (!expect(value, JsonKind::mapping, at)) return;
  check_keys(value, at, {"dsl", "namespace", "name", "version", "title", "summary", "tags", "metadata"});
  if (const auto dsl = string_member(value, "dsl", at, true)) {
    static const std::regex supported("^1\\.0\\.(0|[1-9][0-9]*)$");
    if (std::regex_match(*dsl, supported)) {
      info.dsl = *dsl;
    } else {
      report(at.child("dsl").pointer, "unsupported DSL version '" + *dsl +
                                          "' in 'document.dsl' (flightplan supports 1.0.x, e.g. '1.0.0')");
    }
  }
  compile_document_name(value, at, "namespace", info.namespace_);
  compile_document_name(value, at, "name", info.name);
  if (const auto version = string_member(value, "version", at, true)) {
    static const std::regex semver(
        "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)"
        "(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$");
    if (std::regex_match(*version, semver)) {
      info.version = *version;
    } else {
      report(at.child("version").pointer,
             "invalid version '" + *version +
                 "' for 'document.version': expected a semantic version such as '1.2.0'");
    }
  }
  info.title = string_member(value, "title", at).value_or("");
  info.summary = string_member(value, "summary", at).value_or("");
  if (const json* tags = member(value, "tags", at);
      tags && expect(*tags, JsonKind::mapping, at.child("tags"))) {
    for (const auto& [key, tag] : tags->items()) {
      if (expect(tag, JsonKind::string, at.child("tags").child(key))) info.tags[key] = tag.get<std::string>();
    }
  }
}

void Compiler::compile_document_name(const json& object, const Where& at, std::string_view key,
                                     std::string& out) {
  const auto name = string_member(object, key, at, true);
  if (!name) return;
  static const std::regex label("^[a-z0-9](-*[a-z0-9])*$");
  if (name->size() <= 63 && std::regex_match(*name, label)) {
    out = *name;
    return;
  }
  report(at.child(key).pointer,
         "invalid " + std::string(key) + " '" + *name + "' for " + at.child(key).label() +
             ": expected an RFC 1123 label (lowercase letters, digits and '-', starting and "
             "ending with a letter or digit, at most 63 characters)");
}

void Compiler::compile_evaluate(const json& value, const Where& at) {
  if (!expect(value, JsonKind::mapping, at)) return;
  check_keys(value, at, {"language", "mode"});
  if (const auto language = string_member(value, "language", at); language && *language != "jq") {
    report(at.child("language").pointer, "unsupported expression language '" + *language +
                                             "' for 'evaluate.language' (flightplan supports jq)");
  }
  if (const auto mode = string_member(value, "mode", at)) {
    if (*mode == "loose") {
      report(at.child("mode").pointer,
             "evaluate.mode 'loose' is not supported by flightplan yet (use 'strict')");
    } else if (*mode != "strict") {
      report(at.child("mode").pointer, "expected 'strict' for 'evaluate.mode', got '" + *mode + "'");
    }
  }
}

void Compiler::compile_use(const json& value, const Where& at) {
  if (!expect(value, JsonKind::mapping, at)) return;
  check_keys(
      value, at,
      {"retries", "errors", "functions", "timeouts", "authentications", "catalogs", "extensions", "secrets"});
  for (std::string_view key : {"authentications", "catalogs", "extensions", "secrets"}) {
    if (value.contains(key)) {
      report(at.child(key).pointer, "use." + std::string(key) + " is not supported by flightplan yet");
    }
  }
  if (const json* timeouts = member(value, "timeouts", at)) {
    compile_use_timeouts(*timeouts, at.child("timeouts"));
  }
  if (const json* retries = member(value, "retries", at)) compile_use_retries(*retries, at.child("retries"));
  if (const json* errors = member(value, "errors", at)) compile_use_errors(*errors, at.child("errors"));
  if (const json* functions = member(value, "functions", at)) {
    compile_use_functions(*functions, at.child("functions"));
  }
}

void Compiler::compile_use_timeouts(const json& value, const Where& at) {
  if (!expect(value, JsonKind::mapping, at)) return;
  for (const auto& [name, entry] : value.items()) {
    const Where entry_at = at.child(name);
    if (!expect(entry, JsonKind::mapping, entry_at)) continue;
    check_keys(entry, entry_at, {"after"});
    const json* after = member(entry, "after", entry_at, true);
    if (after == nullptr) continue;
    if (auto spec = duration(*after, entry_at.child("after"), root_scope_)) {
      timeouts_[name] = std::move(*spec);
    }
  }
}

void Compiler::compile_use_retries(const json& value, const Where& at) {
  if (!expect(value, JsonKind::mapping, at)) return;
  for (const auto& [name, entry] : value.items()) {
    RetryPolicy policy = retry_policy(entry, at.child(name), root_scope_);
    policy.name = name;
    retries_[name] = std::move(policy);
  }
}

void Compiler::compile_use_errors(const json& value, const Where& at) {
  if (!expect(value, JsonKind::mapping, at)) return;
  for (const auto& [name, entry] : value.items()) {
    ErrorTemplate error = error_definition(entry, at.child(name), root_scope_);
    error.name = name;
    errors_[name] = std::move(error);
  }
}

void Compiler::compile_use_functions(const json& value, const Where& at) {
  if (!expect(value, JsonKind::mapping, at)) return;
  functions_json_ = &value;
  for (const auto& [name, entry] : value.items()) function(name);
}

// Compiles use.functions[name] on first use. Returns null while that function is being compiled
// (a call cycle, reported by the caller) or when it does not compile into a task.
std::shared_ptr<const Task> Compiler::function(const std::string& name) {
  if (const auto found = functions_.find(name); found != functions_.end()) return found->second;
  if (functions_in_progress_.count(name) > 0) return nullptr;
  functions_in_progress_.insert(name);
  Scope scope = root_scope_;
  scope.in_function = true;
  const ListInfo list{"/use/functions", {}};
  const Where at{"/use/functions/" + escape_pointer_token(name), "", "function '" + name + "'"};
  auto compiled = task(name, functions_json_->at(name), at, list, scope);
  functions_in_progress_.erase(name);
  functions_[name] = compiled;
  return compiled;
}

}  // namespace compiler_detail

DefinitionPtr compile_definition(const SourceDocument& document, const CompileOptions& options) {
  compiler_detail::Compiler compiler(document, options);
  return compiler.compile();
}

}  // namespace flightplan::engine
