#include "storage/connection_pool.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/sql_error.h"

namespace jobqueue {

ConnectionPool::Lease::Lease(ConnectionPool* pool,
                             std::unique_ptr<pqxx::connection> connection,
                             bool fresh)
    : pool_(pool), connection_(std::move(connection)), fresh_(fresh) {}

ConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_),
      connection_(std::move(other.connection_)),
      fresh_(other.fresh_),
      broken_(other.broken_) {}

ConnectionPool::Lease::~Lease() {
  if (connection_ != nullptr) pool_->Return(std::move(connection_), broken_);
}

ConnectionPool::ConnectionPool(Options options)
    : options_(std::move(options)) {}

ConnectionPool::~ConnectionPool() { Close(); }

ConnectionPool::Stats ConnectionPool::stats() const {
  absl::MutexLock lock(&mu_);
  const int idle = static_cast<int>(idle_.size());
  return {.in_use = open_ - idle,
          .idle = idle,
          .waiting = waiting_,
          .max_size = options_.max_size};
}

absl::StatusOr<ConnectionPool::Lease> ConnectionPool::Acquire(
    absl::Time deadline) {
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      if (closed_) return absl::UnavailableError("connection pool is closed");
      if (!idle_.empty()) {
        std::unique_ptr<pqxx::connection> c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(c), /*fresh=*/false);
      }
      if (open_ < options_.max_size) break;
      ++waiting_;
      const bool timed_out = returned_.WaitWithDeadline(&mu_, deadline);
      --waiting_;
      if (timed_out && absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "no database connection became free before the deadline (all ",
            options_.max_size, " in use)"));
      }
    }
    ++open_;
  }
  // Open outside the lock: connecting takes a round trip or a timeout.
  try {
    auto c = std::make_unique<pqxx::connection>(options_.url);
    if (options_.on_connect) options_.on_connect(*c);
    return Lease(this, std::move(c), /*fresh=*/true);
  } catch (...) {
    absl::Status status = StatusFromCurrentException();
    absl::MutexLock lock(&mu_);
    --open_;
    returned_.Signal();
    if (status.code() == absl::StatusCode::kInternal) {
      return absl::UnavailableError(status.message());
    }
    return status;
  }
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
  returned_.Signal();
}

void ConnectionPool::Close() {
  std::vector<std::unique_ptr<pqxx::connection>> idle;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    idle.swap(idle_);
    open_ -= static_cast<int>(idle.size());
    returned_.SignalAll();
  }
}

}  // namespace jobqueue
