// Internals shared by PgJobStore's files: reading jobs out of rows, and
// registering each file's statements.
//
//   Job job = JobFromRow(Exec(txn, kGetJob, id)[0], 0);

#ifndef JOBQUEUE_STORAGE_PG_JOB_STORE_INTERNAL_H_
#define JOBQUEUE_STORAGE_PG_JOB_STORE_INTERNAL_H_

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "storage/job_store.h"
#include "storage/pg_job_store.h"

namespace jobqueue {

// The job whose columns start at column `first` of `row`: the select list
// of the job statements of storage/queries (id, user_id, ..., priority,
// cancel_requested_at, result, attempt_errors), NULL for "" or no time,
// times as extract(epoch FROM ...).
Job JobFromRow(const pqxx::row& row, int first);

// The job an enqueue of `job` inserted: its columns the database chose
// (id, status, created_at, updated_at, run_after, as the enqueue statements
// of jobs_enqueue.sql return them) and the rest as `job` asked, as stored.
Job NewJobFromRow(const NewJob& job, const pqxx::row& row);

// attempt_errors' JSON array as the store's entries, oldest first.
std::vector<AttemptError> AttemptErrorsFromJson(absl::string_view json);

// The time of an extract(epoch FROM ...) value ("1700000000.123456",
// "Infinity"), within the years 0001 to 9999 a protobuf Timestamp holds
// (PostgreSQL also holds infinities and later years, which plain SQL may
// write).
absl::Time FromEpoch(const pqxx::field& f);

// The text of `f`, or "" for NULL.
std::string TextOrEmpty(const pqxx::field& f);

// A timestamptz literal PostgreSQL parses exactly, including infinities.
std::string TimestampParam(absl::Time t);

absl::Status JobNotFound(const std::string& id);
// NOT_FOUND naming the phone number.
absl::Status UserNotFound(const std::string& phone_number);
// FAILED_PRECONDITION for a lease token presented after its lease ran out.
absl::Status LeaseExpired(const std::string& id);
// A lease that reached `job`'s run_deadline: no heartbeat extends it.
absl::Status RunTimeLimitReached(const Job& job);
// FAILED_PRECONDITION for a leased call on a job CancelJob asked to stop.
absl::Status JobCancelled(const std::string& id);

// A PostgreSQL array literal of `values` ({"a","b\"c"}), for passing a list
// as one parameter: `$1::text[]`.
std::string PgArray(const std::vector<std::string>& values);

// The blocks claim_in_order, claim_in_order_by_kind, claim_any_order and
// update_status, for
// tests that examine their plans.
const char* ClaimInOrderSql();
const char* ClaimInOrderByKindSql();
const char* ClaimAnyOrderSql();
const char* UpdateStatusSql();

// Register the statements of pg_job_leases.cc, pg_job_maintenance.cc,
// pg_job_schedules.cc, pg_job_queues.cc, pg_queue_overview.cc and
// pg_job_bulk.cc.
void AddLeaseStatements(StatementSet& c);
void AddMaintenanceStatements(StatementSet& c);
void AddScheduleStatements(StatementSet& c);
void AddQueueStatements(StatementSet& c);
void AddQueueOverviewStatements(StatementSet& c);
void AddBulkStatements(StatementSet& c);
// And of pg_dead_letters.cc.
void AddDeadLetterStatements(StatementSet& c);

// The dead letter whose columns start `row` (see dead_letters.sql).
DeadLetter DeadLetterFromRow(const pqxx::row& row);

inline int64_t Millis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_PG_JOB_STORE_INTERNAL_H_
