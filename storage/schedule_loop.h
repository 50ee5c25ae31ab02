// Promotes due scheduled jobs in the background: JobStore::PromoteScheduled
// every `interval`, at once again while rounds come back full. Every
// replica runs one, apart from the maintenance lock (a replica stalled in
// maintenance does not hold scheduled jobs back); the store's SKIP LOCKED
// keeps two replicas from moving one job. A job is pending within about
// `interval` plus one round's time after it is due.
//
//   ScheduleLoop loop(&store, {.interval = absl::Milliseconds(250)});
//   ...
//   loop.Stop();

#ifndef JOBQUEUE_STORAGE_SCHEDULE_LOOP_H_
#define JOBQUEUE_STORAGE_SCHEDULE_LOOP_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/job_store.h"
#include "storage/round_loop.h"

namespace jobqueue {

class ScheduleLoop {
 public:
  struct Options {
    absl::Duration interval = absl::Milliseconds(250);
    // Jobs per round, so one statement stays short.
    int batch = 1000;
    // Each round's deadline.
    absl::Duration round_deadline = absl::Seconds(5);
    // Called after every round with how many jobs moved, or its error.
    std::function<void(const absl::StatusOr<int>&)> on_round;
  };

  // Starts at once. `store` must outlive the loop.
  ScheduleLoop(JobStore* store, Options options);

  // Waits for a round in progress (at most its deadline), then returns;
  // idempotent.
  void Stop() { loop_.Stop(); }

 private:
  // One round; true when it was full.
  bool Round();

  JobStore* const store_;
  const Options options_;
  // The last error logged, so a database that is down logs once.
  std::string logged_error_;
  RoundLoop loop_;  // last: its thread uses the members above
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_SCHEDULE_LOOP_H_
