// The C-level half of the expression sandbox: see jq_budget.hpp for what is replaced and why.
//
// Rules for everything below that libjq calls (the extern "C" definitions): no exception may leave
// (they run inside libjq's C frames), and each must keep the contract of the libjq function it
// replaces, including which arguments it consumes.
#include "jq_budget.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace flightplan::engine {
namespace detail {
namespace {

// Budgets are clamped to this: `__fp_refuse` in the prelude asks for array index 2^31 - 1 (32 GiB of
// padding), which must always be more than the remaining budget.
constexpr std::size_t memory_bytes_max_limit = std::size_t{16} << 30;

// Array indexes below this are never checked: their padding is small and counted by the hooks.
constexpr int padding_check_min = 1024;

// libjq prints nothing deeper than this (Debian's patched jv_dump_term); deeper values become this
// placeholder.
constexpr int print_depth_max = 256;
constexpr std::size_t stripped_placeholder_bytes = sizeof("<stripped: exceeds max depth>") - 1;

thread_local EvaluationScope* current_scope = nullptr;

// Blocks are counted by address, as integers.
std::uintptr_t address_of(const void* pointer) { return reinterpret_cast<std::uintptr_t>(pointer); }

[[noreturn]] void out_of_memory() {
  // What libjq itself does when malloc fails (jv_alloc.c): there is no way to fail a jv_mem_alloc.
  std::fputs("jq: error: cannot allocate memory\n", stderr);
  std::abort();
}

// libjq's own definitions of the functions replaced below, found after ours in the lookup order.
struct Libjq {
  void (*free)(jv);
  jv (*dump_string)(jv, int);
  jv (*array_set)(jv, int, jv);
  int (*cmp)(jv, jv);
  int (*equal)(jv, jv);
  int (*contains)(jv, jv);
  jv (*object_merge_recursive)(jv, jv);
  jv (*array_indexes)(jv, jv);
  jv (*string_split)(jv, jv);
  jv (*string_explode)(jv);
  jv (*string_indexes)(jv, jv);
  jv (*parse_sized)(const char*, int);
  jv (*string_append_buf)(jv, const char*, int);
  jv (*string_append_str)(jv, const char*);
  jv (*string_append_codepoint)(jv, uint32_t);
  jv (*string_concat)(jv, jv);
};

template <typename Function>
Function next_definition(const char* name, Function ours) noexcept {
  void* symbol = dlsym(RTLD_NEXT, name);
  if (symbol == nullptr || symbol == reinterpret_cast<void*>(ours)) {
    std::fprintf(stderr, "flightplan: libjq's %s cannot be found behind ours\n", name);
    std::abort();
  }
  return reinterpret_cast<Function>(symbol);
}

const Libjq& libjq() noexcept {
  static const Libjq functions{
      next_definition("jv_free", &::jv_free),
      next_definition("jv_dump_string", &::jv_dump_string),
      next_definition("jv_array_set", &::jv_array_set),
      next_definition("jv_cmp", &::jv_cmp),
      next_definition("jv_equal", &::jv_equal),
      next_definition("jv_contains", &::jv_contains),
      next_definition("jv_object_merge_recursive", &::jv_object_merge_recursive),
      next_definition("jv_array_indexes", &::jv_array_indexes),
      next_definition("jv_string_split", &::jv_string_split),
      next_definition("jv_string_explode", &::jv_string_explode),
      next_definition("jv_string_indexes", &::jv_string_indexes),
      next_definition("jv_parse_sized", &::jv_parse_sized),
      next_definition("jv_string_append_buf", &::jv_string_append_buf),
      next_definition("jv_string_append_str", &::jv_string_append_str),
      next_definition("jv_string_append_codepoint", &::jv_string_append_codepoint),
      next_definition("jv_string_concat", &::jv_string_concat),
  };
  return functions;
}

// Values whose freeing was put off while a jv_free ran on this thread. Trivially destructible, so a
// jv_free during thread exit still finds it usable.
struct DeferredFrees {
  static constexpr std::size_t inline_capacity = 64;
  jv inline_values[inline_capacity];
  jv* heap_values;  // the values past the inline ones
  std::size_t heap_capacity;
  std::size_t size;
  bool active;  // a jv_free is running on this thread

  bool push(jv value) noexcept {
    if (size < inline_capacity) {
      inline_values[size++] = value;
      return true;
    }
    const std::size_t at = size - inline_capacity;
    if (at == heap_capacity) {
      const std::size_t capacity = std::max<std::size_t>(256, heap_capacity * 2);
      void* grown = std::realloc(heap_values, capacity * sizeof(jv));
      if (grown == nullptr) return false;
      heap_values = static_cast<jv*>(grown);
      heap_capacity = capacity;
    }
    heap_values[at] = value;
    ++size;
    return true;
  }

  bool pop(jv& value) noexcept {
    if (size == 0) return false;
    --size;
    value = size < inline_capacity ? inline_values[size] : heap_values[size - inline_capacity];
    return true;
  }

