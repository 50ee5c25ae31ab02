// PgJobStore's workers' calls: claims, leases, and failures with backoff.

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"

namespace jobqueue {
namespace {

#define JOB_COLUMNS JOBQUEUE_JOB_COLUMNS

// Leases the jobs of a `candidates` CTE that are still pending ($2 lease in
// milliseconds, $3 worker id), counting an attempt each. "Not processing,
// complete or failed" is "pending" in a form the planner cannot serve from
// jobs_pending_seq_idx: with statistics taken while nothing was pending, it
// would read every pending job instead of 50 primary key lookups.
#define CLAIM_CANDIDATES                                             \
  "), claimed AS ("                                                  \
  " UPDATE jobs SET status = 'processing', attempts = attempts + 1," \
  " lease_token = gen_random_uuid(), worker_id = $3,"                \
  " lease_expires_at = now() + $2 * interval '1 millisecond'"        \
  " FROM candidates WHERE id = candidate_id"                         \
  " AND status NOT IN ('processing', 'complete', 'failed')"          \
  " RETURNING " JOB_COLUMNS                                          \
  ", seq"                                                            \
  ") SELECT * FROM claimed ORDER BY seq"

// Claims in conversation order: the heads of ready conversations (some
// pending job, none processing), the longest-due first, each its
// conversation's pending job with the lowest position and due. Only ready
// conversations whose head is due are read, however many jobs wait in
// blocked ones or in backoff; the scan starts at the ready floor and each
// head lookup at the conversation's first position, so versions left
// behind by earlier claims are not read while a long snapshot keeps them.
// SKIP LOCKED on the conversation and on the job lets concurrent claims
// take different heads without waiting; the triggers on jobs update the
// counts.
constexpr char kClaimInOrder[] = "claim_in_order";
constexpr char kClaimInOrderSql[] =
    "WITH ready AS ("
    " SELECT head.id AS head_id FROM conversations c"
    " CROSS JOIN LATERAL (SELECT id, status, run_after, source_type FROM jobs j"
    " WHERE j.source_channel_id = c.source_channel_id"
    " AND j.status IN ('pending', 'processing')"
    " AND j.position >= c.first_position"
    " ORDER BY j.position LIMIT 1) head"
    " WHERE c.pending_jobs > 0 AND c.processing_jobs = 0"
    " AND c.ready_since <= now()"
    " AND c.ready_since >= coalesce((SELECT ready_floor"
    " FROM conversation_clock), '-infinity')"
    " AND head.status = 'pending' AND head.run_after <= now()"
    " AND ($4 = '' OR head.source_type = $4)"
    " ORDER BY c.ready_since LIMIT $1 FOR UPDATE OF c SKIP LOCKED"
    "), candidates AS ("
    " SELECT id AS candidate_id FROM jobs"
    " WHERE id IN (SELECT head_id FROM ready) FOR UPDATE SKIP "
    "LOCKED" CLAIM_CANDIDATES;

// Claims any due pending jobs, oldest first, ignoring conversation order.
// A job whose conversation row another session holds is skipped, not
// waited for (the count trigger must update that row).
constexpr char kClaimAnyOrder[] = "claim_any_order";
constexpr char kClaimAnyOrderSql[] =
    "WITH candidates AS ("
    " SELECT j.id AS candidate_id FROM jobs j"
    " JOIN conversations c USING (source_channel_id)"
    " WHERE j.status = 'pending' AND j.run_after <= now()"
    " AND ($4 = '' OR j.source_type = $4)"
    " ORDER BY j.seq LIMIT $1 FOR UPDATE OF j, c SKIP LOCKED" CLAIM_CANDIDATES;

// Applies `set_clause` to job $1 only while it is processing under lease
// token $2 and that lease has not expired, and reports the status found
// and whether the lease had expired, so a refusal can say why.
#define LEASED_UPDATE_SQL(set_clause, more_ctes)                     \
  "WITH current AS ("                                                \
  " SELECT id AS current_id, status AS current_status,"              \
  " lease_token = $2::uuid AND lease_expires_at <= now() AS expired" \
  " FROM jobs WHERE id = $1 FOR UPDATE"                              \
  "), updated AS ("                                                  \
  " UPDATE jobs SET " set_clause                                     \
  " FROM current"                                                    \
  " WHERE id = current_id AND current_status = 'processing'"         \
  " AND lease_token = $2::uuid AND lease_expires_at > now()"         \
  " RETURNING " JOB_COLUMNS ")" more_ctes                            \
  " SELECT current_status, coalesce(expired, false), updated.*"      \
  " FROM current LEFT JOIN updated ON true"

constexpr char kExtendLease[] = "extend_lease";
constexpr char kExtendLeaseSql[] = LEASED_UPDATE_SQL(
    "lease_expires_at = now() + $3 * interval '1 millisecond'", "");

constexpr char kCompleteJob[] = "complete_job";
constexpr char kCompleteJobSql[] = LEASED_UPDATE_SQL(
    "status = 'complete', lease_token = NULL, lease_expires_at = NULL,"
    " last_error = NULL",
    "");

// Completes many leased jobs at once; a pair whose token is not current
// is left alone (and reported by the caller one at a time).
constexpr char kCompleteJobs[] = "complete_jobs";
constexpr char kCompleteJobsSql[] =
    "WITH input AS ("
    " SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS t(input_id, token)"
    ") UPDATE jobs SET status = 'complete', lease_token = NULL,"
    " lease_expires_at = NULL, last_error = NULL FROM input"
    // A lease token implies processing (jobs_lease_only_when_processing);
    // leaving status out keeps the planner on the primary key.
    " WHERE id = input_id AND lease_token = token AND id = ANY($1::uuid[])"
    " AND lease_expires_at > now()"
    " RETURNING " JOB_COLUMNS ", token::text";

// Hands back leased jobs (ids $1, tokens $2) as if never claimed.
constexpr char kReleaseJobs[] = "release_jobs";
constexpr char kReleaseJobsSql[] =
    "UPDATE jobs SET status = 'pending', attempts = greatest(attempts - 1, 0),"
    " lease_token = NULL, lease_expires_at = NULL"
    " FROM unnest($1::uuid[], $2::uuid[]) AS t(input_id, token)"
    " WHERE id = input_id AND lease_token = token AND id = ANY($1::uuid[])";

// $3 error, $4 retryable, $5 base and $6 max backoff in milliseconds.
#define RETRY_LEFT "$4 AND attempts < max_attempts"
constexpr char kFailJob[] = "fail_job";
constexpr char kFailJobSql[] = LEASED_UPDATE_SQL(
    "status = CASE WHEN " RETRY_LEFT
    " THEN 'pending' ELSE 'failed' END,"
    " run_after = CASE WHEN " RETRY_LEFT
    " THEN now() + least($6, $5 * power(2, attempts - 1))"
    " * (0.5 + random() / 2) * interval '1 millisecond' ELSE run_after END,"
    " lease_token = NULL, lease_expires_at = NULL, last_error = $3",
    JOBQUEUE_DEAD_LETTER_CTE("updated"));

constexpr char kRetryJob[] = "retry_job";
constexpr char kRetryJobSql[] =
    "WITH current AS ("
    " SELECT id AS current_id, status AS current_status FROM jobs"
    " WHERE id = $1 FOR UPDATE"
    "), updated AS ("
    " UPDATE jobs SET status = 'pending', attempts = 0, run_after = now()"
    " FROM current WHERE id = current_id AND current_status = 'failed'"
    " RETURNING " JOB_COLUMNS
    ") SELECT current_status, false, updated.*"
    " FROM current LEFT JOIN updated ON true";

absl::Status NotLeased(const std::string& id, const std::string& status) {
  return absl::FailedPreconditionError(absl::StrCat(
      "job ", id, " is not leased with this lease_token (it is '", status,
      "'; the lease may have expired and passed to another worker)"));
}

// The job of a LEASED_UPDATE_SQL or kRetryJob result.
absl::StatusOr<Job> UpdatedJob(const pqxx::result& r, const std::string& id,
                               bool retry) {
  if (r.empty()) return JobNotFound(id);
  if (!r[0][2].is_null()) return JobFromRow(r[0], 2);
  const std::string status = r[0][0].as<std::string>();
  if (retry) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " is '", status, "'; only failed jobs can be retried"));
  }
  if (r[0][1].as<bool>()) return LeaseExpired(id);
  return NotLeased(id, status);
}

}  // namespace

