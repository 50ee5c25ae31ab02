// Runs JobStore::RunMaintenance in the background at a fixed interval:
// rescues lapsed leases, deletes completed jobs past their retention, and
// repairs conversation counts. Every replica may run one; the store lets
// one process work per round. Each round's report goes to `on_round` (for
// metrics); what needs an operator's attention also goes to stderr.
//
//   MaintenanceLoop loop(&store, {.interval = absl::Seconds(1)});
//   ...
//   loop.Stop();

#ifndef JOBQUEUE_STORAGE_MAINTENANCE_LOOP_H_
#define JOBQUEUE_STORAGE_MAINTENANCE_LOOP_H_

#include <functional>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "storage/job_store.h"

namespace jobqueue {

class MaintenanceLoop {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(1);
    // Completed jobs older than this are deleted; zero keeps them.
    absl::Duration retention = absl::Hours(24 * 7);
    // Deletions per round, so one round stays short.
    int max_deletes = 1000;
    // Called after every round with its report or its error.
    std::function<void(const absl::StatusOr<MaintenanceReport>&)> on_round;
  };

  // Starts at once. `store` must outlive the loop.
  MaintenanceLoop(JobStore* store, Options options);
  // Calls Stop().
  ~MaintenanceLoop();

  // Waits for a round in progress, then returns; idempotent.
  void Stop();

 private:
  void Run();
  // The stderr lines of one round.
  void Log(const absl::StatusOr<MaintenanceReport>& report);

  JobStore* const store_;
  const Options options_;
  absl::Notification stop_;
  // Lapsed leases last reported as held by another session, and when.
  int locked_logged_ = 0;
  absl::Time locked_logged_at_ = absl::InfinitePast();
  std::thread thread_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_MAINTENANCE_LOOP_H_