  void release_heap() noexcept {
    std::free(heap_values);
    heap_values = nullptr;
    heap_capacity = 0;
  }
};
thread_local DeferredFrees deferred_frees;

// Nesting depth of jv_contains on this thread (libjq recurses through our definition).
thread_local int contains_depth = 0;

// Saturating addition: sizes of shared values overflow any integer.
std::size_t add_saturated(std::size_t a, std::size_t b) noexcept {
  return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

std::size_t printed_number_bytes(double number) noexcept {
  // libjq prints integers below 1e17 with all their digits, anything else in at most 24 characters
  // ("-1.7976931348623157e+308").
  if (!std::isfinite(number) || std::trunc(number) != number || std::fabs(number) >= 1e17) return 24;
  std::size_t digits = 1;
  for (double rest = std::fabs(number); rest >= 10; rest /= 10) ++digits;
  return digits + (std::signbit(number) ? 1 : 0);
}

std::size_t printed_string_bytes(jv string, int flags) noexcept {
  const char* bytes = jv_string_value(string);
  const int length = jv_string_length_bytes(jv_copy(string));
  std::size_t total = 2;  // the quotes
  for (int i = 0; i < length; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') total += 2;
    else if (c < 0x20 || c == 0x7f) total += 6;                       // \u00XX
    else if (c >= 0x80 && (flags & JV_PRINT_ASCII) != 0) total += 12;  // at most a surrogate pair per byte
    else total += 1;
  }
  return total;
}

// An upper bound, close for the flags libjq's builtins use (0), on the length of jv_dump_string's
// output, computed without printing. Stops counting past `limit`. Containers are memoised by identity,
// so a value that shares itself costs its size in memory, not its printed size.
class PrintedSize {
 public:
  PrintedSize(int flags, std::size_t limit, const EvaluationScope* scope)
      : flags_(flags), limit_(limit), scope_(scope) {}

  // Borrows `value`; `held` is the number of references to it the caller took to look at it.
  std::size_t of(jv value, int depth, int held = 0) {
    const jv_kind kind = jv_get_kind(value);
    std::size_t decoration = 0;
    if ((flags_ & (JV_PRINT_COLOR | JV_PRINT_REFCOUNT | JV_PRINT_INVALID)) != 0) decoration += 32;
    switch (kind) {
      case JV_KIND_INVALID: return decoration + 32;
      case JV_KIND_NULL: return decoration + 4;
      case JV_KIND_FALSE: return decoration + 5;
      case JV_KIND_TRUE: return decoration + 4;
      case JV_KIND_NUMBER: return decoration + printed_number_bytes(jv_number_value(value));
      case JV_KIND_STRING: return decoration + printed_string_bytes(value, flags_);
      case JV_KIND_ARRAY:
      case JV_KIND_OBJECT: break;
    }
    if (depth > print_depth_max) return decoration + stripped_placeholder_bytes;
    // Only a container referenced more than once can be met again. Its identity is read from the jv's
    // fields, which jv.h calls private; they are only compared, never interpreted.
    const bool shared = jv_get_refcnt(value) > 1 + held;
    const Key key{value.kind_flags, value.offset, value.size, value.u.ptr, depth};
    if (shared)
      if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    const std::size_t size =
        add_saturated(decoration, kind == JV_KIND_ARRAY ? of_array(value, depth) : of_object(value, depth));
    if (shared && memo_.size() < memo_entries_max) memo_.emplace(key, size);
    return size;
  }

 private:
  struct Key {
    unsigned char kind_flags;
    unsigned short offset;
    int size;
    const void* pointer;
    int depth;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& key) const noexcept {
      return std::hash<const void*>()(key.pointer) ^ (static_cast<std::size_t>(key.offset) << 1) ^
             (static_cast<std::size_t>(key.size) << 17) ^ (static_cast<std::size_t>(key.depth) << 40);
    }
  };
  static constexpr std::size_t memo_entries_max = 65'536;

  // Per element: a separator, and with pretty printing a newline and the indentation.
  std::size_t element_overhead(int depth) const {
    if ((flags_ & JV_PRINT_PRETTY) == 0) return 1;
    return 3 + 8 * static_cast<std::size_t>(depth + 1);
  }

  bool stop_counting(std::size_t size) const {
    return size > limit_ || (scope_ != nullptr && scope_->stopping());
  }

  std::size_t of_array(jv array, int depth) {
    std::size_t size = 2 + element_overhead(depth);
    const int length = jv_array_length(jv_copy(array));
    for (int i = 0; i < length && !stop_counting(size); ++i) {
      jv element = jv_array_get(jv_copy(array), i);
      size = add_saturated(size, add_saturated(element_overhead(depth), of(element, depth + 1, 1)));
      jv_free(element);
    }
    return size;
  }

  std::size_t of_object(jv object, int depth) {
    std::size_t size = 2 + element_overhead(depth);
    for (int it = jv_object_iter(object); jv_object_iter_valid(object, it) && !stop_counting(size);
         it = jv_object_iter_next(object, it)) {
      jv key = jv_object_iter_key(object, it);
      jv element = jv_object_iter_value(object, it);
      size = add_saturated(size, element_overhead(depth) + 2 + printed_string_bytes(key, flags_));
      size = add_saturated(size, of(element, depth + 1, 1));
      jv_free(key);
      jv_free(element);
    }
    return size;
  }

  int flags_;
  std::size_t limit_;
  const EvaluationScope* scope_;
  std::unordered_map<Key, std::size_t, KeyHash> memo_;
};

// True when jv_dump_string(value, flags) fits in `limit` bytes. Borrows `value`.
bool printed_size_fits(jv value, int flags, std::size_t limit, const EvaluationScope* scope) noexcept {
  try {
    return PrintedSize(flags, limit, scope).of(value, 0) <= limit;
  } catch (...) {
    return false;  // out of memory for the memo: treat as too large
  }
}

// Upper bounds on what one call of a libjq builtin that builds many values at once allocates (charged
// bytes, see charged_bytes), computed from its input before the call, so that a call whose result
// cannot fit is refused instead of run. The constants are checked against measured peaks by
// tests/unit/expression_budget_test.cpp.

// Occurrences of `needle` (not empty) in `text`, not overlapping, as libjq counts them.
std::size_t occurrences(const char* text, std::size_t text_bytes, const char* needle, std::size_t needle_bytes) {
  std::size_t count = 0;
  for (const char* at = text; at < text + text_bytes;) {
    const void* found = memmem(at, static_cast<std::size_t>(text + text_bytes - at), needle, needle_bytes);
    if (found == nullptr) break;
    ++count;
    at = static_cast<const char*>(found) + needle_bytes;
  }
  return count;
}

std::size_t codepoints(const char* text, std::size_t bytes) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < bytes; ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++count;  // jq strings are valid UTF-8
  return count;
}

// jv_string_split: one string and one array slot per piece.
constexpr std::size_t split_piece_bytes = 160;
std::size_t split_bytes(jv text, jv separator) {
  const char* bytes = jv_string_value(text);
  const auto length = static_cast<std::size_t>(jv_string_length_bytes(jv_copy(text)));
  const auto separator_length = static_cast<std::size_t>(jv_string_length_bytes(jv_copy(separator)));
  const std::size_t pieces = separator_length == 0
                                 ? codepoints(bytes, length)
                                 : occurrences(bytes, length, jv_string_value(separator), separator_length) + 2;
  return length + pieces * split_piece_bytes + 512;
}

// jv_string_explode: one array slot per byte, allocated at once.
std::size_t explode_bytes(jv text) {
  return 16 * static_cast<std::size_t>(jv_string_length_bytes(jv_copy(text))) + 128;
}

// jv_string_indexes: one array slot per occurrence.
constexpr std::size_t index_entry_bytes = 40;

// jv_parse_sized: a container per bracket, at most one value and key per byte or two.
constexpr std::size_t parsed_container_bytes = 512;
constexpr std::size_t parsed_bytes_per_byte = 64;
std::size_t parse_bytes(const char* text, std::size_t length) {
  std::size_t containers = 0;
  for (std::size_t i = 0; i < length; ++i)
    if (text[i] == '[' || text[i] == '{') ++containers;
  return containers * parsed_container_bytes + length * parsed_bytes_per_byte + 4096;
}

// The stopped-or-over-budget decision shared by the builtins above: true when the call must not run.
bool refuse(EvaluationScope& scope, std::size_t bytes) noexcept {
  if (scope.stopping()) return true;
  if (bytes <= scope.remaining_bytes()) return false;
  scope.stop(StopReason::memory);
  return true;
}

jv budget_refusal() { return jv_invalid_with_msg(jv_string("result beyond the expression's memory budget")); }

// libjq 1.6 takes two values for the same one when kind, size and pointer match, without looking at
// an array slice's offset (so `[1,2,3] | .[0:1] == .[1:2]` is true). Kept: it is what users see.
bool same_value(jv a, jv b) {
  return a.kind_flags == b.kind_flags && a.size == b.size && a.u.ptr == b.u.ptr;
}

// jv_equal's body (libjq 1.6, jv.c), see there. Consumes `a` and `b`.
int equal_values(jv a, jv b, int depth, EvaluationScope& scope) {
  const jv_kind kind = jv_get_kind(a);
  int result = 1;
  if (scope.stopping()) {
    result = 1;
  } else if (depth > value_depth_max) {
    scope.stop(StopReason::nesting);
  } else if (kind != jv_get_kind(b)) {
    result = 0;
  } else if (kind == JV_KIND_NUMBER) {
    result = jv_number_value(a) == jv_number_value(b);
  } else if (same_value(a, b)) {
    result = 1;
  } else if (kind == JV_KIND_STRING) {
    const int length = jv_string_length_bytes(jv_copy(a));
    result = length == jv_string_length_bytes(jv_copy(b)) &&
             std::memcmp(jv_string_value(a), jv_string_value(b), static_cast<std::size_t>(length)) == 0;
  } else if (kind == JV_KIND_ARRAY) {
    const int length = jv_array_length(jv_copy(a));
    if (length != jv_array_length(jv_copy(b))) {
      result = 0;
    } else if (a.u.ptr != b.u.ptr || a.offset != b.offset) {
      for (int i = 0; i < length && result == 1; ++i)
        result = equal_values(jv_array_get(jv_copy(a), i), jv_array_get(jv_copy(b), i), depth + 1, scope);
    }
  } else if (kind == JV_KIND_OBJECT) {
    int keys = 0;
    for (int it = jv_object_iter(a); jv_object_iter_valid(a, it) && result == 1; it = jv_object_iter_next(a, it)) {
      jv element = jv_object_get(jv_copy(b), jv_object_iter_key(a, it));
      if (!jv_is_valid(element)) {
        jv_free(element);
        result = 0;
        break;
      }
      result = equal_values(jv_object_iter_value(a, it), element, depth + 1, scope);
      ++keys;
    }
    if (result == 1) result = keys == jv_object_length(jv_copy(b));
  }
  jv_free(a);
  jv_free(b);
  return result;
}

// jv_cmp's body (libjq 1.6, jv_aux.c), see there. Consumes `a` and `b`.
int compare_values(jv a, jv b, int depth, EvaluationScope& scope) {
  const jv_kind kind = jv_get_kind(a);
  int result = 0;
  if (scope.stopping()) {
    result = 0;
  } else if (depth > value_depth_max) {
    scope.stop(StopReason::nesting);
  } else if (kind != jv_get_kind(b)) {
    result = static_cast<int>(kind) - static_cast<int>(jv_get_kind(b));
  } else if (kind == JV_KIND_NUMBER) {
    // NaN sorts as null does: below every number.
    const double x = jv_number_value(a);
    const double y = jv_number_value(b);
    if (std::isnan(x)) result = static_cast<int>(JV_KIND_NULL) - static_cast<int>(JV_KIND_NUMBER);
    else if (std::isnan(y)) result = static_cast<int>(JV_KIND_NUMBER) - static_cast<int>(JV_KIND_NULL);
    else result = x < y ? -1 : (x == y ? 0 : 1);
  } else if (kind == JV_KIND_STRING) {
    const int length_a = jv_string_length_bytes(jv_copy(a));
    const int length_b = jv_string_length_bytes(jv_copy(b));
    result = std::memcmp(jv_string_value(a), jv_string_value(b), static_cast<std::size_t>(std::min(length_a, length_b)));
    if (result == 0) result = length_a - length_b;
  } else if (kind == JV_KIND_ARRAY) {
    const int length_a = jv_array_length(jv_copy(a));
    const int length_b = jv_array_length(jv_copy(b));
    for (int i = 0; result == 0; ++i) {
      if (i >= length_a || i >= length_b) {
        result = (i >= length_b) - (i >= length_a);
        break;
      }
      result = compare_values(jv_array_get(jv_copy(a), i), jv_array_get(jv_copy(b), i), depth + 1, scope);
    }
  } else if (kind == JV_KIND_OBJECT) {
    // By the sorted key lists first, then by the values in key order.
    jv keys = jv_keys(jv_copy(a));
    result = compare_values(jv_copy(keys), jv_keys(jv_copy(b)), depth + 1, scope);
    const int length = result == 0 ? jv_array_length(jv_copy(keys)) : 0;
    for (int i = 0; i < length && result == 0; ++i) {
      jv key = jv_array_get(jv_copy(keys), i);
      result = compare_values(jv_object_get(jv_copy(a), jv_copy(key)), jv_object_get(jv_copy(b), key), depth + 1, scope);
    }
    jv_free(keys);
  }
  jv_free(a);
  jv_free(b);
  return result;
}

// jv_object_merge_recursive's body, see there. Consumes `a` and `b`.
jv merge_objects(jv a, jv b, int depth, EvaluationScope& scope) {
  if (depth > value_depth_max) {
    jv_free(a);
    jv_free(b);
    return jv_invalid_with_msg(jv_string("Object merge too deep"));
  }
  if (scope.stopping()) {
    jv_free(b);
    return a;
  }
  for (int it = jv_object_iter(b); jv_object_iter_valid(b, it); it = jv_object_iter_next(b, it)) {
    jv key = jv_object_iter_key(b, it);
    jv value = jv_object_iter_value(b, it);
    jv element = jv_object_get(jv_copy(a), jv_copy(key));
    if (jv_is_valid(element) && jv_get_kind(element) == JV_KIND_OBJECT && jv_get_kind(value) == JV_KIND_OBJECT) {
      jv merged = merge_objects(element, value, depth + 1, scope);
      if (!jv_is_valid(merged)) {
        jv_free(key);
        jv_free(a);
        jv_free(b);
        return merged;
      }
      a = jv_object_set(a, key, merged);
    } else {
      jv_free(element);
      a = jv_object_set(a, key, value);
    }
  }
  jv_free(b);
  return a;
}

}  // namespace

