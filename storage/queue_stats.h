// Reads how many jobs are in each status and how old the oldest pending one
// is, for metrics scraped a few times a minute. Uses a connection of its own,
// opened for each Read, so a scrape never takes one from the service's pool.
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

namespace jobqueue {

struct QueueSnapshot {
  // Every status of the schema ("pending", "processing", "complete",
  // "failed"), zero when no job has it.
  std::map<std::string, int64_t> jobs_by_status;
  // now() minus created_at of the oldest pending job; zero when none.
  absl::Duration oldest_pending_age;
};

class QueueStats {
 public:
  struct Options {
    std::string url;
  };

  explicit QueueStats(Options options) : options_(std::move(options)) {}

  // Counting is a scan of the (status, created_at) index, so its cost grows
  // with the table. UNAVAILABLE when the database cannot be reached,
  // DEADLINE_EXCEEDED when the statements outlast `deadline`.
  absl::StatusOr<QueueSnapshot> Read(absl::Time deadline) const;

 private:
  const Options options_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_QUEUE_STATS_H_
