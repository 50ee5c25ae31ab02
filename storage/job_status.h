// A job's status, as the jobs.status column spells it.
//
//   JobStatusName(JobStatus::kPending)  // "pending"
//   std::optional<JobStatus> s = ParseJobStatus("failed");

#ifndef JOBQUEUE_STORAGE_JOB_STATUS_H_
#define JOBQUEUE_STORAGE_JOB_STATUS_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace jobqueue {

// kScheduled: enqueued to run later; pending once due (JobStore).
enum class JobStatus {
  kPending,
  kProcessing,
  kComplete,
  kFailed,
  kCancelled,
  kScheduled
};

// The column value: "pending", "processing", "complete", "failed",
// "cancelled" or "scheduled".
absl::string_view JobStatusName(JobStatus status);

// The status a column value names; nullopt for any other text.
std::optional<JobStatus> ParseJobStatus(absl::string_view name);

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_JOB_STATUS_H_
