#include "storage/connection_pool.h"

#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/sql_error.h"

namespace jobqueue {

ConnectionPool::Lease::Lease(ConnectionPool* pool,
                             std::unique_ptr<pqxx::connection> connection,
                             bool fresh, DeadlineWatch::Guard guard)
    : pool_(pool),
      connection_(std::move(connection)),
      fresh_(fresh),
      guard_(std::move(guard)) {}

ConnectionPool::Lease::~Lease() {
  if (connection_ == nullptr) return;
  // Stop watching before the connection can go to another caller.
  const bool cut_off = guard_.fired();
  guard_ = DeadlineWatch::Guard();
  pool_->Return(std::move(connection_), broken_ || cut_off);
}

ConnectionPool::ConnectionPool(Options options)
    : core_(std::make_shared<Core>(std::move(options))) {}

// A connection still being opened outlives the pool, but its on_connect (which
// may use the pool's owner) must not: wait for any running one, cut short by
// shutting its socket, and stop later ones.
ConnectionPool::~ConnectionPool() {
  Close();
  core_->watch.FireAll();
  absl::MutexLock lock(&core_->callback_mu);
  core_->owner_gone = true;
}

ConnectionPool::Stats ConnectionPool::stats() const {
  absl::MutexLock lock(&core_->mu);
  const int idle = static_cast<int>(core_->idle.size());
  return {.in_use = core_->open - idle,
          .idle = idle,
          .waiting = core_->waiting,
          .max_size = core_->options.max_size};
}

ConnectionPool::Lease ConnectionPool::Watched(
    std::unique_ptr<pqxx::connection> connection, bool fresh,
    absl::Time deadline) {
  DeadlineWatch::Guard guard = core_->watch.Watch(connection->sock(), deadline);
  return Lease(this, std::move(connection), fresh, std::move(guard));
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(
    absl::Time deadline) {
  Core& c = *core_;
  std::shared_ptr<Opening> opening;
  {
    absl::MutexLock lock(&c.mu);
    while (true) {
      if (c.closed) return absl::UnavailableError("connection pool is closed");
      if (!c.idle.empty()) {
        std::unique_ptr<pqxx::connection> idle = std::move(c.idle.back());
        c.idle.pop_back();
        return Watched(std::move(idle), /*fresh=*/false, deadline);
      }
      if (c.open < c.options.max_size) break;
      ++c.waiting;
      const bool timed_out = c.changed.WaitWithDeadline(&c.mu, deadline);
      --c.waiting;
      if (timed_out && absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "no database connection became free before the deadline (all ",
            c.options.max_size, " in use)"));
      }
    }
    ++c.open;
    opening = std::make_shared<Opening>();
    std::thread(Open, core_, opening).detach();
    while (!opening->done) {
      if (c.closed) {
        opening->abandoned = true;
        return absl::UnavailableError("connection pool is closed");
      }
      if (c.changed.WaitWithDeadline(&c.mu, deadline) && !opening->done &&
          absl::Now() >= deadline) {
        // The connection joins the pool when it is ready.
        opening->abandoned = true;
        return absl::DeadlineExceededError(
            "the database did not accept a connection before the deadline");
      }
    }
    if (!opening->status.ok()) return opening->status;
  }
  return Watched(std::move(opening->connection), /*fresh=*/true, deadline);
}

void ConnectionPool::Open(std::shared_ptr<Core> core,
                          std::shared_ptr<Opening> opening) {
  std::unique_ptr<pqxx::connection> connection;
  absl::Status status;
  try {
    connection = std::make_unique<pqxx::connection>(core->options.url);
    DeadlineWatch::Guard guard = core->watch.Watch(
        connection->sock(), absl::Now() + core->options.open_timeout);
    {
      absl::ReaderMutexLock callbacks(&core->callback_mu);
      if (core->owner_gone) {
        status = absl::UnavailableError("connection pool is closed");
      } else if (core->options.on_connect) {
        core->options.on_connect(*connection);
      }
    }
    if (status.ok() && guard.fired()) {
      status = absl::UnavailableError("opening timed out");
    }
  } catch (...) {
    status = StatusFromCurrentException();
    if (status.code() == absl::StatusCode::kInternal) {
      status = absl::UnavailableError(status.message());
    }
  }
  absl::MutexLock lock(&core->mu);
  if (!status.ok() || opening->abandoned) {
    if (status.ok() && !core->closed) {
      core->idle.push_back(std::move(connection));
    } else {
      --core->open;
      connection.reset();
    }
  } else {
    opening->connection = std::move(connection);
  }
  opening->status = status;
  opening->done = true;
  core->changed.SignalAll();
}

void ConnectionPool::Return(std::unique_ptr<pqxx::connection> connection,
                            bool broken) {
  absl::MutexLock lock(&core_->mu);
  if (broken || core_->closed || !connection->is_open()) {
    connection.reset();
    --core_->open;
  } else {
    core_->idle.push_back(std::move(connection));
  }
  core_->changed.SignalAll();
}

void ConnectionPool::Interrupt() {
  Close();
  core_->watch.FireAll();
}

void ConnectionPool::Close() {
  std::vector<std::unique_ptr<pqxx::connection>> idle;
  absl::MutexLock lock(&core_->mu);
  core_->closed = true;
  idle.swap(core_->idle);
  core_->open -= static_cast<int>(idle.size());
  core_->changed.SignalAll();
}

}  // namespace jobqueue
