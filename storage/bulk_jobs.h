// What every store checks of a RetryJobs or CancelJobs request before it
// reads a row, so PgJobStore and FakeJobStore refuse the same requests in
// the same words.
//
//   if (absl::Status s = CheckBulkRetry(jobs); !s.ok()) return s;

#ifndef JOBQUEUE_STORAGE_BULK_JOBS_H_
#define JOBQUEUE_STORAGE_BULK_JOBS_H_

#include "absl/status/status.h"
#include "storage/job_status.h"
#include "storage/job_store.h"

namespace jobqueue {

// INVALID_ARGUMENT for a limit outside 1 to kMaxBulkLimit, a status
// filter other than kFailed, or a filter and `all` both set or both not
// (the status, failed whatever is set, narrows nothing here).
absl::Status CheckBulkRetry(const BulkJobs& jobs);

// INVALID_ARGUMENT for a limit outside 1 to kMaxBulkLimit, a status
// filter CancelJobs cannot act on (see CancellableByBulk), or a filter
// and `all` both set or both not (a status counts as a filter).
absl::Status CheckBulkCancel(const BulkJobs& jobs);

// Scheduled, pending or processing: the statuses CancelJobs acts on.
bool CancellableByBulk(JobStatus status);

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_BULK_JOBS_H_
