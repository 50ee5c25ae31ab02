#include "storage/pg_job_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "storage/new_uuid.h"
#include "storage/pg_job_store_internal.h"
#include "storage/sql_error.h"

namespace jobqueue {
namespace {

const NamedQuery& kUpsertUser = Query("upsert_user");
const NamedQuery& kEnqueueKeepName = Query("enqueue_keep_name");
const NamedQuery& kEnqueueSetName = Query("enqueue_set_name");
const NamedQuery& kEnqueueBatch = Query("enqueue_batch");
const NamedQuery& kJobsByIdempotencyKeys = Query("jobs_by_idempotency_keys");
const NamedQuery& kGetJob = Query("get_job");
const NamedQuery& kUpdateStatus = Query("update_status");
const NamedQuery& kListJobs = Query("list_jobs");
const NamedQuery& kRecordDeadLetter = Query("record_dead_letter");
const NamedQuery& kSessionSettings = Query("session_settings");
const NamedQuery& kGetUser = Query("get_user");
const NamedQuery& kListUsers = Query("list_users");
const NamedQuery& kPromoteScheduled = Query("promote_scheduled");

StatementSet AllStatements() {
  StatementSet c;
  c.Add(kUpsertUser);
  c.Add(kEnqueueKeepName);
  c.Add(kEnqueueSetName);
  c.Add(kEnqueueBatch);
  c.Add(kJobsByIdempotencyKeys);
  c.Add(kGetJob);
  c.Add(kUpdateStatus);
  c.Add(kRecordDeadLetter);
  c.Add(kSessionSettings, /*prepared=*/false);
  // Planned with its values every time (see the block).
  c.Add(kListJobs, /*prepared=*/false);
  c.Add(kGetUser);
  c.Add(kListUsers);
  c.Add(kPromoteScheduled);
  AddLeaseStatements(c);
  AddMaintenanceStatements(c);
  AddScheduleStatements(c);
  AddQueueStatements(c);
  AddDeadLetterStatements(c);
  AddQueueOverviewStatements(c);
  AddBulkStatements(c);
  return c;
}

// Where the runs of each statement of `statements` go, by QueryIndex.
std::vector<std::unique_ptr<StatementObserver::Sink>> Sinks(
    StatementObserver* observer, const StatementSet& statements) {
  std::vector<std::unique_ptr<StatementObserver::Sink>> sinks(
      EmbeddedQueries().size());
  if (observer == nullptr) return sinks;
  for (const NamedQuery* query : statements.all()) {
    sinks[QueryIndex(*query)] = observer->ForStatement(query->name);
  }
  return sinks;
}

// The user whose columns start at column `first` of `row`: phone_number,
// first_name (NULL for none), extract(epoch FROM created_at).
User UserFromRow(const pqxx::row& row, int first) {
  return User{.phone_number = row[first].as<std::string>(),
              .first_name = TextOrEmpty(row[first + 1]),
              .created_at = FromEpoch(row[first + 2])};
}

// Sorts after every E.164 number (at most 15 digits), as the cursor of a
// first page: the phone number half of list_users' (created_at,
// phone_number) bound.
constexpr char kAfterEveryPhoneNumber[] = "+9999999999999999";

// The statements that may make a job claimable: a new or pending-again job,
// or a conversation's head that finished (with the store's notifier, its
// call announces this once it has committed). The rounds that run every
// fraction of a second (promote_scheduled, rescue_leases) say so only when
// they changed a job.
std::vector<bool> WakesClaims() {
  static constexpr const char* kWaking[] = {
      "enqueue_keep_name", "enqueue_set_name", "enqueue_batch",
      "complete_job",      "complete_jobs",    "fail_job",
      "snooze_job",        "release_jobs",     "retry_job",
      "cancel_job",        "cancel_jobs",      "update_status"};
  std::vector<bool> wakes(EmbeddedQueries().size(), false);
  for (const char* name : kWaking) wakes[QueryIndex(Query(name))] = true;
  return wakes;
}

// At least one per batch and one batch at a time.
GroupCommitOptions BatchOptions(const GroupCommitOptions& options) {
  return {.max_batch = std::max(1, options.max_batch),
          .max_in_flight = std::max(1, options.max_in_flight)};
}

}  // namespace

const char* UpdateStatusSql() { return kUpdateStatus.sql.c_str(); }

PgJobStore::PgJobStore(const Options& options)
    : backoff_(options.retry_backoff),
      on_enqueue_batch_(options.on_enqueue_batch),
      pooling_(options.pooling),
      notifier_(options.notifier),
      wakes_claims_(WakesClaims()),
      conversation_retention_(options.conversation_retention),
      statement_timeout_ms_(Millis(options.statement_timeout)),
      lock_timeout_ms_(Millis(options.lock_timeout)),
      statements_(AllStatements()),
      sinks_(Sinks(options.statement_observer, statements_)),
      pool_({.url = options.url,
             .max_size = options.pool_size,
             .on_connect =
                 [this](pqxx::connection& c) {
                   // Behind a transaction pooler nothing is set or
                   // prepared here: the next transaction may run on another
                   // server connection.
                   if (pooling_ == DatabasePooling::kTransaction) return;
                   pqxx::nontransaction txn(c);
                   Configure(txn, /*local=*/false);
                   statements_.PrepareAll(c);
                 }}),
      enqueues_(
          BatchOptions(options.group_commit),
          [this](const std::vector<const NewJob*>& jobs, absl::Time deadline) {
            return EnqueueBatch(jobs, deadline);
          }),
      completions_(BatchOptions(options.group_commit),
                   [this](const std::vector<const JobLease*>& jobs,
                          absl::Time deadline) {
                     return CompleteBatch(jobs, deadline);
                   }) {}

void PgJobStore::Configure(pqxx::transaction_base& txn, bool local) const {
  ExecUnnamed(
      txn, kSessionSettings, std::to_string(statement_timeout_ms_),
      std::to_string(lock_timeout_ms_), local,
      pooling_ == DatabasePooling::kTransaction ? "auto" : "force_generic_plan",
      notifier_ != nullptr ? "on" : "off");
}

void PgJobStore::AnnounceChanges() const {
  if (!made_claimable_) return;
  made_claimable_ = false;
  if (notifier_ != nullptr) notifier_->Announce();
}

absl::Status PgJobStore::NoAnswerBeforeDeadline() {
  return absl::DeadlineExceededError(
      "PostgreSQL did not answer before the call's deadline; the change may "
      "or may not have been made (retrying with the same idempotency_key is "
      "safe)");
}

absl::StatusOr<UpsertUserResult> PgJobStore::UpsertUser(
    const std::string& phone_number, const std::string& first_name,
    absl::Time deadline) {
  return WithConnection<UpsertUserResult>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<UpsertUserResult> {
        pqxx::row row = Exec1(txn, kUpsertUser, phone_number, first_name);
        UpsertUserResult result;
        result.user.phone_number = row[0].as<std::string>();
        result.user.first_name = TextOrEmpty(row[1]);
        result.user.created_at = FromEpoch(row[2]);
        result.created = row[3].as<bool>();
        return result;
      });
}

