// PgJobStore's bulk actions: RetryJobs and CancelJobs, their SQL in
// storage/queries/jobs_bulk.sql. Each call is one transaction over at most
// its limit of rows, locked in id order with SKIP LOCKED.

#include <algorithm>
#include <string>
#include <vector>

#include "storage/bulk_jobs.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"

namespace jobqueue {
namespace {

const NamedQuery& kRetryJobsPick = Query("retry_jobs_pick");
const NamedQuery& kCancelJobs = Query("cancel_jobs");
const NamedQuery& kRetryOne = Query("retry_job");

std::string Flag(bool b) { return b ? "true" : "false"; }

// Whether matching jobs are left after a call that read `candidates` (at
// most limit + 1) and locked `locked` of the first `limit`: some past the
// limit, or some of the first held by another session.
bool MoreLeft(int64_t candidates, int64_t locked, int limit) {
  return candidates > limit || locked < std::min<int64_t>(candidates, limit);
}

}  // namespace

void AddBulkStatements(StatementSet& c) {
  // Planned with their values every time (see jobs_bulk.sql).
  c.Add(kRetryJobsPick, /*prepared=*/false);
  c.Add(kCancelJobs, /*prepared=*/false);
}

absl::StatusOr<RetryJobsResult> PgJobStore::RetryJobs(const BulkJobs& jobs,
                                                      absl::Time deadline) {
  if (absl::Status s = CheckBulkRetry(jobs); !s.ok()) return s;
  const JobFilter& f = jobs.filter;
  // Not retry_safe: a call repeated after an answer was lost would report
  // other jobs than those it changed.
  return WithConnection<RetryJobsResult>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<RetryJobsResult> {
        pqxx::result picked = ExecWithValues(
            txn, kRetryJobsPick,
            {f.user_id, f.source_channel_id, f.source_type,
             TimestampParam(f.created_after), TimestampParam(f.created_before),
             std::to_string(jobs.limit), Flag(jobs.dry_run)});
        const int64_t candidates = picked[0][1].as<int64_t>();
        RetryJobsResult result;
        if (jobs.dry_run) {
          result.retried =
              static_cast<int>(std::min<int64_t>(candidates, jobs.limit));
          result.more = candidates > jobs.limit;
          return result;
        }
        // One retry_job per job, in the order picked: the position each
        // takes is the next of its conversation at that moment.
        int64_t locked = 0;
        for (const pqxx::row& row : picked) {
          if (row[0].is_null()) continue;
          ++locked;
          if (!Exec(txn, kRetryOne, row[0].as<std::string>())[0][2].is_null()) {
            ++result.retried;
          }
        }
        result.more = MoreLeft(candidates, locked, jobs.limit);
        return result;
      },
      /*autocommit=*/false, /*transaction=*/true);
}

absl::StatusOr<CancelJobsResult> PgJobStore::CancelJobs(const BulkJobs& jobs,
                                                        absl::Time deadline) {
  if (absl::Status s = CheckBulkCancel(jobs); !s.ok()) return s;
  const JobFilter& f = jobs.filter;
  const std::string status(f.status.has_value() ? JobStatusName(*f.status)
                                                : "");
  return WithConnection<CancelJobsResult>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<CancelJobsResult> {
        pqxx::row row = ExecWithValues(
            txn, kCancelJobs,
            {f.user_id, status, f.source_channel_id, f.source_type,
             TimestampParam(f.created_after), TimestampParam(f.created_before),
             std::to_string(jobs.limit), Flag(jobs.dry_run)})[0];
        return CancelJobsResult{.cancelled = row[0].as<int>(),
                                .cancel_requested = row[1].as<int>(),
                                .more = row[2].as<bool>()};
      });
}

}  // namespace jobqueue
