#pragma once
// Runtime expressions: jq programs evaluated with libjq. Expressions are compiled once and evaluated
// many times with different input and variables. The compiler puts all the expressions of one
// definition in one ExpressionBatch, which compiles them into one libjq program (jq 1.6 parses its whole
// builtin library on every compile); Expression::compile is a batch of one. libjq types never leak out
// of expression.cpp.
//
// Determinism: programs are compiled with jq's clock, environment and I/O builtins (`now`, `env`,
// `$ENV`, `input`, `inputs`, `debug`, `stderr`, `input_filename`, `halt`, `halt_error`, ...) replaced
// by definitions that raise an error, so an expression is a pure function of its arguments.
//
// Budgets: every evaluation runs under a memory budget (deterministic: the same program and input
// always count the same bytes) and may be stopped from another thread through an EvaluationControl
// (the runtime's time budget). A runaway expression fails with an ExpressionError, never takes the
// process down and never keeps its thread. docs/engine.md, "Bounded expressions", says how.
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace flightplan::engine {

// A jq variable binding for one evaluation: `$name` -> value. The pointer must outlive evaluate().
struct Binding {
  std::string_view name;
  const nlohmann::json* value;
};
using Bindings = std::span<const Binding>;

class ExpressionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
class EvaluationScope;
struct JqProgram;
}

// The memory one evaluation may use unless told otherwise (EngineLimits::expression_memory_bytes_max).
inline constexpr std::size_t expression_memory_bytes_max_default = std::size_t{64} << 20;

// Stops evaluations from another thread: the runtime arms one per step with its time budget
// (runtime::ExpressionWatchdog) and passes it to engine::apply. The engine reads no clock: it only
// reacts to interrupt().
class EvaluationControl {
 public:
  // `time_budget_ms` is what the error message reports when interrupt() is called; 0 reports a plain
  // interruption.
  explicit EvaluationControl(std::int64_t time_budget_ms = 0) noexcept : time_budget_ms_(time_budget_ms) {}
  EvaluationControl(const EvaluationControl&) = delete;
  EvaluationControl& operator=(const EvaluationControl&) = delete;

  // Callable from any thread at any time, idempotent. The evaluation running under this control
  // stops at its next jq instruction (or at the next check inside a long builtin) with an
  // ExpressionError, and every later evaluation under this control fails at once.
  void interrupt() noexcept;
  bool interrupted() const noexcept { return interrupted_.load(std::memory_order_acquire); }
  std::int64_t time_budget_ms() const noexcept { return time_budget_ms_; }

 private:
  friend class detail::EvaluationScope;
  std::atomic<bool> interrupted_{false};
  // Guards running_ and halted_. libjq's jq_halt() asserts that it is called once per run, and the
  // evaluating thread (memory budget) and another thread (interrupt) may both want to call it.
  std::mutex mutex_;
  void* running_ = nullptr;  // the jq_state evaluating under this control, if any
  bool halted_ = false;      // jq_halt() was called on running_
  std::int64_t time_budget_ms_;
};

// The limits of one evaluation.
struct EvaluationBudget {
  std::size_t memory_bytes_max = expression_memory_bytes_max_default;
  EvaluationControl* control = nullptr;  // optional: lets another thread interrupt the evaluation
};

// The variables every expression may use (the DSL's runtime expression arguments).
// Scoped variables (a `for` loop's `each`/`at`, a `catch`'s `as`) are added by the compiler.
inline constexpr std::string_view standard_variables[] = {"context", "input",   "output", "task",
                                                          "workflow", "runtime", "secrets"};

class Expression {
 public:
  // Compiles `source` (the text inside `${ }`, or a bare expression). `variables` are the names
  // (without `$`) that evaluate() may bind; referring to any other variable is a compile error.
  // Throws ExpressionError with jq's message when the program does not compile.
  static std::shared_ptr<const Expression> compile(std::string_view source,
                                                   const std::vector<std::string>& variables);
  ~Expression();
  Expression(const Expression&) = delete;
  Expression& operator=(const Expression&) = delete;

  // Evaluates against `input`. Variables not present in `bindings` are bound to null. Returns the
  // first value the program produces, or null when it produces none. Throws ExpressionError when
  // evaluation raises an error, exceeds `budget` or is interrupted (the message names the expression).
  // The input, the variables and the result count against the memory budget too.
  // Thread-safe, but the expressions compiled into one program (one batch) share a jq_state, so their
  // evaluations run one at a time.
  // Precondition: compiled (an expression from ExpressionBatch::add, once the batch has compiled).
  nlohmann::json evaluate(const nlohmann::json& input, Bindings bindings, const EvaluationBudget& budget = {}) const;

  // True when the first produced value is truthy in jq's sense (anything but false and null).
  bool test(const nlohmann::json& input, Bindings bindings, const EvaluationBudget& budget = {}) const;

  const std::string& source() const { return source_; }