const char* ClaimInOrderSql() { return kClaimInOrderSql; }

void AddLeaseStatements(StatementSet& c) {
  c.Add(kClaimInOrder, kClaimInOrderSql);
  c.Add(kClaimAnyOrder, kClaimAnyOrderSql);
  c.Add(kExtendLease, kExtendLeaseSql);
  c.Add(kCompleteJob, kCompleteJobSql);
  c.Add(kCompleteJobs, kCompleteJobsSql);
  c.Add(kFailJob, kFailJobSql);
  c.Add(kReleaseJobs, kReleaseJobsSql);
  c.Add(kRetryJob, kRetryJobSql);
}

absl::StatusOr<std::vector<Job>> PgJobStore::ClaimJobs(
    const ClaimRequest& request, absl::Time deadline) {
  return WithConnection<std::vector<Job>>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<Job>> {
        pqxx::result r = Exec(
            txn,
            request.ignore_conversation_order ? kClaimAnyOrder : kClaimInOrder,
            request.max_jobs, Millis(request.lease), request.worker_id,
            request.source_type);
        std::vector<Job> jobs;
        jobs.reserve(r.size());
        for (const pqxx::row& row : r) jobs.push_back(JobFromRow(row, 0));
        return jobs;
      });
}

absl::StatusOr<Job> PgJobStore::ExtendLease(const std::string& id,
                                            const std::string& lease_token,
                                            absl::Duration lease,
                                            absl::Time deadline) {
  return WithConnection<Job>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Job> {
        return UpdatedJob(
            Exec(txn, kExtendLease, id, lease_token, Millis(lease)), id,
            /*retry=*/false);
      });
}

