// The job an enqueue asks for: every field the caller chose, as a store
// keeps it, and none the store chooses (id, status, created_at, updated_at,
// run_after, attempts, leases). Both stores start a new job from it.
//
//   Job j = RequestedJob(new_job);
//   j.id = ...;

#ifndef JOBQUEUE_STORAGE_REQUESTED_JOB_H_
#define JOBQUEUE_STORAGE_REQUESTED_JOB_H_

#include "storage/job_store.h"

namespace jobqueue {

// `job`'s fields; the user is its phone number, and max_run_time is kept
// in whole milliseconds (the column is max_run_ms).
Job RequestedJob(const NewJob& job);

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_REQUESTED_JOB_H_
