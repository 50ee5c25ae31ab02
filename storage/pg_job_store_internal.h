// Internals shared by PgJobStore's files: reading jobs out of rows, the
// dead-letter step, and preparing each file's statements.
//
//   "SELECT " JOBQUEUE_JOB_COLUMNS " FROM jobs WHERE id = $1"
//   Job job = JobFromRow(result[0], 0);

#ifndef JOBQUEUE_STORAGE_PG_JOB_STORE_INTERNAL_H_
#define JOBQUEUE_STORAGE_PG_JOB_STORE_INTERNAL_H_

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "storage/job_store.h"
#include "storage/pg_job_store.h"

// Microseconds since the epoch of timestamptz `column`, within the years
// 0001 to 9999 a protobuf Timestamp holds (PostgreSQL also holds infinities
// and later years, which plain SQL may write).
#define JOBQUEUE_MICROS(column)                \
  "(extract(epoch FROM least(greatest(" column \
  ", '0001-01-01 00:00:00+00'::timestamptz),"  \
  " '9999-12-31 23:59:59.999999+00'::timestamptz)) * 1000000)::bigint"

// The select list JobFromRow reads, in its order, named as the columns;
// times in microseconds since the epoch. Usable in RETURNING clauses.
#define JOBQUEUE_JOB_COLUMNS \
  "id::text AS id, coalesce(user_id, '') AS user_id, source_channel_id, " \
  "source_type, user_phone, payload::text AS payload, status, "           \
  "content_type, coalesce(idempotency_key, '') AS idempotency_key, "      \
  JOBQUEUE_MICROS("created_at") " AS created_at, "                         \
  JOBQUEUE_MICROS("updated_at") " AS updated_at, "                         \
  "attempts, max_attempts, "                                              \
  JOBQUEUE_MICROS("run_after") " AS run_after, "                           \
  "coalesce(lease_token::text, '') AS lease_token, "                      \
  JOBQUEUE_MICROS("lease_expires_at") " AS lease_expires_at, "             \
  "coalesce(worker_id, '') AS worker_id, "                                \
  "coalesce(last_error, '') AS last_error"

// A copy of each job that failed for good, once per job.
#define JOBQUEUE_DEAD_LETTER_CTE(rows)                                       \
  ", dead AS ("                                                              \
  " INSERT INTO dlq_jobs (source, delivery_id, reason, raw_payload, job_id)" \
  " SELECT 'jobqueue.jobs', id, last_error, payload::jsonb, id::uuid"        \
  " FROM " rows                                                              \
  " WHERE status = 'failed'"                                                 \
  " ON CONFLICT (source, delivery_id) DO UPDATE"                             \
  " SET attempts = dlq_jobs.attempts + 1, last_seen_at = now(),"             \
  " reason = EXCLUDED.reason)"

namespace jobqueue {

// The job whose JOBQUEUE_JOB_COLUMNS start at column `first` of `row`.
Job JobFromRow(const pqxx::row& row, int first);

absl::Time FromMicros(const pqxx::field& f);

// A timestamptz literal PostgreSQL parses exactly, including infinities.
std::string TimestampParam(absl::Time t);

absl::Status JobNotFound(const std::string& id);
// FAILED_PRECONDITION for a lease token presented after its lease ran out.
absl::Status LeaseExpired(const std::string& id);

// A PostgreSQL array literal of `values` ({"a","b\"c"}), for passing a list
// as one parameter: `$1::text[]`.
std::string PgArray(const std::vector<std::string>& values);

// A random (version 4) UUID in canonical text form.
std::string NewUuid();

// The in-order claim statement ($1 max jobs, $2 lease in milliseconds, $3
// worker id, $4 source type or ''), for tests that examine its plan.
const char* ClaimInOrderSql();
// The status change statement ($1 id, $2 status, $3 expected status or '',
// $4 lease token or '', $5 lease in milliseconds), likewise.
const char* UpdateStatusSql();

// Register the statements of pg_job_leases.cc and pg_job_maintenance.cc.
void AddLeaseStatements(StatementSet& c);
void AddMaintenanceStatements(StatementSet& c);

inline int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_PG_JOB_STORE_INTERNAL_H_
