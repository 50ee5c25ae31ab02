// PgJobStore's maintenance: returns lapsed leases to pending (or to failed
// plus a dead letter), deletes completed jobs past their retention, repairs
// conversations whose counts drifted, and removes long-idle conversation
// rows, in one process at a time. Each step is its own transaction and never
// waits for a row another session holds: it skips it, says so in the
// report, and takes it in a later round.

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"

namespace jobqueue {
namespace {

// Every step runs only in the process that wins this transaction-scoped
// advisory lock; the others skip it this round.
#define MAINTENANCE_LOCK \
  "lock AS (SELECT pg_try_advisory_xact_lock(7170393851237) AS held)"

constexpr int kRescueBatch = 1000;

// Lapsed leases whose job and conversation rows are both free now; a job
// with no conversation row waits for the sweep to make one. Reports whether
// it held the lock, how many went back to pending or failed, and how many
// lapsed leases its snapshot saw (the rest are rows another session holds).
constexpr char kRescueLeases[] = "rescue_leases";
constexpr char kRescueLeasesSql[] =
    "WITH " MAINTENANCE_LOCK
    ", expired AS ("
    " SELECT j.id AS expired_id FROM jobs j"
    " JOIN conversations c USING (source_channel_id), lock"
    " WHERE held AND j.status = 'processing' AND j.lease_expires_at < now()"
    " ORDER BY j.lease_expires_at LIMIT 1000"
    " FOR UPDATE OF j, c SKIP LOCKED"
    "), updated AS ("
    " UPDATE jobs SET"
    " status = CASE WHEN attempts >= max_attempts THEN 'failed'"
    " ELSE 'pending' END,"
    " last_error = 'lease expired (worker ' || coalesce(worker_id, '') || ')',"
    " lease_token = NULL, lease_expires_at = NULL, run_after = now()"
    " FROM expired WHERE id = expired_id"
    // Re-checked on the row's latest version: a job completed meanwhile is
    // left alone.
    " AND status = 'processing' AND lease_expires_at < now()"
    " RETURNING id::text AS id, status, payload::text AS payload, last_error"
    ")" JOBQUEUE_DEAD_LETTER_CTE("updated")
    " SELECT (SELECT held FROM lock),"
    " count(*) FILTER (WHERE status = 'pending'),"
    " count(*) FILTER (WHERE status = 'failed'),"
    " (SELECT count(*) FROM (SELECT 1 FROM lock, jobs WHERE held"
    " AND status = 'processing' AND lease_expires_at < now()"
    " LIMIT 100000) lapsed)"
    " FROM updated";

constexpr char kDeleteCompleted[] = "delete_completed";
constexpr char kDeleteCompletedSql[] =
    "WITH " MAINTENANCE_LOCK
    ", old AS ("
    " SELECT id AS old_id FROM jobs, lock"
    " WHERE held AND status = 'complete'"
    " AND updated_at < now() - $1 * interval '1 millisecond'"
    " LIMIT $2 FOR UPDATE OF jobs SKIP LOCKED"
    "), deleted AS (DELETE FROM jobs USING old WHERE id = old_id RETURNING 1)"
    " SELECT (SELECT held FROM lock), count(*) FROM deleted";

// The longest-ready conversations whose head is not a pending job, then the
// sweep's next conversations after $1, then the ready floor (see the
// migrations). None runs without the lock: CASE is evaluated lazily, and
// the sweep function is STRICT, so a NULL argument skips it.
constexpr char kRecount[] = "recount";
constexpr char kRecountSql[] =
    "WITH " MAINTENANCE_LOCK
    " SELECT held, CASE WHEN held THEN recount_conversations(1000) ELSE 0 END"
    " + coalesce(sweep.repaired, 0), coalesce(sweep.next_after, $1::text),"
    " CASE WHEN held THEN advance_ready_floor() ELSE 0 END"
    " FROM lock, recount_conversations_after("
    "CASE WHEN held THEN $1::text END, 1000) sweep";

// Rows of conversations with no active job for $1 milliseconds (a job of
// theirs checked in the index, whatever the counts say), at most $2.
constexpr char kRemoveIdle[] = "remove_idle_conversations";
constexpr char kRemoveIdleSql[] =
    "WITH " MAINTENANCE_LOCK
    ", idle AS ("
    " SELECT c.source_channel_id AS idle_id FROM conversations c, lock"
    " WHERE held AND c.pending_jobs = 0 AND c.processing_jobs = 0"
    " AND c.ready_since < now() - $1 * interval '1 millisecond'"
    " AND NOT EXISTS (SELECT 1 FROM jobs j"
    " WHERE j.source_channel_id = c.source_channel_id"
    " AND j.status IN ('pending', 'processing'))"
    " LIMIT $2 FOR UPDATE OF c SKIP LOCKED"
    "), removed AS (DELETE FROM conversations USING idle"
    " WHERE source_channel_id = idle_id RETURNING 1)"
    " SELECT (SELECT held FROM lock), count(*) FROM removed";

// Every claim and completion rewrites its conversation's row, so the table
// gathers dead versions by the ten thousand between autovacuum's runs, and
// claims scan them: VACUUM every round, which reads only the pages changed
// since (0.2-0.5 ms with 100,000 rows, 200 of them changed, on a 2-core
// VM). Statistics taken while no conversation was ready make the planner
// sort every ready one for a claim of 50, so ANALYZE too, once a minute:
// it samples 30,000 rows (75-240 ms on the same table). A role that does
// not own the table gets a warning.
constexpr char kVacuumConversations[] = "VACUUM (SKIP_LOCKED) conversations";
constexpr char kVacuumAnalyzeConversations[] =
    "VACUUM (ANALYZE, SKIP_LOCKED) conversations";
constexpr absl::Duration kAnalyzeEvery = absl::Minutes(1);

// How often idle conversation rows are looked for (a scan of the table).
constexpr absl::Duration kIdleScanEvery = absl::Minutes(1);

}  // namespace

void AddMaintenanceStatements(StatementSet& c) {
  c.Add(kRescueLeases, kRescueLeasesSql);
  c.Add(kDeleteCompleted, kDeleteCompletedSql);
  c.Add(kRecount, kRecountSql);
  c.Add(kRemoveIdle, kRemoveIdleSql);
}

absl::Status PgJobStore::RescueLeases(MaintenanceReport& report,
                                      absl::Time deadline) {
  return WithConnection<bool>(
             deadline, /*retry_safe=*/true,
             [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
               pqxx::row r = Exec1(txn, kRescueLeases);
               report.skipped = !r[0].as<bool>();
               report.rescued = r[1].as<int>();
               report.dead_lettered = r[2].as<int>();
               // The statement's last column counts the lapsed leases
               // its snapshot saw, those it returned among them. When the
               // batch was not full, the rest were skipped as locked.
               const int done = report.rescued + report.dead_lettered;
               if (!report.skipped && done < kRescueBatch) {
                 report.rescue_locked = std::max(0, r[3].as<int>() - done);
               }
               return true;
             })
      .status();
}

absl::Status PgJobStore::DeleteCompleted(absl::Duration retention,
                                         int max_deletes,
                                         MaintenanceReport& report,
                                         absl::Time deadline) {
  return WithConnection<bool>(
             deadline, /*retry_safe=*/true,
             [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
               pqxx::row r =
                   Exec1(txn, kDeleteCompleted, Millis(retention), max_deletes);
               report.deleted = r[1].as<int>();
               return true;
             })
      .status();
}

absl::Status PgJobStore::Recount(MaintenanceReport& report,
                                 absl::Time deadline) {
  std::string after;
  {
    absl::MutexLock lock(&maintenance_mu_);
    after = sweep_after_;
  }
  return WithConnection<bool>(
             deadline, /*retry_safe=*/true,
             [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
               pqxx::row r = Exec1(txn, kRecount, after);
               report.recounted = r[1].as<int>();
               report.floor_moved = r[3].as<int>();
               absl::MutexLock lock(&maintenance_mu_);
               sweep_after_ = r[2].as<std::string>();
               return true;
             })
      .status();
}

absl::Status PgJobStore::RemoveIdleConversations(MaintenanceReport& report,
                                                 absl::Time deadline) {
  {
    absl::MutexLock lock(&maintenance_mu_);
    if (absl::Now() - idle_removed_at_ < kIdleScanEvery) {
      return absl::OkStatus();
    }
  }
  return WithConnection<bool>(
             deadline, /*retry_safe=*/true,
             [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
               pqxx::row r = Exec1(txn, kRemoveIdle,
                                   Millis(conversation_retention_), 10000);
               report.idle_removed = r[1].as<int>();
               if (r[0].as<bool>() && report.idle_removed < 10000) {
                 absl::MutexLock lock(&maintenance_mu_);
                 idle_removed_at_ = absl::Now();
               }
               return true;
             })
      .status();
}

absl::Status PgJobStore::VacuumConversations(absl::Time deadline) {
  bool analyze;
  {
    absl::MutexLock lock(&maintenance_mu_);
    analyze = absl::Now() - analyzed_at_ >= kAnalyzeEvery;
  }
  // VACUUM cannot run in a transaction block, which transaction pooling
  // wraps around every other statement: it runs on its own.
  absl::Status vacuumed = WithConnection<bool>(
                              deadline, /*retry_safe=*/true,
                              [&](pqxx::transaction_base& txn) {
                                txn.exec0(analyze ? kVacuumAnalyzeConversations
                                                  : kVacuumConversations);
                                return true;
                              },
                              /*autocommit=*/true)
                              .status();
  if (vacuumed.ok() && analyze) {
    absl::MutexLock lock(&maintenance_mu_);
    analyzed_at_ = absl::Now();
  }
  return vacuumed;
}

absl::StatusOr<MaintenanceReport> PgJobStore::RunMaintenance(
    absl::Duration retention, int max_deletes, absl::Time deadline) {
  MaintenanceReport report;
  int failed = 0;
  auto note = [&](const char* step, const absl::Status& s) {
    if (s.ok()) return;
    ++failed;
    report.errors.push_back(absl::StrCat(step, ": ", s.ToString()));
  };
  note("rescue", RescueLeases(report, deadline));
  if (report.skipped) return report;
  if (retention > absl::ZeroDuration()) {
    note("retention",
         DeleteCompleted(retention, max_deletes, report, deadline));
  }
  note("recount", Recount(report, deadline));
  note("idle_conversations", RemoveIdleConversations(report, deadline));
  note("vacuum", VacuumConversations(deadline));
  const int steps = retention > absl::ZeroDuration() ? 5 : 4;
  if (failed == steps) {
    return absl::UnavailableError(
        absl::StrCat("maintenance failed: ", report.errors.front()));
  }
  return report;
}

}  // namespace jobqueue
