// FakeJobStore's bulk actions, as pg_job_bulk.cc runs them: the oldest
// matching jobs first (created_at, position, id), at most the limit, each
// changed as RetryJob or CancelJob changes one; a conversation's retried
// jobs take new positions in that order. The fake holds no row locks, so no job
// is ever skipped as held.

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "storage/bulk_jobs.h"
#include "storage/fake_job_store.h"

namespace jobqueue {

BulkJobs FakeJobStore::bulk_jobs() const {
  absl::MutexLock lock(&mu_);
  return bulk_jobs_;
}

absl::StatusOr<RetryJobsResult> FakeJobStore::RetryJobs(const BulkJobs& jobs,
                                                        absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  bulk_jobs_ = jobs;
  if (absl::Status s = Begin("RetryJobs", deadline); !s.ok()) return s;
  if (absl::Status s = CheckBulkRetry(jobs); !s.ok()) return s;
  std::vector<Row*> rows = OldestMatching(
      jobs.filter,
      [](const Job& job) { return job.status == JobStatus::kFailed; },
      jobs.limit + 1);
  RetryJobsResult result{.more = static_cast<int>(rows.size()) > jobs.limit};
  if (result.more) rows.pop_back();
  result.retried = static_cast<int>(rows.size());
  if (jobs.dry_run) return result;
  // By conversation (unordered jobs last), each in the order taken.
  std::stable_sort(rows.begin(), rows.end(), [](const Row* a, const Row* b) {
    const std::string ka = KeyOf(a->job), kb = KeyOf(b->job);
    return std::make_tuple(ka.empty(), ka) < std::make_tuple(kb.empty(), kb);
  });
  for (Row* row : rows) Retry(*row);
  return result;
}

absl::StatusOr<CancelJobsResult> FakeJobStore::CancelJobs(const BulkJobs& jobs,
                                                          absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  bulk_jobs_ = jobs;
  if (absl::Status s = Begin("CancelJobs", deadline); !s.ok()) return s;
  if (absl::Status s = CheckBulkCancel(jobs); !s.ok()) return s;
  std::vector<Row*> rows = OldestMatching(
      jobs.filter,
      [](const Job& job) {
        return CancellableByBulk(job.status) &&
               job.cancel_requested_at == absl::InfinitePast();
      },
      jobs.limit + 1);
  CancelJobsResult result{.more = static_cast<int>(rows.size()) > jobs.limit};
  if (result.more) rows.pop_back();
  for (Row* row : rows) {
    if (row->job.status == JobStatus::kProcessing) {
      ++result.cancel_requested;
    } else {
      ++result.cancelled;
    }
    if (!jobs.dry_run) Cancel(*row);
  }
  return result;
}

}  // namespace jobqueue
