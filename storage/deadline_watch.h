// Ends database calls that outlive their deadline. A call blocked on a
// PostgreSQL that does not answer (paused, partitioned, overloaded) waits in
// a socket read that no timeout of libpq bounds; at the deadline this shuts
// the connection's socket down, so the read returns at once and the call
// fails with a broken connection. One thread serves every watched socket.
//
//   DeadlineWatch watch;
//   DeadlineWatch::Guard guard = watch.Watch(connection.sock(), deadline);
//   ... run the statement ...
//   if (guard.fired()) ...  // the deadline cut it off

#ifndef JOBQUEUE_STORAGE_DEADLINE_WATCH_H_
#define JOBQUEUE_STORAGE_DEADLINE_WATCH_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobqueue {

class DeadlineWatch {
 public:
  // Watches one socket until destroyed; the socket is never touched after.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&& other) noexcept;
    ~Guard();

    // True once the socket was shut down (deadline or FireAll).
    bool fired() const { return fired_ != nullptr && *fired_; }

   private:
    friend class DeadlineWatch;
    Guard(DeadlineWatch* watch, uint64_t id,
          std::shared_ptr<std::atomic<bool>> fired)
        : watch_(watch), id_(id), fired_(std::move(fired)) {}
    void Release();

    DeadlineWatch* watch_ = nullptr;
    uint64_t id_ = 0;
    std::shared_ptr<std::atomic<bool>> fired_;
  };

  DeadlineWatch();
  // Every guard must be gone.
  ~DeadlineWatch();

  DeadlineWatch(const DeadlineWatch&) = delete;
  DeadlineWatch& operator=(const DeadlineWatch&) = delete;

  // Shuts `fd` down at `deadline` unless the guard is gone by then. An
  // infinite deadline is never reached.
  Guard Watch(int fd, absl::Time deadline);

  // Shuts every watched socket down now (a server that must stop).
  void FireAll();

 private:
  struct Entry {
    int fd;
    absl::Time deadline;
    std::shared_ptr<std::atomic<bool>> fired;
  };

  void Run();
  void Forget(uint64_t id);
  static void Fire(Entry& entry);

  absl::Mutex mu_;
  absl::CondVar changed_;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_DEADLINE_WATCH_H_
