#include "flightplan/runtime/log.hpp"

#include "flightplan/engine/duration.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

namespace flightplan::runtime {
namespace {

std::atomic<LogLevel> minimum_level{LogLevel::info};
std::mutex output_mutex;

const char* name_of(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

}  // namespace

void set_log_level(LogLevel level) { minimum_level = level; }

void log(LogLevel level, std::string_view message, nlohmann::json fields) {
  if (level < minimum_level.load()) return;
  using namespace std::chrono;
  const auto now_ms = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  nlohmann::json line{{"ts", engine::format_timestamp(now_ms)}, {"level", name_of(level)}, {"msg", message}};
  if (fields.is_object()) line.update(fields);
  // replace: invalid UTF-8 in a field must not throw from a log call.
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard lock(output_mutex);
  std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace flightplan::runtime