// The allocations of one scope: pointer -> charged bytes. Open addressing with linear probing, so that
// counting costs no allocation of its own per entry. Storage comes from calloc, not from operator new,
// since the hooks may not throw.
class EvaluationScope::Table {
 public:
  Table() { resize(initial_capacity); }
  ~Table() { std::free(slots_); }
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // Records `bytes` for the block at `key`. Returns the bytes recorded for it before: non-zero when
  // libjq released the block with plain free() (its execution stack) and malloc handed the address out
  // again.
  std::size_t put(std::uintptr_t key, std::size_t bytes) noexcept {
    if ((count_ + 1) * 2 > capacity_) resize(capacity_ * 2);
    for (std::size_t i = home(key);; i = (i + 1) & (capacity_ - 1)) {
      if (slots_[i].key == key) {
        const std::size_t before = slots_[i].bytes;
        slots_[i].bytes = bytes;
        return before;
      }
      if (slots_[i].key == 0) {
        slots_[i] = {key, bytes};
        ++count_;
        return 0;
      }
    }
  }

  // Forgets the block at `key`; returns its bytes, or 0 when it was not allocated in this scope.
  std::size_t take(std::uintptr_t key) noexcept {
    std::size_t i = home(key);
    while (slots_[i].key != key) {
      if (slots_[i].key == 0) return 0;
      i = (i + 1) & (capacity_ - 1);
    }
    const std::size_t bytes = slots_[i].bytes;
    // Backward-shift deletion keeps every probe sequence unbroken without tombstones.
    for (std::size_t hole = i, next = (i + 1) & (capacity_ - 1);; next = (next + 1) & (capacity_ - 1)) {
      if (slots_[next].key == 0) {
        slots_[hole] = {0, 0};
        break;
      }
      const std::size_t want = home(slots_[next].key);
      // Move `next` into the hole unless its home lies cyclically in (hole, next].
      const bool stays = hole <= next ? (hole < want && want <= next) : (hole < want || want <= next);
      if (!stays) {
        slots_[hole] = slots_[next];
        hole = next;
      }
    }
    --count_;
    return bytes;
  }

