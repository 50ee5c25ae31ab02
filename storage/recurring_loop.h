// Runs JobStore::RunSchedules in the background at a fixed interval, so
// recurring schedules enqueue their jobs. Every replica runs one; the store
// makes each tick one job however many run at once. Each round's report
// goes to `on_round` (for metrics); failures and ticks passed over after an
// outage also go to stderr.
//
//   RecurringLoop loop(&store, {.interval = absl::Seconds(1)});
//   ...
//   loop.Stop();

#ifndef JOBQUEUE_STORAGE_RECURRING_LOOP_H_
#define JOBQUEUE_STORAGE_RECURRING_LOOP_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/job_store.h"
#include "storage/round_loop.h"

namespace jobqueue {

class RecurringLoop {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(1);
    // Schedules one round takes at most; a round that took this many runs
    // again at once.
    int max_schedules = 100;
    // Called after every round with its report or its error.
    std::function<void(const absl::StatusOr<ScheduleTickReport>&)> on_round;
  };

  // Starts at once. `store` must outlive the loop.
  RecurringLoop(JobStore* store, Options options);

  // Waits for a round in progress, then returns; idempotent.
  void Stop() { loop_.Stop(); }

 private:
  // One round; true when it took max_schedules.
  bool Round();

  JobStore* const store_;
  const Options options_;
  RoundLoop loop_;  // last: its thread uses the members above
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_RECURRING_LOOP_H_
