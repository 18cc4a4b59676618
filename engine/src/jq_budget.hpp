#pragma once
// Private to the engine: the C-level half of the expression sandbox (expression.cpp holds the jq half,
// the prelude). libjq 1.6 has no limits of its own, so this file replaces a few of its exported
// functions from inside our executables. libjq calls them through its PLT (it is built with semantic
// interposition), so the dynamic linker binds its calls to our definitions:
//
// - jv_mem_alloc, jv_mem_calloc, jv_mem_realloc, jv_mem_strdup, jv_mem_free and the unguarded
//   variants: every byte libjq allocates on a thread that runs an EvaluationScope is counted against
//   that evaluation's memory budget. Past the budget the program is halted at its next instruction.
// - jv_free: made iterative. libjq frees nested values recursively and overflows the C stack (SIGSEGV)
//   on a value a few hundred thousand levels deep, which a ten-megabyte `reduce` can build.
// - jv_dump_string (tojson, tostring, string interpolation, @formats, error messages): refuses a
//   value whose text would not fit in the remaining budget before printing it. A value that shares
//   itself (`reduce range(40) as $i (1; [., .])`) is small in memory but prints 2^40 leaves.
// - jv_array_set: refuses to pad an array past the remaining budget (`.[1e9] = 1` asks for 16 GB in
//   one allocation).
// - jv_cmp, jv_equal, jv_object_merge_recursive, jv_array_indexes: within an evaluation, libjq 1.6's
//   own algorithm, with a stop check per value. They walk values in one builtin call, where no jq
//   instruction boundary comes: a value that shares itself takes 2^40 steps, and `.[$array]` n*m.
//   jv_contains (which libjq recurses through) stops the same way and gets a depth limit libjq lacks.
// - jv_string_append_buf, _str, _codepoint, jv_string_concat: stop growing the string once the
//   evaluation is stopped, so that a builtin looping over its input (the escaping @formats) cannot
//   outgrow the budget by more than one step.
// - jv_string_split, jv_string_explode, jv_string_indexes, jv_parse_sized: refuse a call whose result
//   cannot fit in the remaining budget, computed from the input before the call (and an empty needle,
//   for which libjq 1.6's indices never returns).
//
// - Oniguruma's match stack, which it allocates itself, is capped process-wide (jq_budget.cpp).
//
// The counted figure is deterministic: it depends only on the sizes libjq asks for, which depend only
// on the program and its input (docs/engine.md, "Bounded expressions", has the one caveat).
//
// Tests check that the interposition is active (`jq_interposition_active`); the engine target exports
// the symbols from every executable that links it (engine/CMakeLists.txt).
#include "flightplan/engine/expression.hpp"

extern "C" {
#include <jq.h>
#include <jv.h>
}

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace flightplan::engine::detail {

// Why an evaluation stopped early.
enum class StopReason { none, memory, nesting, interrupted };

// Nesting deeper than this is refused by the builtins libjq does not limit itself (libjq's own
// comparison, equality, merge and path limits are the same).
inline constexpr int value_depth_max = 10'000;

// Bytes charged per allocation on top of its size: glibc's chunk header and rounding, plus the two
// slots of the accounting table the allocation may occupy. Charged as a function of the requested
// size only, so the count does not depend on the state of the heap.
std::size_t charged_bytes(std::size_t requested_bytes) noexcept;

// One evaluation's budget on the calling thread. While it lives, every allocation libjq makes on this
// thread is charged to it, and a stop (memory, nesting, or the control's interrupt) halts the jq
// program that attach() named. Scopes do not nest. Not movable: the hooks find it through a
// thread-local pointer.
class EvaluationScope {
 public:
  explicit EvaluationScope(const EvaluationBudget& budget);
  ~EvaluationScope();
  EvaluationScope(const EvaluationScope&) = delete;
  EvaluationScope& operator=(const EvaluationScope&) = delete;

  // The scope running on this thread, if any.
  static EvaluationScope* current() noexcept;

  // From now until detach(), a stop halts `jq` at its next instruction (the caller has called
  // jq_start). Returns false, attaching nothing, when the control was interrupted already.
  bool attach(jq_state* jq);
  // Precondition: attach() returned true. After it the control no longer touches the jq_state, so
  // the caller may restart it.
  void detach();

  // The first reason this evaluation stopped for; a memory or nesting stop wins over an interrupt
  // that came later, so that a deterministic failure is reported deterministically.
  StopReason stop_reason() const noexcept;
  bool stopping() const noexcept { return stop_reason() != StopReason::none; }
  // Stopped while the program runs: the libjq call in progress only has to finish, its result unused.
  bool winding_down() const noexcept { return attached_ && stopping(); }

  std::size_t memory_bytes_max() const noexcept { return memory_bytes_max_; }
  std::size_t live_bytes() const noexcept { return live_bytes_; }
  std::size_t peak_bytes() const noexcept { return peak_bytes_; }
  // Bytes still available; 0 once over the budget.
  std::size_t remaining_bytes() const noexcept;
  const EvaluationControl* control() const noexcept { return control_; }

  // Charges memory the engine itself allocates for this evaluation (the result's JSON). Returns false,
  // recording a memory stop, when the budget is exceeded. Never given back: the result is kept.
  bool charge(std::size_t bytes) noexcept;
  // Records a stop found by a hook and halts the attached program.
  void stop(StopReason reason) noexcept;

  // The allocation hooks (jq_budget.cpp).
  // Blocks are known by their address as an integer: realloc() may have freed the old block already.
  void on_allocate(std::uintptr_t address, std::size_t requested_bytes) noexcept;
  void on_release(std::uintptr_t address) noexcept;
  void on_reallocate(std::uintptr_t old_address, std::uintptr_t address, std::size_t requested_bytes) noexcept;

 private:
  class Table;
  void add(std::size_t bytes) noexcept;
  void halt_attached() noexcept;

  EvaluationControl own_control_;  // used when the budget names no control
  EvaluationControl* control_;
  std::size_t memory_bytes_max_;
  std::size_t live_bytes_ = 0;
  std::size_t peak_bytes_ = 0;
  StopReason local_stop_ = StopReason::none;  // memory or nesting, found on this thread
  bool attached_ = false;                     // between attach() and detach()
  Table* table_ = nullptr;                    // allocations made in this scope and not yet freed
};

// Renders `value` (consumed) as jq would print it with flags 0, unless its text would not fit in
// `bytes_max`; then returns nullopt. Safe on values that share themselves.
std::optional<std::string> bounded_dump(jv value, std::size_t bytes_max);

// True when libjq's allocations reach the hooks above (the executable exports them and libjq binds
// its calls to them). Evaluations refuse to run without it. The first call also caps Oniguruma's
// match stack.
bool jq_interposition_active();

}  // namespace flightplan::engine::detail