 private:
  struct Slot {
    std::uintptr_t key;  // 0: empty
    std::size_t bytes;
  };
  static constexpr std::size_t initial_capacity = 64;

  std::size_t home(std::uintptr_t key) const noexcept {
    return static_cast<std::size_t>((key >> 4) * 0x9E3779B97F4A7C15ULL >> (64 - bits_));
  }

  void resize(std::size_t capacity) noexcept {
    Slot* old_slots = slots_;
    const std::size_t old_capacity = capacity_;
    slots_ = static_cast<Slot*>(std::calloc(capacity, sizeof(Slot)));
    if (slots_ == nullptr) out_of_memory();
    capacity_ = capacity;
    bits_ = 0;
    while ((std::size_t{1} << bits_) < capacity) ++bits_;
    count_ = 0;
    for (std::size_t i = 0; i < old_capacity; ++i)
      if (old_slots[i].key != 0) put(old_slots[i].key, old_slots[i].bytes);
    std::free(old_slots);
  }

  Slot* slots_ = nullptr;
  std::size_t capacity_ = 0;
  int bits_ = 0;
  std::size_t count_ = 0;
};

std::size_t charged_bytes(std::size_t requested_bytes) noexcept {
  // glibc (x86-64 and aarch64): an 8-byte header, 16-byte rounding, 32 bytes at least.
  const std::size_t chunk = std::max<std::size_t>(32, (requested_bytes + 8 + 15) & ~std::size_t{15});
  return chunk + 32;  // two 16-byte table slots (the table is kept at most half full)
}

