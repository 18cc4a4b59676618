#include "flightplan/redis/server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
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
#include <stdexcept>
#include <thread>

namespace flightplan::redis {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto poll_interval = std::chrono::milliseconds(10);
constexpr std::int64_t ping_io_timeout_ms = 500;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error("redis-server: " + message); }

std::string find_binary() {
  const char* configured = std::getenv("FLIGHTPLAN_REDIS_SERVER");
  std::string binary = configured != nullptr ? configured : "/usr/bin/redis-server";
  if (access(binary.c_str(), X_OK) != 0) {
    fail(binary +
         " is not installed or not executable; run scripts/install-deps.sh (it installs redis-server), "
         "or point FLIGHTPLAN_REDIS_SERVER at a redis-server binary");
  }
  return binary;
}

// A port the kernel just handed out and took back. Another process could grab it before the
// server binds it; the constructor then retries with a new port.
int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail(std::string("socket(): ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) fail("cannot find a free TCP port on 127.0.0.1");
  return ntohs(address.sin_port);
}

// RESP encoding of one command, for the readiness probe.
std::string encode_command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& arg : args) out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  return out;
}

// Waits for the child `pid` up to `timeout_ms`; true when it was reaped.
bool reap_within(pid_t pid, std::int64_t timeout_ms) {
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    pid_t result = waitpid(pid, nullptr, WNOHANG);
    if (result == pid || (result < 0 && errno == ECHILD)) return true;
    if (SteadyClock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll_interval);
  }
}

}  // namespace

ServerProcess::ServerProcess(ServerOptions options) : options_(std::move(options)), binary_(find_binary()) {
  if (options_.data_dir.empty()) {
    std::string pattern = "/tmp/flightplan-redis-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) fail(std::string("mkdtemp: ") + std::strerror(errno));
    dir_ = pattern;
    temporary_dir_ = true;
  } else {
    std::error_code error;
    std::filesystem::create_directories(options_.data_dir, error);
    if (error) fail("cannot create data directory '" + options_.data_dir + "': " + error.message());
    dir_ = std::filesystem::absolute(options_.data_dir).string();
  }
  socket_path_ = dir_ + "/redis.sock";
  constexpr int start_attempts_max = 3;  // only TCP retries: the free port may be taken meanwhile
  for (int attempt = 1;; ++attempt) {
    try {
      if (options_.tcp) port_ = free_tcp_port();
      start();
      return;
    } catch (const std::exception&) {
      if (options_.tcp && attempt < start_attempts_max) continue;
      std::error_code ignored;
      if (temporary_dir_) std::filesystem::remove_all(dir_, ignored);
      throw;
    }
  }
}

ServerProcess::~ServerProcess() {
  try {
    stop();
  } catch (...) {
    kill9();
  }
  std::error_code ignored;
  if (temporary_dir_) std::filesystem::remove_all(dir_, ignored);
}

std::string ServerProcess::url() const { return url_with_password(options_.password); }

std::string ServerProcess::url_with_password(const std::string& password) const {
  if (options_.tcp) {
    return "redis://" + (password.empty() ? "" : ":" + password + "@") + "127.0.0.1:" + std::to_string(port_);
  }
  return "unix://" + socket_path_ + (password.empty() ? "" : "?password=" + password);
}

std::vector<std::string> ServerProcess::arguments() const {
  std::vector<std::string> args = {binary_};
  auto option = [&args](const std::string& name, const std::string& value) {
    args.push_back("--" + name);
    args.push_back(value);
  };
  option("port", std::to_string(port_));  // 0: no TCP listener
  option("bind", "127.0.0.1");
  option("unixsocket", socket_path_);
  option("unixsocketperm", "700");
  option("dir", dir_);
  option("logfile", dir_ + "/redis.log");
  option("daemonize", "no");
  option("save", "");  // no RDB snapshots
  option("appendonly", options_.appendonly ? "yes" : "no");
  option("appendfsync", options_.appendfsync);
  // Tests use DEBUG SLEEP to provoke timeouts; "local" allows it over the unix socket and loopback.
  option("enable-debug-command", options_.debug_command ? "local" : "no");
  if (!options_.password.empty()) option("requirepass", options_.password);
  return args;
}

void ServerProcess::start() {
  std::vector<std::string> args = arguments();
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) fail(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    // Only async-signal-safe calls between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(126);
    // A signal mask survives exec: the parent may block SIGTERM (flightplan's serve does, to take it
    // on one thread), and a redis-server that inherited that mask ignores the SIGTERM of stop(),
    // is killed after stop_timeout_ms instead and loses what it had not yet fsynced.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      dup2(null_fd, STDIN_FILENO);
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = child;
  wait_until_ready();
}

void ServerProcess::wait_until_ready() {
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(options_.startup_timeout_ms);
  while (true) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      fail("redis-server exited during startup (status " + std::to_string(status) + "); log:\n" + log_tail());
    }
    if (answers_ping()) return;
    if (SteadyClock::now() >= deadline) {
      kill9();
      fail("redis-server did not answer PING within " + std::to_string(options_.startup_timeout_ms) +
           " ms; log:\n" + log_tail());
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

// One short-lived connection: (AUTH,) PING, and a +PONG among the replies. LOADING or a refused
// connection mean "not yet".
bool ServerProcess::answers_ping() const {
  int fd = -1;
  if (options_.tcp) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd);
      return false;
    }
  } else {
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_path_.c_str(), sizeof(address.sun_path) - 1);
    if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      close(fd);
      return false;
    }
  }
  if (fd < 0) return false;
  timeval timeout{0, static_cast<suseconds_t>(ping_io_timeout_ms * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string request = options_.password.empty() ? "" : encode_command({"AUTH", options_.password});
  request += encode_command({"PING"});
  bool pong = false;
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    std::string received;
    char buffer[256];
    while (!pong && received.size() < 4096) {
      ssize_t count = recv(fd, buffer, sizeof(buffer), 0);
      if (count <= 0) break;
      received.append(buffer, static_cast<std::size_t>(count));
      pong = received.find("+PONG\r\n") != std::string::npos;
      if (received.find('-') != std::string::npos) break;  // an error reply such as -LOADING
    }
  }
  close(fd);
  return pong;
}

void ServerProcess::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (reap_within(pid_, options_.stop_timeout_ms)) {
    pid_ = -1;
    return;
  }
  kill9();
}

void ServerProcess::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void ServerProcess::restart() {
  stop();
  start();
}

std::string ServerProcess::log_tail() const {
  constexpr std::size_t lines_max = 15;
  std::ifstream in(dir_ + "/redis.log");
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > lines_max) lines.pop_front();
  }
  std::string out;
  for (const auto& line : lines) out += "  " + line + "\n";
  return out.empty() ? "  (empty)\n" : out;
}

}  // namespace flightplan::redis
