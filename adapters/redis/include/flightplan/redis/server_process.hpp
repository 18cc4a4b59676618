#pragma once
// A private redis-server child process: `flightplan dev` runs one (data under --data-dir, AOF on),
// and every *_redistest.cpp fixture runs its own (temporary directory). It listens on a unix socket
// in its directory (no TCP) or, on request, on a free 127.0.0.1 port. Every wait is bounded, and
// only the child's own PID is ever signalled.
//
// The child gets PR_SET_PDEATHSIG=SIGKILL, so it dies with the thread that started it even when
// the parent crashes: start, restart and destroy a ServerProcess on the same thread.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace flightplan::redis {

struct ServerOptions {
  // Where the socket, log and AOF files live. Empty: a fresh temporary directory, removed when the
  // ServerProcess is destroyed. Otherwise created if missing and kept.
  std::string data_dir;
  bool tcp = false;  // also listen on a free port of 127.0.0.1; url() then names TCP
  bool appendonly = false;
  std::string appendfsync = "everysec";  // always | everysec | no
  std::string password;                  // requirepass; url() carries it
  std::int64_t startup_timeout_ms = 10000;
  std::int64_t stop_timeout_ms = 5000;  // SIGTERM, then SIGKILL after this
  bool debug_command = false;           // allow DEBUG (tests provoke timeouts with DEBUG SLEEP)
};

class ServerProcess {
 public:
  // Starts the server and waits until PING answers. Throws std::runtime_error with the reason
  // (redis-server missing: run scripts/install-deps.sh; or the tail of its log) on failure.
  explicit ServerProcess(ServerOptions options = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // unix:///dir/redis.sock[?password=...] or redis://[:password@]127.0.0.1:PORT
  std::string url() const;
  // The same server with another password in the URL (to test refused logins).
  std::string url_with_password(const std::string& password) const;
  pid_t pid() const { return pid_; }  // -1 when not running
  bool running() const { return pid_ > 0; }
  const std::string& dir() const { return dir_; }

  void stop();     // SIGTERM, bounded wait, then SIGKILL; only this server's own pid
  void kill9();    // SIGKILL and reap: a crash, no chance to flush
  void restart();  // stop if running, then start again with the same dir, socket and port

 private:
  void start();
  std::vector<std::string> arguments() const;
  void wait_until_ready();
  bool answers_ping() const;
  std::string log_tail() const;

  ServerOptions options_;
  bool temporary_dir_ = false;
  std::string binary_;
  std::string dir_;
  std::string socket_path_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace flightplan::redis
