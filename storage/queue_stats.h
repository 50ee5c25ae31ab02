// Reads how many jobs are in each status, how old the oldest pending one
// is and which queues are paused, for metrics scraped a few times a minute.
// Completed jobs are counted exactly up to Options::exact_count_limit rows,
// then estimated. Uses a connection of its own, opened for each Read, so a
// scrape never takes one from the service's pool.
//
//   QueueStats stats({.url = database_url});
//   absl::StatusOr<QueueSnapshot> s = stats.Read(absl::Now() +
//   absl::Seconds(5));

#ifndef JOBQUEUE_STORAGE_QUEUE_STATS_H_
#define JOBQUEUE_STORAGE_QUEUE_STATS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/deadline_watch.h"

namespace jobqueue {

struct QueueSnapshot {
  // Every status of the schema ("pending", "processing", "complete",
  // "failed", "cancelled", "scheduled"), zero when no job has it.
  std::map<std::string, int64_t> jobs_by_status;
  // now() minus created_at of the oldest pending job; zero when none.
  absl::Duration oldest_pending_age;
  // Every queue with settings (a row in queues), and whether it is paused;
  // a queue nothing was set for is not listed (it is not paused).
  std::map<std::string, bool> queue_paused;
};

class QueueStats {
 public:
  struct Options {
    std::string url;
    // Above this many rows in jobs (PostgreSQL's estimate), `complete` is
    // the estimate minus the other statuses instead of an exact count,
    // which would scan every completed job on each scrape (about a second
    // at 5,000,000 rows).
    int64_t exact_count_limit = 1000000;
  };

  explicit QueueStats(Options options) : options_(std::move(options)) {}

  // pending, processing and failed are exact counts over the (status,
  // created_at) index, so their cost grows with the active jobs only.
  // UNAVAILABLE when the database cannot be reached,
  // DEADLINE_EXCEEDED when the statements outlast `deadline`.
  // A database that does not answer is cut off at `deadline`.
  absl::StatusOr<QueueSnapshot> Read(absl::Time deadline) const;

  // Cuts off a Read in progress now (a server that must stop).
  void Interrupt() const { watch_.FireAll(); }

 private:
  const Options options_;
  mutable DeadlineWatch watch_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_QUEUE_STATS_H_