absl::StatusOr<Job> PgJobStore::CompleteJob(const std::string& id,
                                            const std::string& lease_token,
                                            absl::Time deadline) {
  return completions_.Call({id, lease_token}, deadline);
}

absl::StatusOr<Job> PgJobStore::CompleteOne(const JobLease& job,
                                            absl::Time deadline) {
  return WithConnection<Job>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Job> {
        return UpdatedJob(Exec(txn, kCompleteJob, job.job_id, job.lease_token),
                          job.job_id,
                          /*retry=*/false);
      });
}

std::vector<absl::StatusOr<Job>> PgJobStore::CompleteBatch(
    const std::vector<const JobLease*>& jobs, absl::Time deadline) {
  std::vector<std::string> ids, tokens;
  for (const JobLease* job : jobs) {
    ids.push_back(job->job_id);
    tokens.push_back(job->lease_token);
  }
  // Keyed by job and token: two calls for one job in a batch, one with a
  // stale token, must not both be answered by the one that completed it.
  using Completed =
      absl::flat_hash_map<std::pair<std::string, std::string>, Job>;
  absl::StatusOr<Completed> completed =
      jobs.size() == 1
          ? Completed()
          : WithConnection<Completed>(
                deadline, /*retry_safe=*/false,
                [&](pqxx::transaction_base& txn) -> absl::StatusOr<Completed> {
                  Completed done;
                  for (const pqxx::row& row : Exec(
                           txn, kCompleteJobs, PgArray(ids), PgArray(tokens))) {
                    Job job = JobFromRow(row, 0);
                    std::pair<std::string, std::string> key(
                        job.id, row[row.size() - 1].as<std::string>());
                    done.emplace(std::move(key), std::move(job));
                  }
                  return done;
                });
  std::vector<absl::StatusOr<Job>> results;
  for (const JobLease* job : jobs) {
    const std::pair<std::string, std::string> key(job->job_id,
                                                  job->lease_token);
    if (!completed.ok() &&
        (completed.status().code() == absl::StatusCode::kUnavailable ||
         completed.status().code() == absl::StatusCode::kUnknown)) {
      results.push_back(completed.status());  // outcome unknown: no retry
    } else if (completed.ok() && completed->contains(key)) {
      results.push_back(completed->at(key));
    } else {
      // Not completed in the batch: one at a time tells why (stale token,
      // unknown job), or completes it if the batch itself failed.
      results.push_back(CompleteOne(*job, deadline));
    }
  }
  return results;
}

std::vector<absl::Status> PgJobStore::CompleteJobs(
    const std::vector<JobLease>& leases, absl::Time deadline) {
  std::vector<const JobLease*> batch;
  for (const JobLease& lease : leases) batch.push_back(&lease);
  std::vector<absl::Status> statuses;
  for (const absl::StatusOr<Job>& done : CompleteBatch(batch, deadline)) {
    statuses.push_back(done.status());
  }
  return statuses;
}

absl::StatusOr<Job> PgJobStore::FailJob(const std::string& id,
                                        const std::string& lease_token,
                                        const std::string& error,
                                        bool retryable, absl::Time deadline) {
  return WithConnection<Job>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Job> {
        return UpdatedJob(Exec(txn, kFailJob, id, lease_token, error, retryable,
                               Millis(backoff_.base), Millis(backoff_.max)),
                          id, /*retry=*/false);
      });
}

absl::Status PgJobStore::ReleaseJobs(const std::vector<JobLease>& leases,
                                     absl::Time deadline) {
  std::vector<std::string> ids, tokens;
  for (const JobLease& lease : leases) {
    ids.push_back(lease.job_id);
    tokens.push_back(lease.lease_token);
  }
  return WithConnection<bool>(
             deadline, /*retry_safe=*/true,
             [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
               Exec(txn, kReleaseJobs, PgArray(ids), PgArray(tokens));
               return true;
             })
      .status();
}

absl::StatusOr<Job> PgJobStore::RetryJob(const std::string& id,
                                         absl::Time deadline) {
  return WithConnection<Job>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Job> {
        return UpdatedJob(Exec(txn, kRetryJob, id), id,
                          /*retry=*/true);
      });
}

}  // namespace jobqueue
