#include "storage/recurring_loop.h"

#include <cstdio>
#include <string>
#include <utility>

namespace jobqueue {

RecurringLoop::RecurringLoop(JobStore* store, Options options)
    : store_(store),
      options_(std::move(options)),
      loop_(options_.interval, [this] { return Round(); }) {}

bool RecurringLoop::Round() {
  absl::StatusOr<ScheduleTickReport> report = store_->RunSchedules(
      options_.max_schedules, absl::Now() + absl::Seconds(10));
  if (!report.ok()) {
    std::fprintf(stderr, "jobqueue: schedules: round failed: %s\n",
                 report.status().ToString().c_str());
  } else {
    for (const std::string& error : report->errors) {
      std::fprintf(stderr,
                   "jobqueue: schedules: tick not enqueued, tried again "
                   "next round: %s\n",
                   error.c_str());
    }
    if (report->skipped_ticks > 0) {
      std::fprintf(stderr,
                   "jobqueue: schedules: %lld missed ticks passed over "
                   "(only each schedule's latest missed tick is "
                   "enqueued)\n",
                   static_cast<long long>(report->skipped_ticks));
    }
  }
  if (options_.on_round) options_.on_round(report);
  // A full round leaves more due schedules: the next one runs at once.
  return report.ok() && report->enqueued >= options_.max_schedules;
}

}  // namespace jobqueue
