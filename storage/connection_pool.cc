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
    : options_(std::move(options)) {}

ConnectionPool::~ConnectionPool() {
  Close();
  absl::MutexLock lock(&mu_);
  while (opening_ > 0) changed_.Wait(&mu_);
}

ConnectionPool::Stats ConnectionPool::stats() const {
  absl::MutexLock lock(&mu_);
  const int idle = static_cast<int>(idle_.size());
  return {.in_use = open_ - idle,
          .idle = idle,
          .waiting = waiting_,
          .max_size = options_.max_size};
}

ConnectionPool::Lease ConnectionPool::Watched(
    std::unique_ptr<pqxx::connection> connection, bool fresh,
    absl::Time deadline) {
  DeadlineWatch::Guard guard = watch_.Watch(connection->sock(), deadline);
  return Lease(this, std::move(connection), fresh, std::move(guard));
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(
    absl::Time deadline) {
  std::shared_ptr<Opening> opening;
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      if (closed_) return absl::UnavailableError("connection pool is closed");
      if (!idle_.empty()) {
        std::unique_ptr<pqxx::connection> c = std::move(idle_.back());
        idle_.pop_back();
        return Watched(std::move(c), /*fresh=*/false, deadline);
      }
      if (open_ < options_.max_size) break;
      ++waiting_;
      const bool timed_out = changed_.WaitWithDeadline(&mu_, deadline);
      --waiting_;
      if (timed_out && absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "no database connection became free before the deadline (all ",
            options_.max_size, " in use)"));
      }
    }
    ++open_;
    ++opening_;
    opening = std::make_shared<Opening>();
    std::thread([this, opening] { Open(opening); }).detach();
    while (!opening->done) {
      if (changed_.WaitWithDeadline(&mu_, deadline) && !opening->done &&
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

void ConnectionPool::Open(std::shared_ptr<Opening> opening) {
  std::unique_ptr<pqxx::connection> connection;
  absl::Status status;
  try {
    connection = std::make_unique<pqxx::connection>(options_.url);
    DeadlineWatch::Guard guard =
        watch_.Watch(connection->sock(), absl::Now() + options_.open_timeout);
    if (options_.on_connect) options_.on_connect(*connection);
    if (guard.fired()) status = absl::UnavailableError("opening timed out");
  } catch (...) {
    status = StatusFromCurrentException();
    if (status.code() == absl::StatusCode::kInternal) {
      status = absl::UnavailableError(status.message());
    }
  }
  absl::MutexLock lock(&mu_);
  --opening_;
  if (!status.ok() || opening->abandoned) {
    if (status.ok() && !closed_) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
    }
  } else {
    opening->connection = std::move(connection);
  }
  opening->status = status;
  opening->done = true;
  changed_.SignalAll();
}

void ConnectionPool::Return(std::unique_ptr<pqxx::connection> connection,
                            bool broken) {
  absl::MutexLock lock(&mu_);
  if (broken || closed_ || !connection->is_open()) {
    connection.reset();
    --open_;
  } else {
    idle_.push_back(std::move(connection));
  }
  changed_.SignalAll();
}

void ConnectionPool::Close() {
  std::vector<std::unique_ptr<pqxx::connection>> idle;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    idle.swap(idle_);
    open_ -= static_cast<int>(idle.size());
    changed_.SignalAll();
  }
}

}  // namespace jobqueue
