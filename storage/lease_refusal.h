// What a refused lease call says when maintenance took the job back first:
// a job whose last attempt ended at its run-time limit says so, as the
// refusal of a heartbeat that came before maintenance does.

#ifndef JOBQUEUE_STORAGE_LEASE_REFUSAL_H_
#define JOBQUEUE_STORAGE_LEASE_REFUSAL_H_

#include "absl/status/status.h"
#include "storage/job_store.h"

namespace jobqueue {

// `refused` with the job's last attempt error added when `job` is no longer
// processing and that attempt reached its run-time limit; else `refused`.
absl::Status WithLastAttempt(const absl::Status& refused, const Job& job);

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_LEASE_REFUSAL_H_