 private:
  friend class ExpressionBatch;
  Expression(std::string source, std::vector<std::string> variables);
  nlohmann::json run(const nlohmann::json& input, Bindings bindings, detail::EvaluationScope& scope) const;
  std::string stop_message(const detail::EvaluationScope& scope) const;
  std::string source_;
  std::vector<std::string> variables_;  // the variables the source mentions, in binding order
  // Set once, by ExpressionBatch::compile(), before the expression is evaluated or shared.
  std::shared_ptr<detail::JqProgram> program_;
  std::size_t index_in_program_ = 0;
};
using ExpressionPtr = std::shared_ptr<const Expression>;

// Compiles many expressions together: the compiler adds every expression of a definition, then
// compiles the batch once. The expressions share libjq programs (up to expressions_per_program_max
// distinct ones each; identical ones share a part), so that jq parses and binds its builtin library
// once per program rather than once per expression, which cost about 25 ms each. Each expression
// evaluates exactly as if compiled alone, and a failing one gets the message Expression::compile
// would throw. The price is at evaluation: reaching an expression among n costs log2(n) jq `if`s,
// about 2,500 instructions each (docs/benchmarks.md). Not thread-safe; the compiled expressions are
// (see Expression::evaluate).
class ExpressionBatch {
 public:
  // Receives the message Expression::compile would throw for one expression.
  using ErrorHandler = std::function<void(const std::string& message)>;

  // More distinct expressions are split into several programs: this bounds the size of one program.
  static constexpr std::size_t expressions_per_program_max = 256;

  ExpressionBatch() = default;
  ExpressionBatch(const ExpressionBatch&) = delete;
  ExpressionBatch& operator=(const ExpressionBatch&) = delete;

  // Adds `source` with the variables it may use (as Expression::compile). The expression may be
  // evaluated once compile() has run and not reported it. Returns nullptr, and the reason reaches
  // `on_error` in compile(), when the source is refused before jq sees it (empty, reserved names,
  // invalid variable names).
  ExpressionPtr add(std::string_view source, const std::vector<std::string>& variables,
                    ErrorHandler on_error);

  // Compiles the expressions added since the last call. Reports each that does not compile to its
  // handler, in the order they were added, once all are compiled; the others are ready to evaluate.
  // Does not throw ExpressionError (a handler may throw; the later handlers are then not called).
  void compile();

 private:
  struct Entry {
    std::shared_ptr<Expression> expression;  // null when refused by add()
    ErrorHandler on_error;
    std::string error;  // the message for on_error; empty while none
  };
  struct Part;
  // Gives `part` a program of its own, or its error.
  static void compile_alone(Part& part);
  // Gives the parts of `group` one program; false, changing nothing, when it does not compile.
  static bool compile_together(std::span<Part* const> group);
  std::vector<Entry> entries_;
};

// If `text` is a runtime expression `${ ... }` (surrounding whitespace allowed), returns the inner
// program text; otherwise returns nullopt.
std::optional<std::string_view> unwrap_expression(std::string_view text);

// A JSON value in which any string of the form `${ ... }` is an expression, at any depth. Rendering
// replaces each such string by the expression's result. Constant templates render without jq.
class ValueTemplate {
 public:
  struct CompileError {
    std::string pointer;  // JSON pointer, relative to the template root, of the failing string
    std::string message;
  };

  // Receives each expression of the template that does not compile (see ExpressionBatch).
  using ErrorHandler = std::function<void(const CompileError& error)>;

  ValueTemplate() = default;
  // Compiles every expression in `value`. On failure throws CompileError (first failure).
  static ValueTemplate compile(const nlohmann::json& value, const std::vector<std::string>& variables);
  // Compiles a value that must be an expression (a string, with or without `${ }`), as `if`, `when`,
  // `for.in`, `input.from` strings etc. are; a non-string value is a constant.
  static ValueTemplate compile_expression(const nlohmann::json& value,
                                          const std::vector<std::string>& variables);
  // The same, adding the expressions to `batch`: the template may be rendered once the batch has
  // compiled, and each failing expression reaches `on_error` then.
  static ValueTemplate compile(const nlohmann::json& value, const std::vector<std::string>& variables,
                               ExpressionBatch& batch, const ErrorHandler& on_error);
  static ValueTemplate compile_expression(const nlohmann::json& value,
                                          const std::vector<std::string>& variables, ExpressionBatch& batch,
                                          const ErrorHandler& on_error);

  // Each expression is evaluated under `budget` (its own memory budget, the shared control).
  nlohmann::json render(const nlohmann::json& input, Bindings bindings, const EvaluationBudget& budget = {}) const;
  bool is_constant() const { return expressions_.empty(); }
  const nlohmann::json& raw() const { return raw_; }

 private:
  struct Slot {
    nlohmann::json::json_pointer pointer;
    ExpressionPtr expression;
  };
  nlohmann::json raw_;
  std::vector<Slot> expressions_;
};

}  // namespace flightplan::engine
