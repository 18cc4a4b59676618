#pragma once
// Test support: the flightplan binary as a child process, for tests that crash and restart the
// roles. Each child writes stdout and stderr to its own log file; it gets PR_SET_PDEATHSIG=SIGKILL,
// so it dies with the thread that started it even when the test itself crashes. Only the child's
// own pid is ever signalled, and every wait is bounded.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace flightplan::testing {

// The flightplan executable the tests run (FLIGHTPLAN_BINARY, set by tests/CMakeLists.txt).
std::string flightplan_binary();

// The last `lines_max` lines of a text file, indented, for failure messages.
std::string file_tail(const std::string& path, std::size_t lines_max = 20);

// A fresh temporary directory, removed (with its contents) when the object is destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ChildProcess {
 public:
  // Starts `binary` with `args` (not including argv[0]); output goes to `log_path` (truncated).
  // Throws std::runtime_error when fork fails.
  ChildProcess(const std::string& binary, const std::vector<std::string>& args, std::string log_path);
  // Stops the child if it still runs: SIGTERM, then SIGKILL after 10 s.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // False once the child has exited (it is reaped then; exit_status() tells how).
  bool running();
  // The wait status of an exited child (as waitpid reports it); nullopt while it runs.
  std::optional<int> exit_status() const { return status_; }

  // SIGKILL, then reap: a crash, nothing flushed, no drain.
  void kill9();
  // SIGTERM (an orderly drain), SIGKILL after `timeout_ms`; returns the wait status.
  int terminate(std::int64_t timeout_ms = 10'000);
  // SIGSTOP / SIGCONT: the process is frozen (down) but keeps its memory.
  void suspend();
  void resume();

  const std::string& log_path() const { return log_path_; }
  std::string log() const;
  // The last `lines_max` lines of the log, indented, for failure messages.
  std::string log_tail(std::size_t lines_max = 20) const;
  // Waits until a log line contains `needle`; returns that line, or nullopt on timeout or when the
  // child exited without writing it.
  std::optional<std::string> wait_for_log(const std::string& needle, std::int64_t timeout_ms);

 private:
  bool reap_within(std::int64_t timeout_ms);

  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace flightplan::testing