EvaluationScope::EvaluationScope(const EvaluationBudget& budget)
    : control_(budget.control != nullptr ? budget.control : &own_control_),
      memory_bytes_max_(std::min(budget.memory_bytes_max, memory_bytes_max_limit)) {
  assert(current_scope == nullptr && "evaluation scopes do not nest");
  current_scope = this;
}

EvaluationScope::~EvaluationScope() {
  current_scope = nullptr;
  delete table_;
}

EvaluationScope* EvaluationScope::current() noexcept { return current_scope; }

bool EvaluationScope::attach(jq_state* jq) {
  std::lock_guard lock(control_->mutex_);
  if (control_->interrupted_.load(std::memory_order_acquire)) return false;
  assert(control_->running_ == nullptr && "one evaluation at a time per control");
  control_->running_ = jq;
  control_->halted_ = false;
  attached_ = true;
  return true;
}

void EvaluationScope::detach() {
  std::lock_guard lock(control_->mutex_);
  control_->running_ = nullptr;
  control_->halted_ = false;
  attached_ = false;
}

StopReason EvaluationScope::stop_reason() const noexcept {
  if (local_stop_ != StopReason::none) return local_stop_;
  return control_->interrupted() ? StopReason::interrupted : StopReason::none;
}

std::size_t EvaluationScope::remaining_bytes() const noexcept {
  return live_bytes_ >= memory_bytes_max_ ? 0 : memory_bytes_max_ - live_bytes_;
}

bool EvaluationScope::charge(std::size_t bytes) noexcept {
  add(bytes);
  return live_bytes_ <= memory_bytes_max_;
}

void EvaluationScope::stop(StopReason reason) noexcept {
  if (local_stop_ == StopReason::none) local_stop_ = reason;
  halt_attached();
}

void EvaluationScope::halt_attached() noexcept {
  std::lock_guard lock(control_->mutex_);
  if (control_->running_ != nullptr && !control_->halted_) {
    jq_halt(static_cast<jq_state*>(control_->running_), jv_invalid(), jv_invalid());
    control_->halted_ = true;
  }
}

void EvaluationScope::add(std::size_t bytes) noexcept {
  live_bytes_ = add_saturated(live_bytes_, bytes);
  peak_bytes_ = std::max(peak_bytes_, live_bytes_);
  // The first stop is the one reported: an interrupt that came earlier keeps its reason.
  if (live_bytes_ > memory_bytes_max_ && !stopping()) stop(StopReason::memory);
}

void EvaluationScope::on_allocate(std::uintptr_t address, std::size_t requested_bytes) noexcept {
  if (table_ == nullptr) table_ = new (std::nothrow) Table();
  if (table_ == nullptr) out_of_memory();
  const std::size_t charged = charged_bytes(requested_bytes);
  live_bytes_ -= std::min(live_bytes_, table_->put(address, charged));
  add(charged);
}

void EvaluationScope::on_release(std::uintptr_t address) noexcept {
  if (table_ != nullptr) live_bytes_ -= std::min(live_bytes_, table_->take(address));
}

void EvaluationScope::on_reallocate(std::uintptr_t old_address, std::uintptr_t address,
                                    std::size_t requested_bytes) noexcept {
  if (old_address != 0) on_release(old_address);
  on_allocate(address, requested_bytes);
}

