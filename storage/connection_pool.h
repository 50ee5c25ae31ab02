// A bounded pool of PostgreSQL connections shared by concurrent RPCs.
//
// Connections are opened on demand up to `max_size`; a caller that finds
// none free waits until one is returned or its deadline passes. A connection
// marked broken is closed instead of returned, and the next caller opens a
// fresh one, so a restarted database heals the pool by itself.
//
// Every wait ends by the caller's deadline, whatever the database does: a
// connection is opened on a thread of its own (the caller stops waiting at
// its deadline and the connection joins the pool when ready), and a leased
// connection's socket is shut down when the lease's deadline passes (see
// DeadlineWatch), so a statement blocked on a database that does not answer
// fails then with a broken connection and Lease::timed_out().
//
// A connection still being opened outlives the pool (its on_connect does
// not: see Core::callback_mu). Known gap: if the process exits meanwhile,
// that thread can race with libraries' exit-time destructors (libkrb5's, under
// libpq's GSSAPI probe; seen under ThreadSanitizer).
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
#include "storage/deadline_watch.h"

namespace jobqueue {

class ConnectionPool {
 public:
  struct Options {
    std::string url;
    int max_size = 8;
    // Runs on every new connection (e.g. to prepare statements); an
    // exception from it fails the open.
    std::function<void(pqxx::connection&)> on_connect;
    // Longest an open (connect plus on_connect) may take.
    absl::Duration open_timeout = absl::Seconds(10);
  };

  // Returns its connection to the pool when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    pqxx::connection& connection() { return *connection_; }
    // True when the connection was opened for this lease.
    bool fresh() const { return fresh_; }
    // The connection will be closed instead of reused.
    void MarkBroken() { broken_ = true; }
    // True when the lease's deadline (or Interrupt) cut the connection off.
    bool timed_out() const { return guard_.fired(); }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<pqxx::connection> connection,
          bool fresh, DeadlineWatch::Guard guard);

    ConnectionPool* pool_;
    std::unique_ptr<pqxx::connection> connection_;
    bool fresh_;
    bool broken_ = false;
    DeadlineWatch::Guard guard_;
  };

  explicit ConnectionPool(Options options);
  // All leases must have been returned. An open still in progress ends by
  // itself (within the connect timeout) and is then discarded.
  ~ConnectionPool();

  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection, or UNAVAILABLE when the database cannot be reached or the
  // pool is closed, or DEADLINE_EXCEEDED when none was free in time.
  absl::StatusOr<Lease> Acquire(absl::Time deadline);

  // Closes idle connections and refuses new Acquire calls; leases still out
  // are closed when returned.
  void Close();

  // Closes the pool and cuts off every leased connection now, so calls
  // blocked on the database, or waiting for a connection, fail at once (a
  // server whose shutdown grace is over).
  void Interrupt();

  // A moment's occupancy, for metrics.
  struct Stats {
    int in_use = 0;   // leased or being opened
    int idle = 0;     // open and free
    int waiting = 0;  // Acquire calls blocked because all are in use
    int max_size = 0;
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One connection being opened; shared by the opening thread and the
  // caller waiting for it, which may stop waiting at its deadline.
  struct Opening {
    bool done = false;
    bool abandoned = false;
    std::unique_ptr<pqxx::connection> connection;
    absl::Status status;
  };

  // The pool's state, shared with threads still opening connections, which
  // may outlive the pool.
  struct Core {
    explicit Core(Options options) : options(std::move(options)) {}
    const Options options;
    DeadlineWatch watch;
    mutable absl::Mutex mu;
    absl::CondVar changed;
    std::vector<std::unique_ptr<pqxx::connection>> idle ABSL_GUARDED_BY(mu);
    int open ABSL_GUARDED_BY(mu) = 0;  // idle + leased + being opened
    int waiting ABSL_GUARDED_BY(mu) = 0;
    bool closed ABSL_GUARDED_BY(mu) = false;
    // on_connect runs under a reader lock of this; the pool's destructor
    // sets owner_gone under the writer lock, so no on_connect (which may use
    // its owner) runs once the pool is gone. Openers outlive the pool.
    absl::Mutex callback_mu;
    bool owner_gone ABSL_GUARDED_BY(callback_mu) = false;
  };

  static void Open(std::shared_ptr<Core> core,
                   std::shared_ptr<Opening> opening);
  void Return(std::unique_ptr<pqxx::connection> connection, bool broken);
  Lease Watched(std::unique_ptr<pqxx::connection> connection, bool fresh,
                absl::Time deadline);

  const std::shared_ptr<Core> core_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_CONNECTION_POOL_H_
