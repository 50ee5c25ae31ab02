// Runs JobStore::RunMaintenance in the background at a fixed interval:
// rescues lapsed leases and deletes completed jobs past their retention.
// Every replica may run one; the store lets one process work per round.
//
//   MaintenanceLoop loop(&store, {.interval = absl::Seconds(1)});
//   ...
//   loop.Stop();

#ifndef JOBQUEUE_SERVICE_MAINTENANCE_LOOP_H_
#define JOBQUEUE_SERVICE_MAINTENANCE_LOOP_H_

#include <thread>

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
  };

  // Starts at once. `store` must outlive the loop.
  MaintenanceLoop(JobStore* store, Options options);
  // Calls Stop().
  ~MaintenanceLoop();

  // Waits for a round in progress, then returns; idempotent.
  void Stop();

 private:
  void Run();

  JobStore* const store_;
  const Options options_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_MAINTENANCE_LOOP_H_