std::optional<std::string> bounded_dump(jv value, std::size_t bytes_max) {
  if (!printed_size_fits(value, 0, bytes_max, EvaluationScope::current())) {
    jv_free(value);
    return std::nullopt;
  }
  jv text = libjq().dump_string(value, 0);
  std::string result(jv_string_value(text), static_cast<std::size_t>(jv_string_length_bytes(jv_copy(text))));
  jv_free(text);
  return result;
}

namespace {

// Oniguruma (libjq's regular expressions) keeps its backtracking stack in memory it allocates itself,
// which the hooks do not see: a 20 MB string under `test("(a|aa)+b")` took 1.25 GB. Its stack is
// capped process-wide instead (it is a library default, the same for every evaluation), at about
// 32 MiB; a match that needs more fails with libjq's "Regex failure: match-stack limit over", which is
// deterministic. Its retry limit (10 million per match by default) already bounds its time.
constexpr unsigned int regex_match_stack_entries_max = 1'000'000;

void limit_regex_stack() {
  using SetLimit = int (*)(unsigned int);
  // libonig is loaded with libjq; without it libjq has no regular expressions and nothing is needed.
  if (void* symbol = dlsym(RTLD_DEFAULT, "onig_set_match_stack_limit_size"))
    reinterpret_cast<SetLimit>(symbol)(regex_match_stack_entries_max);
}

}  // namespace

bool jq_interposition_active() {
  static const bool active = [] {
    if (EvaluationScope::current() != nullptr) return false;  // precondition: called outside evaluations
    limit_regex_stack();
    EvaluationScope probe(EvaluationBudget{});
    // libjq allocates the string through jv_mem_alloc and frees it through jv_mem_free.
    jv value = jv_string("interposition probe");
    const bool allocation_counted = probe.live_bytes() > 0;
    jv_free(value);
    const bool release_counted = probe.live_bytes() == 0;
    // jv_dump_string_trunc calls jv_dump_string inside libjq: ours prints nothing for a stopped scope.
    probe.stop(StopReason::memory);
    char text[8] = "x";
    jv_dump_string_trunc(jv_number(1), text, sizeof(text));
    const bool dump_replaced = text[0] == '\0';
    return allocation_counted && release_counted && dump_replaced;
  }();
  return active;
}

}  // namespace detail

// Called from a thread other than the evaluating one (the runtime's watchdog). jq_halt() only stores
// to the jq_state's `halted` flag (and two fields read after the run), which jq_next() reads at the top
// of every instruction. In the C abstract machine this store races with those reads; in practice an
// aligned int store is atomic on every platform we build for, and jq_next() reloads the flag on each
// instruction because it calls out of line (through the PLT) in between, so the store is seen within
// an instruction or two. The mutex makes sure the jq_state is the one attach() registered and that
// jq_halt() runs once per run (libjq asserts that).
void EvaluationControl::interrupt() noexcept {
  std::lock_guard lock(mutex_);
  if (running_ != nullptr && !halted_) {
    jq_halt(static_cast<jq_state*>(running_), jv_invalid(), jv_invalid());
    halted_ = true;
  }
  interrupted_.store(true, std::memory_order_release);
}

}  // namespace flightplan::engine

using flightplan::engine::detail::address_of;
using flightplan::engine::detail::current_scope;
using flightplan::engine::detail::EvaluationScope;
using flightplan::engine::detail::StopReason;