absl::StatusOr<EnqueueResult> PgJobStore::Enqueue(const NewJob& job,
                                                  absl::Time deadline) {
  return enqueues_.Call(job, deadline);
}

absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>>
PgJobStore::EnqueueJobs(const std::vector<NewJob>& jobs, absl::Time deadline) {
  std::vector<const NewJob*> batch;
  batch.reserve(jobs.size());
  for (const NewJob& job : jobs) batch.push_back(&job);
  return InsertBatch(batch, deadline);
}

std::vector<absl::StatusOr<EnqueueResult>> PgJobStore::EnqueueBatch(
    const std::vector<const NewJob*>& jobs, absl::Time deadline) {
  if (on_enqueue_batch_) on_enqueue_batch_(static_cast<int>(jobs.size()));
  if (jobs.size() > 1) {
    absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>> all =
        InsertBatch(jobs, deadline);
    if (all.ok()) return *std::move(all);
    // The connection failed or the deadline passed: the outcome is the same
    // for every job, and a retry might insert a job twice.
    const absl::StatusCode code = all.status().code();
    if (code == absl::StatusCode::kUnavailable ||
        code == absl::StatusCode::kUnknown ||
        code == absl::StatusCode::kDeadlineExceeded) {
      return std::vector<absl::StatusOr<EnqueueResult>>(jobs.size(),
                                                        all.status());
    }
    // The server refused the statement (a constraint, a deadlock), so
    // nothing was inserted: one job at a time, so each caller gets its own
    // answer.
  }
  std::vector<absl::StatusOr<EnqueueResult>> results;
  for (const NewJob* job : jobs) results.push_back(EnqueueOne(*job, deadline));
  return results;
}

absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>>
PgJobStore::InsertBatch(const std::vector<const NewJob*>& jobs,
                        absl::Time deadline) {
  std::vector<std::string> ids, phones, names, channels, types, payloads,
      contents, keys, max_attempts, queues, ordered, priorities, run_ats,
      delays, max_runs;
  for (const NewJob* job : jobs) {
    ids.push_back(NewUuid());
    phones.push_back(job->user_phone);
    names.push_back(job->user_first_name);
    channels.push_back(job->source_channel_id);
    types.push_back(job->source_type);
    payloads.push_back(job->payload_json);
    contents.push_back(job->content_type);
    keys.push_back(job->idempotency_key);
    max_attempts.push_back(absl::StrCat(job->max_attempts));
    queues.push_back(job->queue);
    ordered.push_back(job->ordered ? "true" : "false");
    priorities.push_back(absl::StrCat(job->priority));
    run_ats.push_back(TimestampParam(job->run_at));
    delays.push_back(absl::StrCat(absl::ToInt64Microseconds(job->delay)));
    max_runs.push_back(absl::StrCat(Millis(job->max_run_time)));
  }
  absl::StatusOr<absl::flat_hash_map<std::string, Job>> inserted =
      WithConnection<absl::flat_hash_map<std::string, Job>>(
          deadline, /*retry_safe=*/false,
          [&](pqxx::transaction_base& txn)
              -> absl::StatusOr<absl::flat_hash_map<std::string, Job>> {
            absl::flat_hash_map<std::string, size_t> index;
            for (size_t i = 0; i < ids.size(); ++i) index.emplace(ids[i], i);
            absl::flat_hash_map<std::string, Job> by_id;
            for (const pqxx::row& row :
                 Exec(txn, kEnqueueBatch, PgArray(ids), PgArray(phones),
                      PgArray(names), PgArray(channels), PgArray(types),
                      PgArray(payloads), PgArray(contents), PgArray(keys),
                      PgArray(max_attempts), PgArray(queues), PgArray(ordered),
                      PgArray(priorities), PgArray(run_ats), PgArray(delays),
                      PgArray(max_runs))) {
              const std::string id = row[0].as<std::string>();
              by_id.emplace(id, NewJobFromRow(*jobs[index.at(id)], row));
            }
            return by_id;
          });
  if (!inserted.ok()) return inserted.status();
  // From here on the inserted jobs are committed: whatever happens to the
  // lookup below, none is inserted again.
  std::vector<std::string> taken;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!inserted->contains(ids[i])) taken.push_back(keys[i]);
  }
  absl::StatusOr<absl::flat_hash_map<std::string, Job>> by_key =
      absl::flat_hash_map<std::string, Job>();
  if (!taken.empty()) {
    // The conflicting rows were committed before the insert skipped them.
    by_key = WithConnection<absl::flat_hash_map<std::string, Job>>(
        deadline, /*retry_safe=*/true,
        [&](pqxx::transaction_base& txn)
            -> absl::StatusOr<absl::flat_hash_map<std::string, Job>> {
          absl::flat_hash_map<std::string, Job> found;
          for (const pqxx::row& row :
               Exec(txn, kJobsByIdempotencyKeys, PgArray(taken))) {
            Job j = JobFromRow(row, 0);
            found.emplace(j.idempotency_key, std::move(j));
          }
          return found;
        });
  }
  std::vector<absl::StatusOr<EnqueueResult>> results;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (auto it = inserted->find(ids[i]); it != inserted->end()) {
      results.push_back(EnqueueResult{it->second, true});
    } else if (!by_key.ok()) {
      results.push_back(by_key.status());
    } else if (auto k = by_key->find(keys[i]); k != by_key->end()) {
      results.push_back(EnqueueResult{k->second, false});
    } else {
      results.push_back(absl::AbortedError(
          absl::StrCat("idempotency_key ", keys[i],
                       " was taken by a job that is gone; retry")));
    }
  }
  return results;
}

