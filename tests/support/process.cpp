#include "process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace flightplan::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto poll_interval = std::chrono::milliseconds(10);

}  // namespace

std::string flightplan_binary() { return FLIGHTPLAN_BINARY; }

TempDir::TempDir() {
  std::string pattern = "/tmp/flightplan-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ChildProcess::ChildProcess(const std::string& binary, const std::vector<std::string>& args,
                           std::string log_path)
    : log_path_(std::move(log_path)) {
  std::vector<std::string> argv_text{binary};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_text) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // Opened before fork: between fork and exec only async-signal-safe calls are allowed.
  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log_path_ + ": " + std::strerror(errno));
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) {
    close(log_fd);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);  // the parent died before prctl took effect
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // The test process may block signals in its threads; the child starts with a clean mask.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  pid_ = child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) terminate();
}

bool ChildProcess::reap_within(std::int64_t timeout_ms) {
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    const pid_t result = waitpid(pid_, &status, WNOHANG);
    if (result == pid_) {
      status_ = status;
      pid_ = -1;
      return true;
    }
    if (result < 0 && errno != EINTR) {  // not our child any more: nothing left to wait for
      pid_ = -1;
      return true;
    }
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll_interval);
  }
}

bool ChildProcess::running() { return pid_ > 0 && !reap_within(0); }

void ChildProcess::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  reap_within(10'000);
}

int ChildProcess::terminate(std::int64_t timeout_ms) {
  if (pid_ > 0) {
    kill(pid_, SIGCONT);  // a suspended child cannot act on SIGTERM
    kill(pid_, SIGTERM);
    if (!reap_within(timeout_ms)) kill9();
  }
  return status_.value_or(-1);
}

void ChildProcess::suspend() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void ChildProcess::resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

std::string ChildProcess::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string file_tail(const std::string& path, std::size_t lines_max) {
  std::ifstream in(path, std::ios::binary);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > lines_max) lines.pop_front();
  }
  std::string out;
  for (const auto& line : lines) out += "    " + line + "\n";
  return out.empty() ? "    (empty log)\n" : out;
}

std::string ChildProcess::log_tail(std::size_t lines_max) const { return file_tail(log_path_, lines_max); }

std::optional<std::string> ChildProcess::wait_for_log(const std::string& needle, std::int64_t timeout_ms) {
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    const bool alive = running();  // before reading: a child's last line is read after it exited
    std::istringstream in(log());
    for (std::string line; std::getline(in, line);)
      if (line.find(needle) != std::string::npos) return line;
    if (!alive || SteadyClock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(poll_interval);
  }
}

}  // namespace flightplan::testing