// libjq's allocator (jv_alloc.c), counted. Same behaviour otherwise: the guarded variants abort when
// the system is out of memory, the unguarded ones return null.
extern "C" {

void* jv_mem_alloc(std::size_t size) {
  void* pointer = std::malloc(size);
  if (pointer == nullptr) flightplan::engine::detail::out_of_memory();
  if (EvaluationScope* scope = current_scope) scope->on_allocate(address_of(pointer), size);
  return pointer;
}

void* jv_mem_alloc_unguarded(std::size_t size) {
  void* pointer = std::malloc(size);
  if (pointer != nullptr)
    if (EvaluationScope* scope = current_scope) scope->on_allocate(address_of(pointer), size);
  return pointer;
}

void* jv_mem_calloc(std::size_t count, std::size_t size) {
  void* pointer = std::calloc(count, size);
  if (pointer == nullptr) flightplan::engine::detail::out_of_memory();
  if (EvaluationScope* scope = current_scope) scope->on_allocate(address_of(pointer), count * size);
  return pointer;
}

void* jv_mem_calloc_unguarded(std::size_t count, std::size_t size) {
  void* pointer = std::calloc(count, size);
  if (pointer != nullptr)
    if (EvaluationScope* scope = current_scope) scope->on_allocate(address_of(pointer), count * size);
  return pointer;
}

char* jv_mem_strdup(const char* text) {
  char* copy = strdup(text);
  if (copy == nullptr) flightplan::engine::detail::out_of_memory();
  if (EvaluationScope* scope = current_scope) scope->on_allocate(address_of(copy), std::strlen(copy) + 1);
  return copy;
}

char* jv_mem_strdup_unguarded(const char* text) {
  char* copy = strdup(text);
  if (copy != nullptr)
    if (EvaluationScope* scope = current_scope) scope->on_allocate(address_of(copy), std::strlen(copy) + 1);
  return copy;
}

void jv_mem_free(void* pointer) {
  if (pointer != nullptr)
    if (EvaluationScope* scope = current_scope) scope->on_release(address_of(pointer));
  std::free(pointer);
}

// GCC sees the old block's address used after realloc() freed it; it is only a key in the table of
// counted blocks, read before the call and never dereferenced.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free"
void* jv_mem_realloc(void* pointer, std::size_t size) {
  const std::uintptr_t old_address = address_of(pointer);
  void* moved = std::realloc(pointer, size);
  if (moved == nullptr) flightplan::engine::detail::out_of_memory();
  if (EvaluationScope* scope = current_scope) scope->on_reallocate(old_address, address_of(moved), size);
  return moved;
}
#pragma GCC diagnostic pop

// Iterative: a jv_free that runs inside another on the same thread (libjq freeing a container's
// elements) only records the value, and the outermost call frees the recorded values one by one. So
// the C stack stays flat whatever the nesting depth, and every value is freed before the outermost
// call returns, as libjq expects. Scalars and strings hold no values and are freed at once.
void jv_free(jv value) {
  using flightplan::engine::detail::deferred_frees;
  using flightplan::engine::detail::libjq;
  // jv_free is libjq's hottest function: the kind is read as jv_get_kind reads it (the low four bits of
  // kind_flags), and the kinds that own nothing (null, false, true, number) return at once, as in
  // libjq's own jv_free (and so does an invalid value without a message).
  const auto kind = static_cast<jv_kind>(value.kind_flags & 0xF);
  if (kind == JV_KIND_NULL || kind == JV_KIND_FALSE || kind == JV_KIND_TRUE || kind == JV_KIND_NUMBER) return;
  if (kind == JV_KIND_INVALID && value.u.ptr == nullptr) return;  // jv_invalid(): no message to free
  if (kind == JV_KIND_STRING) {
    libjq().free(value);
    return;
  }
  auto& deferred = deferred_frees;
  if (deferred.active) {
    if (!deferred.push(value)) libjq().free(value);  // out of memory: recurse rather than leak
    return;
  }
  deferred.active = true;
  libjq().free(value);
  for (jv next; deferred.pop(next);) libjq().free(next);
  deferred.release_heap();
  deferred.active = false;
}

// tojson, tostring, @text, @json, string interpolation and libjq's error messages print through here.
jv jv_dump_string(jv value, int flags) {
  using flightplan::engine::detail::libjq;
  EvaluationScope* scope = current_scope;
  if (scope == nullptr) return libjq().dump_string(value, flags);
  if (scope->stopping()) {
    jv_free(value);  // the evaluation is over: print nothing, so that the builtin returns quickly
    return jv_string("");
  }
  if (!flightplan::engine::detail::printed_size_fits(value, flags, scope->remaining_bytes(), scope)) {
    jv_free(value);
    if (!scope->stopping()) scope->stop(StopReason::memory);
    return jv_string("");
  }
  return libjq().dump_string(value, flags);
}

// Strings grow through these in the builtins that build one from a loop: the escaping @formats (up to
// six times their input), printing, implode. Once the evaluation is stopped, while its program runs,
// they return the string unchanged, so the builtin in progress finishes its loop without growing it.
// The program is halted before it can use the string.
jv jv_string_append_buf(jv text, const char* bytes, int length) {
  if (EvaluationScope* scope = current_scope; scope != nullptr && scope->winding_down()) return text;
  return flightplan::engine::detail::libjq().string_append_buf(text, bytes, length);
}

jv jv_string_append_str(jv text, const char* characters) {
  if (EvaluationScope* scope = current_scope; scope != nullptr && scope->winding_down()) return text;
  return flightplan::engine::detail::libjq().string_append_str(text, characters);
}

jv jv_string_append_codepoint(jv text, uint32_t codepoint) {
  if (EvaluationScope* scope = current_scope; scope != nullptr && scope->winding_down()) return text;
  return flightplan::engine::detail::libjq().string_append_codepoint(text, codepoint);
}

jv jv_string_concat(jv text, jv more) {
  if (EvaluationScope* scope = current_scope; scope != nullptr && scope->winding_down()) {
    jv_free(more);
    return text;
  }
  return flightplan::engine::detail::libjq().string_concat(text, more);
}

// `.[n] = v` and setpath pad the array with nulls up to n in one allocation.
jv jv_array_set(jv array, int index, jv value) {
  using flightplan::engine::detail::libjq;
  EvaluationScope* scope = current_scope;
  if (scope != nullptr && index >= flightplan::engine::detail::padding_check_min &&
      jv_get_kind(array) == JV_KIND_ARRAY) {
    const int length = jv_array_length(jv_copy(array));
    if (index > length) {
      const std::size_t padding_bytes = (static_cast<std::size_t>(index) - static_cast<std::size_t>(length)) * sizeof(jv);
      if (scope->stopping() || padding_bytes > scope->remaining_bytes()) {
        jv_free(array);
        jv_free(value);
        if (!scope->stopping()) scope->stop(StopReason::memory);
        return jv_invalid_with_msg(jv_string("array index beyond the expression's memory budget"));
      }
    }
  }
  return libjq().array_set(array, index, value);
}

// Comparison and equality walk both values, and a value that shares itself has 2^40 leaves to walk
// inside one libjq call. libjq (Debian's) recurses inside its library, out of reach, so within an
// evaluation these are libjq 1.6's algorithms with a stop check per value: once the evaluation is
// stopped they answer "equal" at once (the program is halted before it can use the answer). Values
// nested deeper than libjq's limit stop the evaluation (libjq raises "Comparison too deep" or
// "Equality check too deep" there instead, an error a program could catch).
int jv_cmp(jv a, jv b) {
  EvaluationScope* scope = current_scope;
  if (scope == nullptr) return flightplan::engine::detail::libjq().cmp(a, b);
  return flightplan::engine::detail::compare_values(a, b, 0, *scope);
}

int jv_equal(jv a, jv b) {
  EvaluationScope* scope = current_scope;
  if (scope == nullptr) return flightplan::engine::detail::libjq().equal(a, b);
  return flightplan::engine::detail::equal_values(a, b, 0, *scope);
}

int jv_contains(jv a, jv b) {
  using flightplan::engine::detail::contains_depth;
  if (EvaluationScope* scope = current_scope; scope != nullptr) {
    // libjq limits the depth of comparisons, equality, merges and paths, but not of contains.
    if (!scope->stopping() && contains_depth >= flightplan::engine::detail::value_depth_max)
      scope->stop(StopReason::nesting);
    if (scope->stopping()) {
      jv_free(a);
      jv_free(b);
      return 1;
    }
  }
  ++contains_depth;
  const int result = flightplan::engine::detail::libjq().contains(a, b);
  --contains_depth;
  return result;
}

// `*` on two objects. libjq recurses inside its own library, out of reach of a stop check, and on a
// value that shares itself builds 2^40 objects in one call: so within an evaluation this is libjq
// 1.6's loop (jv.c), with Debian's depth limit and message, and a stop check per level.
jv jv_object_merge_recursive(jv a, jv b) {
  EvaluationScope* scope = current_scope;
  if (scope == nullptr) return flightplan::engine::detail::libjq().object_merge_recursive(a, b);
  return flightplan::engine::detail::merge_objects(a, b, 0, *scope);
}

// `.[$array]`, indices($array): libjq's loop, with a stop check per outer element. Its n*m comparisons
// run inside one libjq call and would keep the thread for minutes on two arrays of 100,000 elements.
jv jv_array_indexes(jv a, jv b) {
  EvaluationScope* scope = current_scope;
  if (scope == nullptr) return flightplan::engine::detail::libjq().array_indexes(a, b);
  jv result = jv_array();
  const int a_length = jv_array_length(jv_copy(a));
  const int b_length = jv_array_length(jv_copy(b));
  for (int ai = 0; ai < a_length && !scope->stopping(); ++ai) {
    int index = -1;
    for (int bi = 0; bi < b_length; ++bi) {
      // The same comparisons in the same order as libjq 1.6 (jv.c), which also keeps comparing after
      // a mismatch: only the last element's outcome and the first's decide.
      jv b_element = jv_array_get(jv_copy(b), bi);
      if (!jv_equal(jv_array_get(jv_copy(a), ai + bi), b_element)) index = -1;
      else if (bi == 0 && index == -1) index = ai;
    }
    if (index > -1) result = jv_array_append(result, jv_number(index));
  }
  jv_free(a);
  jv_free(b);
  return result;
}

// `/` and split/1 on strings: one string per piece, built in one call.
jv jv_string_split(jv text, jv separator) {
  using namespace flightplan::engine::detail;
  EvaluationScope* scope = current_scope;
  if (scope != nullptr && refuse(*scope, split_bytes(text, separator))) {
    jv_free(text);
    jv_free(separator);
    return budget_refusal();
  }
  return libjq().string_split(text, separator);
}

// explode (and ascii_downcase, ascii_upcase, the regex builtins' flags): an array slot per byte.
// Refused with an empty array, not an error: f_match iterates the result without checking it.
jv jv_string_explode(jv text) {
  using namespace flightplan::engine::detail;
  EvaluationScope* scope = current_scope;
  if (scope != nullptr && refuse(*scope, explode_bytes(text))) {
    jv_free(text);
    return jv_array();
  }
  return libjq().string_explode(text);
}

// indices/index/rindex on strings (_strindices). libjq 1.6 never returns for an empty needle: it
// appends the same position forever. That is refused as an error of the expression.
jv jv_string_indexes(jv text, jv needle) {
  using namespace flightplan::engine::detail;
  EvaluationScope* scope = current_scope;
  if (scope != nullptr) {
    const auto needle_length = static_cast<std::size_t>(jv_string_length_bytes(jv_copy(needle)));
    if (needle_length == 0) {
      jv_free(text);
      jv_free(needle);
      return jv_invalid_with_msg(jv_string("cannot find the positions of an empty string (libjq 1.6 never ends)"));
    }
    const std::size_t found = occurrences(jv_string_value(text), static_cast<std::size_t>(jv_string_length_bytes(jv_copy(text))),
                                          jv_string_value(needle), needle_length);
    if (refuse(*scope, found * index_entry_bytes + 512)) {
      jv_free(text);
      jv_free(needle);
      return budget_refusal();
    }
  }
  return libjq().string_indexes(text, needle);
}

// fromjson. (The jq compiler parses literals through here too, outside any evaluation.)
jv jv_parse_sized(const char* text, int length) {
  using namespace flightplan::engine::detail;
  EvaluationScope* scope = current_scope;
  if (scope != nullptr && length > 0 && refuse(*scope, parse_bytes(text, static_cast<std::size_t>(length))))
    return budget_refusal();
  return libjq().parse_sized(text, length);
}

}  // extern "C"