absl::StatusOr<EnqueueResult> PgJobStore::EnqueueOne(const NewJob& job,
                                                     absl::Time deadline) {
  const bool has_key = !job.idempotency_key.empty();
  return WithConnection<EnqueueResult>(
      deadline, /*retry_safe=*/has_key,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<EnqueueResult> {
        return EnqueueIn(txn, job);
      });
}

absl::StatusOr<EnqueueResult> PgJobStore::EnqueueIn(pqxx::transaction_base& txn,
                                                    const NewJob& job) const {
  pqxx::result inserted = Exec(
      txn, job.user_first_name.empty() ? kEnqueueKeepName : kEnqueueSetName,
      job.user_phone, job.user_first_name, job.source_channel_id,
      job.source_type, job.payload_json, job.content_type, job.idempotency_key,
      job.max_attempts, job.queue, job.ordered, job.priority,
      TimestampParam(job.run_at), absl::ToInt64Microseconds(job.delay),
      Millis(job.max_run_time));
  if (!inserted.empty()) {
    return EnqueueResult{NewJobFromRow(job, inserted[0]), true};
  }
  // The key was taken. ON CONFLICT waited for its owner to commit, so a
  // fresh snapshot sees that job.
  pqxx::result existing =
      Exec(txn, kJobsByIdempotencyKeys, PgArray({job.idempotency_key}));
  if (existing.empty()) {
    return absl::AbortedError(
        absl::StrCat("idempotency_key ", job.idempotency_key,
                     " was taken by a job that is gone; retry"));
  }
  return EnqueueResult{JobFromRow(existing[0], 0), false};
}

absl::StatusOr<Job> PgJobStore::GetJob(const std::string& id,
                                       absl::Time deadline) {
  return WithConnection<Job>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Job> {
        pqxx::result r = Exec(txn, kGetJob, id);
        if (r.empty()) return JobNotFound(id);
        return JobFromRow(r[0], 0);
      });
}

absl::StatusOr<Job> PgJobStore::UpdateStatus(const StatusChange& change,
                                             absl::Time deadline) {
  const std::string& id = change.job_id;
  const std::string to(JobStatusName(change.to));
  const std::string expected(
      change.expected.has_value() ? JobStatusName(*change.expected) : "");
  return WithConnection<Job>(
      deadline, /*retry_safe=*/false,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<Job> {
        pqxx::result r = Exec(txn, kUpdateStatus, id, to, expected,
                              change.lease_token, Millis(change.lease));
        if (r.empty()) return JobNotFound(id);
        if (!r[0][5].is_null()) {
          Job job = JobFromRow(r[0], 5);
          if (job.status == JobStatus::kCancelled) return JobCancelled(id);
          return job;
        }
        const std::string current = r[0][0].as<std::string>();
        const std::string current_lease = r[0][1].as<std::string>();
        const std::string earlier = r[0][2].as<std::string>();
        const bool busy = r[0][3].as<bool>();
        const bool expired = r[0][4].as<bool>();
        if (!expected.empty() && current != expected) {
          return absl::FailedPreconditionError(
              absl::StrCat("job ", id, " is '", current,
                           "', not the expected '", expected, "'"));
        }
        if (!current_lease.empty() && current_lease != change.lease_token) {
          return absl::FailedPreconditionError(absl::StrCat(
              "job ", id, " is leased; pass its current lease_token"));
        }
        if (!current_lease.empty() && expired) return LeaseExpired(id);
        if (!earlier.empty()) {
          return absl::FailedPreconditionError(
              absl::StrCat("job ", id, " waits for job ", earlier,
                           ", earlier in its conversation"));
        }
        if (busy) {
          return absl::FailedPreconditionError(
              absl::StrCat("job ", id,
                           " waits: another job of its conversation is "
                           "processing"));
        }
        return absl::FailedPreconditionError(absl::StrCat(
            "job ", id, " cannot move from '", current, "' to '", to, "'"));
      });
}

absl::StatusOr<int> PgJobStore::PromoteScheduled(int max_jobs,
                                                 absl::Time deadline) {
  return WithConnection<int>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<int> {
        const int promoted =
            Exec1(txn, kPromoteScheduled, std::max(1, max_jobs))[0].as<int>();
        if (promoted > 0) made_claimable_ = true;
        return promoted;
      });
}

