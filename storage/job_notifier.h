// Wakes callers waiting for new work: one LISTEN connection per process,
// fanned out to any number of waiting ClaimJobs calls.
//
// The database notifies "jobqueue_jobs_changed" when a job may have become
// claimable (see migrations). Each notification, and each reconnect (when
// notifications may have been missed), bumps a generation number.
//
//   JobNotifier notifier(url);
//   uint64_t seen = notifier.generation();
//   ... try to claim; nothing there ...
//   notifier.WaitForChange(seen, deadline);
//
// The service's own changes are announced by the process that made them
// (Announce, after its commit), not by the trigger inside the transaction:
// a transaction that notifies holds a database-wide lock from its commit
// until the commit is durable, so notifying writers commit one at a time.
//
// LISTEN needs a session of its own: a direct connection or a session
// pooler, never a transaction pooler (which hands each transaction to any
// server connection, so notifications never arrive). Without such a URL, a
// notifier made with an empty URL polls: the generation never changes, and
// waiters wake at their deadline (the caller's recheck interval).

#ifndef JOBQUEUE_STORAGE_JOB_NOTIFIER_H_
#define JOBQUEUE_STORAGE_JOB_NOTIFIER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/deadline_watch.h"

namespace jobqueue {

class JobNotifier {
 public:
  // Starts listening in a background thread; reconnects with backoff when
  // the connection breaks. An empty URL: polling (no thread, no database).
  // Announcements go to `announce_url` (any pooling will do), by default
  // `database_url`; with both empty, only this process hears them.
  explicit JobNotifier(std::string database_url, std::string announce_url = "");
  // Calls Close().
  ~JobNotifier();

  JobNotifier(const JobNotifier&) = delete;
  JobNotifier& operator=(const JobNotifier&) = delete;

  uint64_t generation();

  // Wakes waiting claims after this process committed a change that may
  // have made jobs claimable: at once in this process, and in every other
  // listening process by one NOTIFY sent from a connection of its own
  // (announcements made while one is being sent make one more). Never
  // blocks; a database that does not answer delays only other processes.
  void Announce();

  // True when made without a URL: nothing is listened to.
  bool polling() const { return polling_; }

  // Returns true as soon as the generation differs from `seen`, false at
  // `deadline` or once the notifier is closed.
  bool WaitForChange(uint64_t seen, absl::Time deadline);
  // As WaitForChange, and also returns false once `*stop` is true and
  // WakeWaiters ran after it was set: a waiter's own reason to stop
  // waiting (a worker's stream got a message). `stop` may be null.
  bool WaitForChange(uint64_t seen, absl::Time deadline,
                     const std::atomic<bool>* stop);
  // Has every waiter look at its `stop` again; call after setting one.
  void WakeWaiters();
  // True once StartClose ran: the server is stopping.
  bool closed();

  // Releases every waiter and stops listening at once, cutting off a
  // database that does not answer; does not wait for the listener.
  void StartClose();
  // StartClose, then waits briefly for the listener to end. A listener
  // still connecting to a database that does not answer is left to end by
  // itself (within the connect timeout); it owns what it uses.
  void Close();

 private:
  // What the listener thread shares with the notifier, kept alive by both.
  struct State {
    State(std::string url, std::string announce_url)
        : url(std::move(url)), announce_url(std::move(announce_url)) {}
    const std::string url;
    const std::string announce_url;
    DeadlineWatch watch;
    absl::Mutex mu;
    uint64_t generation ABSL_GUARDED_BY(mu) = 0;
    bool closed ABSL_GUARDED_BY(mu) = false;
    bool ended ABSL_GUARDED_BY(mu) = false;
    bool announce ABSL_GUARDED_BY(mu) = false;
    bool announcer_ended ABSL_GUARDED_BY(mu) = false;
    // The backend of the announcing connection: its echo wakes no one here.
    int announcer_pid ABSL_GUARDED_BY(mu) = 0;
  };

  static void Run(std::shared_ptr<State> state);
  static void RunAnnouncer(std::shared_ptr<State> state);
  static void Bump(State& state);

  const bool polling_;
  const std::shared_ptr<State> state_;
  std::thread thread_;
  std::thread announcer_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_JOB_NOTIFIER_H_
