#include "storage/schedule_loop.h"

#include <cstdio>
#include <utility>

namespace jobqueue {

ScheduleLoop::ScheduleLoop(JobStore* store, Options options)
    : store_(store),
      options_(std::move(options)),
      loop_(options_.interval, [this] { return Round(); }) {}

bool ScheduleLoop::Round() {
  const absl::StatusOr<int> moved = store_->PromoteScheduled(
      options_.batch, absl::Now() + options_.round_deadline);
  if (options_.on_round) options_.on_round(moved);
  if (!moved.ok() && moved.status().ToString() != logged_error_) {
    logged_error_ = moved.status().ToString();
    std::fprintf(stderr,
                 "jobqueue: promoting due scheduled jobs failed (retried "
                 "every round): %s\n",
                 logged_error_.c_str());
  } else if (moved.ok() && !logged_error_.empty()) {
    logged_error_.clear();
    std::fprintf(stderr, "jobqueue: promoting scheduled jobs works again\n");
  }
  return moved.ok() && *moved >= options_.batch;
}

}  // namespace jobqueue
