// PgJobStore's maintenance: returns lapsed leases to pending (or to failed
// plus a dead letter), deletes completed jobs past their retention, and
// recounts conversations whose counts drifted, in one process at a time.

#include "absl/status/status.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"

namespace jobqueue {
namespace {

// Both maintenance statements run only in the process that wins the
// transaction-scoped advisory lock; the others skip this round.
#define MAINTENANCE_LOCK \
  "lock AS (SELECT pg_try_advisory_xact_lock(7170393851237) AS held)"

constexpr char kRescueLeases[] = "rescue_leases";
constexpr char kRescueLeasesSql[] =
    "WITH " MAINTENANCE_LOCK
    ", expired AS ("
    " SELECT id AS expired_id FROM jobs, lock"
    " WHERE held AND status = 'processing' AND lease_expires_at < now()"
    " ORDER BY lease_expires_at LIMIT 1000 FOR UPDATE OF jobs SKIP LOCKED"
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
    " count(*) FILTER (WHERE status = 'failed') FROM updated";

constexpr char kDeleteCompleted[] = "delete_completed";
constexpr char kDeleteCompletedSql[] =
    "WITH " MAINTENANCE_LOCK
    ", old AS ("
    " SELECT id AS old_id FROM jobs, lock"
    " WHERE held AND status = 'complete'"
    " AND updated_at < now() - $1 * interval '1 millisecond'"
    " LIMIT $2 FOR UPDATE OF jobs SKIP LOCKED"
    "), deleted AS (DELETE FROM jobs USING old WHERE id = old_id RETURNING 1)"
    " SELECT count(*) FROM deleted";

constexpr char kRecountConversations[] = "recount_conversations";
constexpr char kRecountConversationsSql[] =
    "SELECT recount_conversations(1000)";

constexpr char kVacuumConversations[] =
    "VACUUM (ANALYZE, SKIP_LOCKED) conversations";

}  // namespace

void AddMaintenanceStatements(StatementSet& c) {
  c.Add(kRescueLeases, kRescueLeasesSql);
  c.Add(kDeleteCompleted, kDeleteCompletedSql);
  c.Add(kRecountConversations, kRecountConversationsSql);
}

absl::StatusOr<MaintenanceReport> PgJobStore::RunMaintenance(
    absl::Duration retention, int max_deletes, absl::Time deadline) {
  absl::StatusOr<MaintenanceReport> maintained =
      WithConnection<MaintenanceReport>(
          deadline, /*retry_safe=*/true,
          [&](pqxx::transaction_base& txn)
              -> absl::StatusOr<MaintenanceReport> {
            MaintenanceReport report;
            pqxx::row rescued = Exec1(txn, kRescueLeases);
            report.skipped = !rescued[0].as<bool>();
            report.rescued = rescued[1].as<int>();
            report.dead_lettered = rescued[2].as<int>();
            if (!report.skipped && retention > absl::ZeroDuration()) {
              report.deleted = Exec1(txn, kDeleteCompleted, Millis(retention),
                                     max_deletes)[0]
                                   .as<int>();
            }
            if (!report.skipped) {
              report.recounted = Exec1(txn, kRecountConversations)[0].as<int>();
              if (pooling_ == DatabasePooling::kTransaction) return report;
              // Every claim and completion rewrites its conversation's row, so
              // its few thousand rows gather dead versions by the ten thousand
              // between autovacuum's runs (a minute apart), and claims scan
              // them. And statistics taken while no conversation was ready
              // make the planner sort every ready one for a claim of 50. Cheap
              // on a small table; a role that does not own it gets a warning.
              txn.exec0(kVacuumConversations);
            }
            return report;
          });
  if (!maintained.ok() || maintained->skipped ||
      pooling_ != DatabasePooling::kTransaction) {
    return maintained;
  }
  // VACUUM cannot run in the transaction that transaction pooling wraps
  // around the statements above: it gets a statement of its own.
  absl::Status vacuumed = WithConnection<bool>(
                              deadline, /*retry_safe=*/true,
                              [&](pqxx::transaction_base& txn) {
                                txn.exec0(kVacuumConversations);
                                return true;
                              },
                              /*autocommit=*/true)
                              .status();
  if (!vacuumed.ok()) return vacuumed;
  return maintained;
}

}  // namespace jobqueue
