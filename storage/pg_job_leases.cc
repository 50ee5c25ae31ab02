// PgJobStore's workers' calls: claims, leases, and failures with backoff.

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/lease_refusal.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"

namespace jobqueue {
namespace {

const NamedQuery& kClaimInOrder = Query("claim_in_order");
const NamedQuery& kClaimInOrderByKind = Query("claim_in_order_by_kind");
const NamedQuery& kClaimAnyOrder = Query("claim_any_order");
const NamedQuery& kExtendLease = Query("extend_lease");
const NamedQuery& kGetJobToo = Query("get_job");
const NamedQuery& kCompleteJob = Query("complete_job");
const NamedQuery& kCompleteJobs = Query("complete_jobs");
const NamedQuery& kFailJob = Query("fail_job");
const NamedQuery& kSnoozeJob = Query("snooze_job");
const NamedQuery& kReleaseJobs = Query("release_jobs");
const NamedQuery& kRetryJob = Query("retry_job");
const NamedQuery& kCancelJob = Query("cancel_job");

absl::Status NotLeased(const std::string& id, const std::string& status) {
  return absl::FailedPreconditionError(absl::StrCat(
      "job ", id, " is not leased with this lease_token (it is '", status,
      "'; the lease may have expired and passed to another worker)"));
}

// A leased call's answer for job `job` when the statement cancelled it
// instead (CancelJob had asked): a refusal saying so.
absl::StatusOr<Job> UnlessCancelled(Job job) {
  if (job.status == JobStatus::kCancelled) return JobCancelled(job.id);
  return job;
}

// The job of an extend_lease, complete_job, fail_job or retry_job result.
absl::StatusOr<Job> UpdatedJob(const pqxx::result& r, const std::string& id,
                               bool retry) {
  if (r.empty()) return JobNotFound(id);
  if (!r[0][2].is_null()) return UnlessCancelled(JobFromRow(r[0], 2));
  const std::string status = r[0][0].as<std::string>();
  if (retry) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", id, " is '", status, "'; only failed jobs can be retried"));
  }
  if (r[0][1].as<bool>()) return LeaseExpired(id);
  return NotLeased(id, status);
}

}  // namespace

const char* ClaimInOrderSql() { return kClaimInOrder.sql.c_str(); }
const char* ClaimInOrderByKindSql() { return kClaimInOrderByKind.sql.c_str(); }
const char* ClaimAnyOrderSql() { return kClaimAnyOrder.sql.c_str(); }

void AddLeaseStatements(StatementSet& c) {
  c.Add(kClaimInOrder);
  c.Add(kClaimInOrderByKind);
  c.Add(kClaimAnyOrder);
  c.Add(kExtendLease);
  c.Add(kCompleteJob);
  c.Add(kCompleteJobs);
  c.Add(kFailJob);
  c.Add(kSnoozeJob);
  c.Add(kReleaseJobs);
  c.Add(kRetryJob);
  c.Add(kCancelJob);
}

absl::StatusOr<std::vector<Job>> PgJobStore::ClaimJobs(
    const ClaimRequest& request, absl::Time deadline) {
  return WithConnection<std::vector<Job>>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<std::vector<Job>> {
        pqxx::result r;
        if (request.ignore_conversation_order) {
          r = Exec(txn, kClaimAnyOrder, request.max_jobs, Millis(request.lease),
                   request.worker_id, request.source_type,
                   PgArray(request.queues), PgArray(request.content_types));
        } else if (request.source_type.empty() &&
                   request.content_types.empty()) {
          r = Exec(txn, kClaimInOrder, request.max_jobs, Millis(request.lease),
                   request.worker_id, PgArray(request.queues));
        } else {
          r = Exec(txn, kClaimInOrderByKind, request.max_jobs,
                   Millis(request.lease), request.worker_id,
                   request.source_type, PgArray(request.queues),
                   PgArray(request.content_types));
        }
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
        absl::StatusOr<Job> extended = UpdatedJob(
            Exec(txn, kExtendLease, id, lease_token, Millis(lease)), id,
            /*retry=*/false);
        if (extended.ok() ||
            extended.status().code() != absl::StatusCode::kFailedPrecondition) {
          return extended;
        }
        // A refused extension may have ended a cancelled job, freeing its
        // conversation.
        made_claimable_ = true;
        // Refused: say so when the job's run-time limit ended the lease.
        pqxx::result now = Exec(txn, kGetJobToo, id);
        if (now.empty()) return extended;
        const Job job = JobFromRow(now[0], 0);
        if (job.status != JobStatus::kProcessing ||
            job.lease_token != lease_token) {
          return WithLastAttempt(extended.status(), job);
        }
        if (job.run_deadline > job.lease_expires_at) return extended;
        return RunTimeLimitReached(job);
      });
}

absl::StatusOr<Job> PgJobStore::CompleteJob(const JobLease& lease,
                                            absl::Time deadline) {
  return completions_.Call(lease, deadline);
}

absl::StatusOr<Job> PgJobStore::CompleteOne(const JobLease& job,
                                            absl::Time deadline) {
  return WithConnection<Job>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Job> {
        return UpdatedJob(Exec(txn, kCompleteJob, job.job_id, job.lease_token,
                               job.result_json),
                          job.job_id,
                          /*retry=*/false);
      });
}

std::vector<absl::StatusOr<Job>> PgJobStore::CompleteBatch(
    const std::vector<const JobLease*>& jobs, absl::Time deadline) {
  std::vector<std::string> ids, tokens, values;
  for (const JobLease* job : jobs) {
    ids.push_back(job->job_id);
    tokens.push_back(job->lease_token);
    values.push_back(job->result_json);
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
                  for (const pqxx::row& row :
                       Exec(txn, kCompleteJobs, PgArray(ids), PgArray(tokens),
                            PgArray(values))) {
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
      results.push_back(UnlessCancelled(completed->at(key)));
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

absl::StatusOr<Job> PgJobStore::SnoozeJob(const std::string& id,
                                          const std::string& lease_token,
                                          absl::Duration delay,
                                          absl::Time deadline) {
  return WithConnection<Job>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Job> {
        return UpdatedJob(Exec(txn, kSnoozeJob, id, lease_token, Millis(delay)),
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

namespace jobqueue {

absl::StatusOr<Job> PgJobStore::CancelJob(const std::string& id,
                                          const std::string& idempotency_key,
                                          absl::Time deadline) {
  return WithConnection<Job>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Job> {
        pqxx::result r = Exec(txn, kCancelJob, id, idempotency_key);
        if (r.empty()) {
          return id.empty()
                     ? absl::NotFoundError(absl::StrCat(
                           "no job has idempotency_key ", idempotency_key))
                     : JobNotFound(id);
        }
        const std::string status = r[0][0].as<std::string>();
        if (status == "complete" || status == "failed") {
          return absl::FailedPreconditionError(
              absl::StrCat("job ", TextOrEmpty(r[0][1]), " is '", status,
                           "'; only scheduled, pending or processing jobs "
                           "can be cancelled"));
        }
        return JobFromRow(r[0], 1);
      });
}

}  // namespace jobqueue
