// The only file that includes hiredis.
#include "connection.hpp"

#include "flightplan/engine/error.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <limits>

namespace flightplan::redis::detail {
namespace {

using engine::ErrorCategory;
using engine::OperationError;

struct ReplyDeleter {
  void operator()(void* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<void, ReplyDeleter>;

timeval to_timeval(std::int64_t duration_ms) {
  timeval value{};
  value.tv_sec = static_cast<time_t>(duration_ms / 1000);
  value.tv_usec = static_cast<suseconds_t>((duration_ms % 1000) * 1000);
  return value;
}

// hiredis writes with write(2): a server that closed the socket would raise SIGPIPE and kill the
// process. A library must not change the process-wide disposition, so SIGPIPE is blocked in this
// thread for the duration of a call, and a SIGPIPE the call caused is consumed before unblocking.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &previous_mask_);
    was_pending_ = pending();
  }
  ~SigpipeBlock() {
    if (!was_pending_ && pending()) {
      timespec no_wait{};
      while (sigtimedwait(&sigpipe_, nullptr, &no_wait) == -1 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  bool pending() const {
    sigset_t pending_set;
    sigpending(&pending_set);
    return sigismember(&pending_set, SIGPIPE) == 1;
  }

  sigset_t sigpipe_{};
  sigset_t previous_mask_{};
  bool was_pending_ = false;
};

// Pointers and lengths in the form redisCommandArgv wants; the strings must outlive it.
class ArgvView {
 public:
  template <typename Strings>
  explicit ArgvView(const Strings& args) {
    if (args.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      throw OperationError(ErrorCategory::invalid_argument, "redis: too many arguments in one command");
    }
    pointers_.reserve(args.size());
    lengths_.reserve(args.size());
    for (const auto& arg : args) {
      // An empty view may have a null data(); hiredis copies with memcpy, which must not see null.
      pointers_.push_back(arg.empty() ? "" : arg.data());
      lengths_.push_back(arg.size());
    }
  }
  int count() const { return static_cast<int>(pointers_.size()); }
  const char** pointers() { return pointers_.data(); }
  const size_t* lengths() const { return lengths_.data(); }

 private:
  std::vector<const char*> pointers_;
  std::vector<size_t> lengths_;
};

// Recursion is bounded: hiredis's reader refuses replies nested deeper than a few levels.
Reply convert(const redisReply& raw) {
  switch (raw.type) {
    case REDIS_REPLY_STRING:
      return Reply::string(std::string(raw.str, static_cast<std::size_t>(raw.len)));
    case REDIS_REPLY_STATUS:
      return Reply::status(std::string(raw.str, static_cast<std::size_t>(raw.len)));
    case REDIS_REPLY_ERROR:
      return Reply::error(std::string(raw.str, static_cast<std::size_t>(raw.len)));
    case REDIS_REPLY_INTEGER:
      return Reply::integer(raw.integer);
    case REDIS_REPLY_NIL:
      return Reply::nil();
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(raw.elements);
      for (std::size_t i = 0; i < raw.elements; ++i) elements.push_back(convert(*raw.element[i]));
      return Reply::array(std::move(elements));
    }
    default:
      break;
  }
  throw OperationError(ErrorCategory::internal, "redis: unknown reply type " + std::to_string(raw.type));
}

Reply take_reply(void* raw) {
  ReplyPtr owned(raw);
  return convert(*static_cast<const redisReply*>(raw));
}

}  // namespace

struct Connection::Handle {
  explicit Handle(redisContext* raw) : context(raw) {}
  ~Handle() { redisFree(context); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  redisContext* context;
};

std::unique_ptr<Connection> Connection::open(const Endpoint& endpoint, std::int64_t connect_timeout_ms,
                                             std::int64_t command_timeout_ms) {
  timeval connect_timeout = to_timeval(connect_timeout_ms);
  redisContext* raw = endpoint.transport == Endpoint::Transport::tcp
                          ? redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, connect_timeout)
                          : redisConnectUnixWithTimeout(endpoint.socket_path.c_str(), connect_timeout);
  std::string where = endpoint.describe();
  if (raw == nullptr)
    throw OperationError(ErrorCategory::unavailable, "redis: out of memory connecting to " + where);
  auto handle = std::make_unique<Handle>(raw);
  if (raw->err != 0) {
    throw OperationError(ErrorCategory::unavailable,
                         "redis: cannot connect to " + where + " within connect_timeout_ms=" +
                             std::to_string(connect_timeout_ms) + ": " + raw->errstr);
  }
  if (redisSetTimeout(raw, to_timeval(command_timeout_ms)) != REDIS_OK) {
    throw OperationError(ErrorCategory::unavailable,
                         "redis: cannot set the command timeout on " + where + ": " + raw->errstr);
  }
  if (endpoint.transport == Endpoint::Transport::tcp) redisEnableKeepAlive(raw);
  return std::unique_ptr<Connection>(new Connection(std::move(handle), std::move(where), command_timeout_ms));
}

Connection::Connection(std::unique_ptr<Handle> handle, std::string endpoint_text,
                       std::int64_t command_timeout_ms)
    : handle_(std::move(handle)),
      endpoint_text_(std::move(endpoint_text)),
      command_timeout_ms_(command_timeout_ms) {}

Connection::~Connection() = default;

bool Connection::usable() const {
  const redisContext* context = handle_->context;
  if (broken_ || context->err != 0) return false;
  if (context->reader->pos < context->reader->len) return false;  // unread bytes: out of step
  pollfd watch{context->fd, POLLIN, 0};
  return poll(&watch, 1, 0) == 0;
}

void Connection::fail_io(std::string_view command_name, int saved_errno) {
  broken_ = true;
  const redisContext* context = handle_->context;
  std::string detail;
  if (context->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
    detail = "timed out (command_timeout_ms=" + std::to_string(command_timeout_ms_) + ")";
  } else if (context->err == REDIS_ERR_EOF) {
    detail = "connection closed by the server";
  } else {
    detail = context->errstr[0] != '\0' ? context->errstr : "I/O error";
  }
  throw OperationError(ErrorCategory::unavailable,
                       "redis " + std::string(command_name) + " on " + endpoint_text_ + ": " + detail);
}

Reply Connection::execute(const std::vector<std::string_view>& args) {
  assert(!broken_ && !args.empty());
  ArgvView argv(args);
  SigpipeBlock sigpipe_block;
  errno = 0;
  void* raw = redisCommandArgv(handle_->context, argv.count(), argv.pointers(), argv.lengths());
  int saved_errno = errno;
  if (raw == nullptr) fail_io(args.front(), saved_errno);
  return take_reply(raw);
}

std::vector<Reply> Connection::execute_all(const std::vector<std::vector<std::string>>& commands) {
  assert(!broken_);
  redisContext* context = handle_->context;
  for (const auto& command : commands) {
    ArgvView argv(command);
    // Appending only fills the output buffer; it fails only when out of memory.
    if (redisAppendCommandArgv(context, argv.count(), argv.pointers(), argv.lengths()) != REDIS_OK) {
      fail_io("pipeline", errno);
    }
  }
  SigpipeBlock sigpipe_block;
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    errno = 0;
    // The first read flushes the whole output buffer: every command leaves before any reply is read.
    int status = redisGetReply(context, &raw);
    int saved_errno = errno;
    if (status != REDIS_OK || raw == nullptr) fail_io("pipeline", saved_errno);
    replies.push_back(take_reply(raw));
  }
  return replies;
}

std::optional<Reply> Connection::next_pushed(std::int64_t wait_ms) {
  assert(!broken_);
  redisContext* context = handle_->context;
  void* raw = nullptr;
  // A message may already sit in the reader's buffer, read along with an earlier one.
  if (redisGetReplyFromReader(context, &raw) != REDIS_OK) fail_io("subscribe", errno);
  if (raw != nullptr) return take_reply(raw);
  pollfd watch{context->fd, POLLIN, 0};
  const int ready = poll(&watch, 1, static_cast<int>(std::clamp<std::int64_t>(wait_ms, 0, 60'000)));
  if (ready == 0 || (ready < 0 && errno == EINTR)) return std::nullopt;
  if (ready < 0) fail_io("subscribe", errno);
  errno = 0;
  if (redisBufferRead(context) != REDIS_OK) fail_io("subscribe", errno);
  if (redisGetReplyFromReader(context, &raw) != REDIS_OK) fail_io("subscribe", errno);
  if (raw == nullptr) return std::nullopt;  // part of a message: the rest comes with the next read
  return take_reply(raw);
}

}  // namespace flightplan::redis::detail
