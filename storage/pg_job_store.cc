#include "storage/pg_job_store.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/pg_job_store_internal.h"
#include "storage/sql_error.h"

namespace jobqueue {
namespace {

#define JOB_COLUMNS JOBQUEUE_JOB_COLUMNS

constexpr char kUpsertUser[] = "upsert_user";
constexpr char kUpsertUserSql[] =
    "INSERT INTO users (phone_number, first_name) VALUES ($1, NULLIF($2, '')) "
    "ON CONFLICT (phone_number) DO UPDATE "
    "SET first_name = coalesce(EXCLUDED.first_name, users.first_name) "
    "RETURNING phone_number, coalesce(first_name, ''), "
    "(extract(epoch FROM created_at) * 1000000)::bigint, xmax = 0";

// Takes `n` positions of each conversation of `counts` (rows of
// source_channel_id and n) and counts them as pending, locking the
// conversations in one order so that concurrent statements cannot deadlock.
// The row lock, held until commit, makes positions follow commit order. A
// conversation that had no active job becomes ready, its new jobs first.
// The statement says it counted its rows (jobqueue.statement_counted), so
// the insert trigger on jobs does not count them again: one write of the
// conversation's row instead of two (enqueues ran at half the rate with
// the trigger counting). A row then skipped by ON CONFLICT (two enqueues of
// one key at once) stays counted until maintenance repairs it.
#define TAKE_POSITIONS_CTE(counts)                                           \
  "conversation AS ("                                                        \
  " INSERT INTO conversations AS c (source_channel_id, last_position,"       \
  " pending_jobs, first_position, ready_since)"                              \
  " SELECT source_channel_id, n, n, 1, clock_timestamp() FROM " counts       \
  " ORDER BY source_channel_id"                                              \
  " ON CONFLICT (source_channel_id) DO UPDATE"                               \
  " SET last_position = c.last_position + EXCLUDED.last_position,"           \
  " pending_jobs = c.pending_jobs + EXCLUDED.pending_jobs,"                  \
  " first_position = CASE WHEN c.pending_jobs = 0 AND c.processing_jobs = 0" \
  " THEN c.last_position + 1 ELSE c.first_position END,"                     \
  " ready_since = CASE WHEN c.pending_jobs = 0 AND c.processing_jobs = 0"    \
  " THEN clock_timestamp() ELSE c.ready_since END"                           \
  " RETURNING c.source_channel_id AS channel, c.last_position AS last,"      \
  " set_config('jobqueue.statement_counted', 'on', true) AS counted)"

// Creates the user when missing, then the job unless its idempotency key is
// taken (then no row is returned). The user insert and the foreign key check
// run in the same statement, so one round trip does both.
#define ENQUEUE_SQL(on_user_conflict) \
  "WITH fresh AS (SELECT $3::text AS source_channel_id, 1 AS n"               \
  " WHERE $7 = '' OR NOT EXISTS"                                              \
  " (SELECT 1 FROM jobs WHERE idempotency_key = $7)), " TAKE_POSITIONS_CTE(   \
      "fresh") ", new_user AS ("                                              \
  " INSERT INTO users (phone_number, first_name)"                             \
  " VALUES ($1, NULLIF($2, '')) ON CONFLICT (phone_number) " on_user_conflict \
  ") INSERT INTO jobs (user_id, user_phone, source_channel_id, source_type,"  \
  " payload, content_type, idempotency_key, max_attempts, position)"          \
  " SELECT $1, $1, $3, $4, $5::jsonb, $6, NULLIF($7, ''), $8, last"           \
  " FROM conversation"                                                        \
  " ON CONFLICT (idempotency_key) DO NOTHING RETURNING " JOB_COLUMNS

constexpr char kEnqueueKeepName[] = "enqueue_keep_name";
constexpr char kEnqueueKeepNameSql[] = ENQUEUE_SQL("DO NOTHING");
constexpr char kEnqueueSetName[] = "enqueue_set_name";
constexpr char kEnqueueSetNameSql[] = ENQUEUE_SQL(
    "DO UPDATE SET first_name = EXCLUDED.first_name"
    " WHERE users.first_name IS DISTINCT FROM EXCLUDED.first_name");

// Many jobs in one statement: the arrays hold one element per job, in
// arrival order, which gives each conversation its positions. A job whose
// key is taken (or repeats an earlier one of the batch) is skipped. Ids are
// chosen by the caller to match rows to jobs.
constexpr char kEnqueueBatch[] = "enqueue_batch";
constexpr char kEnqueueBatchSql[] =
    "WITH input AS ("
    " SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[],"
    " $5::text[], $6::jsonb[], $7::text[], $8::text[], $9::int[])"
    " WITH ORDINALITY AS t(id, user_phone, first_name, source_channel_id,"
    " source_type, payload, content_type, idempotency_key, max_attempts, ord)"
    "), fresh AS ("
    " SELECT DISTINCT ON (coalesce(NULLIF(idempotency_key, ''), id::text)) *"
    " FROM input i WHERE idempotency_key = '' OR NOT EXISTS"
    " (SELECT 1 FROM jobs WHERE jobs.idempotency_key = i.idempotency_key)"
    " ORDER BY coalesce(NULLIF(idempotency_key, ''), id::text), ord"
    "), counts AS ("
    " SELECT source_channel_id, count(*) AS n FROM fresh"
    " GROUP BY source_channel_id"
    "), " TAKE_POSITIONS_CTE("counts") ", new_users AS ("
    " INSERT INTO users (phone_number, first_name)"
    " SELECT DISTINCT ON (user_phone) user_phone, NULLIF(first_name, '')"
    " FROM input ORDER BY user_phone, first_name = '', ord DESC"
    " ON CONFLICT (phone_number) DO UPDATE SET first_name = EXCLUDED.first_name"
    " WHERE EXCLUDED.first_name IS NOT NULL"
    " AND users.first_name IS DISTINCT FROM EXCLUDED.first_name"
    ") INSERT INTO jobs (id, user_id, user_phone, source_channel_id,"
    " source_type, payload, content_type, idempotency_key, max_attempts,"
    " position)"
    " SELECT f.id, f.user_phone, f.user_phone, f.source_channel_id,"
    " f.source_type, f.payload, f.content_type,"
    " NULLIF(f.idempotency_key, ''), f.max_attempts,"
    " conversation.last - counts.n + row_number() OVER"
    " (PARTITION BY f.source_channel_id ORDER BY f.ord)"
    " FROM fresh f JOIN counts USING (source_channel_id)"
    " JOIN conversation ON conversation.channel = f.source_channel_id"
    " ORDER BY f.source_channel_id, f.ord"
    " ON CONFLICT (idempotency_key) DO NOTHING RETURNING " JOB_COLUMNS;

constexpr char kJobsByIdempotencyKeys[] = "jobs_by_idempotency_keys";
constexpr char kJobsByIdempotencyKeysSql[] =
    "SELECT " JOB_COLUMNS " FROM jobs WHERE idempotency_key = ANY($1::text[])";

constexpr char kGetJob[] = "get_job";
constexpr char kGetJobSql[] = "SELECT " JOB_COLUMNS " FROM jobs WHERE id = $1";

// One statement: lock the row, apply the transition when allowed (and, for
// a leased job, when the caller holds the lease and it has not expired), and
// report what was found, so a refusal can say why. Moving to processing is a
// claim by hand: only a conversation's head (no earlier active job, read
// from the index in position order) while its conversation, whose row is
// locked, has nothing processing; with a new lease of $5 milliseconds and an
// attempt counted. Leaving processing ends the lease.
constexpr char kUpdateStatus[] = "update_status";
constexpr char kUpdateStatusSql[] =
    "WITH current AS ("
    " SELECT id AS current_id, status AS current_status,"
    " coalesce(lease_token::text, '') AS current_lease,"
    " lease_expires_at <= now() AS current_expired,"
    " source_channel_id AS current_channel, position AS current_position"
    " FROM jobs WHERE id = $1 FOR UPDATE"
    "), earlier AS ("
    " SELECT e.id AS earlier_id FROM current"
    " LEFT JOIN conversations c ON c.source_channel_id = current_channel"
    " JOIN jobs e ON e.source_channel_id = current_channel"
    " AND e.position >= coalesce(c.first_position, 0)"
    " WHERE $2 = 'processing' AND current_status = 'pending'"
    " AND e.status IN ('pending', 'processing')"
    " AND e.position < current_position"
    " ORDER BY e.position LIMIT 1"
    "), busy AS ("
    " SELECT c.processing_jobs AS busy_jobs FROM conversations c, current"
    " WHERE $2 = 'processing' AND current_status = 'pending'"
    " AND c.source_channel_id = current_channel AND c.processing_jobs > 0"
    " FOR UPDATE OF c"
    "), updated AS ("
    " UPDATE jobs SET status = $2,"
    " lease_token = CASE WHEN $2 = 'processing' THEN gen_random_uuid() END,"
    " lease_expires_at = CASE WHEN $2 = 'processing'"
    " THEN now() + $5 * interval '1 millisecond' END,"
    " attempts = attempts + ($2 = 'processing')::int"
    " FROM current"
    " WHERE id = current_id AND ($3 = '' OR current_status = $3)"
    " AND (current_lease = '' OR (current_lease = $4"
    " AND NOT current_expired))"
    " AND NOT EXISTS (SELECT 1 FROM earlier)"
    " AND NOT EXISTS (SELECT 1 FROM busy)"
    " AND (current_status, $2) IN (VALUES ('pending', 'processing'),"
    " ('processing', 'complete'), ('processing', 'failed'),"
    " ('processing', 'pending'), ('failed', 'pending'))"
    " RETURNING " JOB_COLUMNS
    ") SELECT current_status, current_lease,"
    " coalesce((SELECT earlier_id::text FROM earlier), ''),"
    " EXISTS (SELECT 1 FROM busy), coalesce(current_expired, false),"
    " updated.*"
    " FROM current LEFT JOIN updated ON true";

// Filters that are empty strings drop out when the statement is planned with
// its values (unnamed statement), so each page is an index range scan.
constexpr char kListJobsSql[] =
    "SELECT " JOB_COLUMNS
    " FROM jobs"
    " WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR status = $2)"
    " AND ($3 = '' OR source_channel_id = $3) AND ($4 = '' OR source_type = $4)"
    " AND created_at >= $5::timestamptz AND created_at < $6::timestamptz"
    " AND (created_at, id) < ($7::timestamptz, $8::uuid)"
    // Qualified: the select list has columns named created_at and id too
    // (micros, text), and ordering by those would sort instead of scanning
    // the index.
    " ORDER BY jobs.created_at DESC, jobs.id DESC LIMIT $9";

constexpr char kRecordDeadLetter[] = "record_dead_letter";
constexpr char kRecordDeadLetterSql[] =
    "INSERT INTO dlq_jobs (source, delivery_id, reason, raw_payload)"
    " VALUES ($1, NULLIF($2, ''), $3, $4::jsonb)"
    " ON CONFLICT (source, delivery_id) DO UPDATE"
    " SET attempts = dlq_jobs.attempts + 1, last_seen_at = now(),"
    " reason = EXCLUDED.reason, raw_payload = EXCLUDED.raw_payload"
    " RETURNING id::text, source, coalesce(delivery_id, ''), reason,"
    " raw_payload::text, attempts,"
    " (extract(epoch FROM first_seen_at) * 1000000)::bigint,"
    " (extract(epoch FROM last_seen_at) * 1000000)::bigint";

// The server abandons a statement within a second of its caller being cut
// off (see DeadlineWatch) instead of running it to the end, and a statement
// that waits longer than `lock_timeout` for a row another session holds
// gives up (ABORTED, nothing written) instead of waiting with every call
// batched with it.
std::string SessionSettings(absl::Duration statement_timeout,
                            absl::Duration lock_timeout, bool local) {
  const char* set = local ? "SET LOCAL " : "SET ";
  return absl::StrCat(
      set, "statement_timeout = ", absl::ToInt64Milliseconds(statement_timeout),
      "; ", set, "lock_timeout = ", absl::ToInt64Milliseconds(lock_timeout),
      "; ", set, "client_connection_check_interval = 1000");
}

StatementSet AllStatements() {
  StatementSet c;
  c.Add(kUpsertUser, kUpsertUserSql);
  c.Add(kEnqueueKeepName, kEnqueueKeepNameSql);
  c.Add(kEnqueueSetName, kEnqueueSetNameSql);
  c.Add(kEnqueueBatch, kEnqueueBatchSql);
  c.Add(kJobsByIdempotencyKeys, kJobsByIdempotencyKeysSql);
  c.Add(kGetJob, kGetJobSql);
  c.Add(kUpdateStatus, kUpdateStatusSql);
  c.Add(kRecordDeadLetter, kRecordDeadLetterSql);
  AddLeaseStatements(c);
  AddMaintenanceStatements(c);
  return c;
}

// At least one per batch and one batch at a time.
GroupCommitOptions BatchOptions(const GroupCommitOptions& options) {
  return {.max_batch = std::max(1, options.max_batch),
          .max_in_flight = std::max(1, options.max_in_flight)};
}

}  // namespace

const char* UpdateStatusSql() { return kUpdateStatusSql; }

PgJobStore::PgJobStore(const Options& options)
    : backoff_(options.retry_backoff),
      on_enqueue_batch_(options.on_enqueue_batch),
      pooling_(options.pooling),
      conversation_retention_(options.conversation_retention),
      set_local_(SessionSettings(options.statement_timeout,
                                 options.lock_timeout, /*local=*/true)),
      statements_(AllStatements()),
      pool_({.url = options.url,
             .max_size = options.pool_size,
             .on_connect =
                 [this, set = SessionSettings(
                            options.statement_timeout, options.lock_timeout,
                            /*local=*/false)](pqxx::connection& c) {
                   // Behind a transaction pooler nothing is set or
                   // prepared here: the next transaction may run on another
                   // server connection.
                   if (pooling_ == DatabasePooling::kTransaction) return;
                   pqxx::nontransaction(c).exec(set);
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
        result.user.first_name = row[1].as<std::string>();
        result.user.created_at = FromMicros(row[2]);
        result.created = row[3].as<bool>();
        return result;
      });
}

absl::StatusOr<EnqueueResult> PgJobStore::Enqueue(const NewJob& job,
                                                  absl::Time deadline) {
  return enqueues_.Call(job, deadline);
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
      contents, keys, max_attempts;
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
  }
  absl::StatusOr<absl::flat_hash_map<std::string, Job>> inserted =
      WithConnection<absl::flat_hash_map<std::string, Job>>(
          deadline, /*retry_safe=*/false,
          [&](pqxx::transaction_base& txn)
              -> absl::StatusOr<absl::flat_hash_map<std::string, Job>> {
            absl::flat_hash_map<std::string, Job> by_id;
            for (const pqxx::row& row :
                 Exec(txn, kEnqueueBatch, PgArray(ids), PgArray(phones),
                      PgArray(names), PgArray(channels), PgArray(types),
                      PgArray(payloads), PgArray(contents), PgArray(keys),
                      PgArray(max_attempts))) {
              Job j = JobFromRow(row, 0);
              by_id.emplace(j.id, std::move(j));
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
        pqxx::result inserted = Exec(
            txn,
            job.user_first_name.empty() ? kEnqueueKeepName : kEnqueueSetName,
            job.user_phone, job.user_first_name, job.source_channel_id,
            job.source_type, job.payload_json, job.content_type,
            job.idempotency_key, job.max_attempts);
        if (!inserted.empty())
          return EnqueueResult{JobFromRow(inserted[0], 0), true};
        // The key was taken. ON CONFLICT waited for its owner to commit, so
        // a fresh snapshot sees that job.
        pqxx::result existing =
            Exec(txn, kJobsByIdempotencyKeys, PgArray({job.idempotency_key}));
        if (existing.empty()) {
          return absl::AbortedError(
              absl::StrCat("idempotency_key ", job.idempotency_key,
                           " was taken by a job that is gone; retry"));
        }
        return EnqueueResult{JobFromRow(existing[0], 0), false};
      });
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
        if (!r[0][5].is_null()) return JobFromRow(r[0], 5);
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

absl::StatusOr<JobPage> PgJobStore::ListJobs(
    const JobFilter& filter, const std::optional<JobCursor>& after, int limit,
    absl::Time deadline) {
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
        pqxx::result r = txn.exec_params(
            kListJobsSql, filter.user_id, status, filter.source_channel_id,
            filter.source_type, TimestampParam(filter.created_after),
            TimestampParam(filter.created_before), cursor_time, cursor_id,
            limit + 1);
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
        pqxx::row row =
            Exec1(txn, kRecordDeadLetter, letter.source, letter.delivery_id,
                  letter.reason, letter.raw_payload_json);
        DeadLetter d;
        d.id = row[0].as<std::string>();
        d.source = row[1].as<std::string>();
        d.delivery_id = row[2].as<std::string>();
        d.reason = row[3].as<std::string>();
        d.raw_payload_json = row[4].as<std::string>();
        d.attempts = row[5].as<int>();
        d.first_seen_at = FromMicros(row[6]);
        d.last_seen_at = FromMicros(row[7]);
        return d;
      });
}

}  // namespace jobqueue
