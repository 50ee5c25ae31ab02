// A bounded pool of PostgreSQL connections shared by concurrent RPCs.
//
// Connections are opened on demand up to `max_size`; a caller that finds
// none free waits until one is returned or its deadline passes. A connection
// marked broken is closed instead of returned, and the next caller opens a
// fresh one, so a restarted database heals the pool by itself.
//
//   ConnectionPool pool({.url = url, .max_size = 8});
//   absl::StatusOr<ConnectionPool::Lease> lease = pool.Acquire(deadline);
//   pqxx::work txn(lease->connection());

#ifndef JOBQUEUE_STORAGE_CONNECTION_POOL_H_
#define JOBQUEUE_STORAGE_CONNECTION_POOL_H_

#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobqueue {

class ConnectionPool {
 public:
  struct Options {
    std::string url;
    int max_size = 8;
    // Runs on every new connection (e.g. to prepare statements); an
    // exception from it fails the Acquire that opened the connection.
    std::function<void(pqxx::connection&)> on_connect;
  };

  // Returns its connection to the pool when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    pqxx::connection& connection() { return *connection_; }
    // True when the connection was opened for this lease.
    bool fresh() const { return fresh_; }
    // The connection will be closed instead of reused.
    void MarkBroken() { broken_ = true; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> connection,
          bool fresh);

    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
    bool fresh_;
    bool broken_ = false;
  };

  explicit ConnectionPool(Options options);
  // All leases must have been returned.
  ~ConnectionPool();

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection, or UNAVAILABLE when the database cannot be reached or the
  // pool is closed, or DEADLINE_EXCEEDED when none was free in time.
  absl::StatusOr<Lease> Acquire(absl::Time deadline);

  // Closes idle connections and refuses new Acquire calls; leases still out
  // are closed when returned.
  void Close();

  // A moment's occupancy, for metrics.
  struct Stats {
    int in_use = 0;   // leased or being opened
    int idle = 0;     // open and free
    int waiting = 0;  // Acquire calls blocked because all are in use
    int max_size = 0;
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Return(std::unique_ptr<pqxx::connection> connection, bool broken);

  const Options options_;
  mutable absl::Mutex mu_;
  absl::CondVar returned_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased + being opened
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_CONNECTION_POOL_H_