pqxx::result PgJobStore::ExecWithValues(
    pqxx::transaction_base& txn, const NamedQuery& query,
    const std::vector<std::string>& values) const {
  std::string sql;
  sql.reserve(query.sql.size() + 64 * values.size());
  for (size_t i = 0; i < query.sql.size(); ++i) {
    size_t end = i + 1;
    while (end < query.sql.size() && absl::ascii_isdigit(query.sql[end])) {
      ++end;
    }
    size_t n = 0;
    if (query.sql[i] == '$' && end > i + 1 &&
        absl::SimpleAtoi(query.sql.substr(i + 1, end - i - 1), &n) && n >= 1 &&
        n <= values.size()) {
      sql += txn.quote(values[n - 1]);
      i = end - 1;
    } else {
      sql += query.sql[i];
    }
  }
  return Observed(query, [&] { return txn.exec(sql); });
}

absl::StatusOr<JobPage> PgJobStore::ListJobs(
    const JobFilter& filter, const std::optional<JobCursor>& after, int limit,
    absl::Time deadline) {
  if (limit < 1) {
    return absl::InvalidArgumentError("page size must be at least 1");
  }
  const std::string cursor_time = TimestampParam(
      after.has_value() ? after->created_at : absl::InfiniteFuture());
  const std::string cursor_id =
      after.has_value() ? after->id : "ffffffff-ffff-ffff-ffff-ffffffffffff";
  const std::string status(
      filter.status.has_value() ? JobStatusName(*filter.status) : "");
  return WithConnection<JobPage>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<JobPage> {
        // One extra row tells whether another page follows.
        pqxx::result r = ExecWithValues(
            txn, kListJobs,
            {filter.user_id, status, filter.source_channel_id,
             filter.source_type, TimestampParam(filter.created_after),
             TimestampParam(filter.created_before), cursor_time, cursor_id,
             std::to_string(limit + 1)});
        JobPage page;
        for (const pqxx::row& row : r) {
          if (static_cast<int>(page.jobs.size()) == limit) break;
          page.jobs.push_back(JobFromRow(row, 0));
        }
        if (static_cast<int>(r.size()) > limit) {
          page.next =
              JobCursor{page.jobs.back().created_at, page.jobs.back().id};
        }
        return page;
      });
}

absl::StatusOr<DeadLetter> PgJobStore::RecordDeadLetter(
    const NewDeadLetter& letter, absl::Time deadline) {
  return WithConnection<DeadLetter>(
      deadline, /*retry_safe=*/!letter.delivery_id.empty(),
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<DeadLetter> {
        return DeadLetterFromRow(Exec1(txn, kRecordDeadLetter, letter.source,
                                       letter.delivery_id, letter.reason,
                                       letter.raw_payload_json));
      });
}

absl::StatusOr<User> PgJobStore::GetUser(const std::string& phone_number,
                                         absl::Time deadline) {
  return WithConnection<User>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<User> {
        pqxx::result r = Exec(txn, kGetUser, phone_number);
        if (r.empty()) return UserNotFound(phone_number);
        return UserFromRow(r[0], 0);
      });
}

absl::StatusOr<UserPage> PgJobStore::ListUsers(
    const UserFilter& filter, const std::optional<UserCursor>& after, int limit,
    absl::Time deadline) {
  if (limit < 1) {
    return absl::InvalidArgumentError("page size must be at least 1");
  }
  const std::string cursor_time = TimestampParam(
      after.has_value() ? after->created_at : absl::InfiniteFuture());
  const std::string cursor_phone =
      after.has_value() ? after->phone_number : kAfterEveryPhoneNumber;
  return WithConnection<UserPage>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<UserPage> {
        // One extra row tells whether another page follows.
        pqxx::result r =
            Exec(txn, kListUsers, TimestampParam(filter.created_after),
                 TimestampParam(filter.created_before), cursor_time,
                 cursor_phone, limit + 1);
        UserPage page;
        for (const pqxx::row& row : r) {
          if (static_cast<int>(page.users.size()) == limit) break;
          page.users.push_back(UserFromRow(row, 0));
        }
        if (static_cast<int>(r.size()) > limit) {
          page.next = UserCursor{page.users.back().created_at,
                                 page.users.back().phone_number};
        }
        return page;
      });
}

}  // namespace jobqueue
