// PgJobStore's maintenance: returns lapsed leases to pending (or to failed
// plus a dead letter, or to cancelled), deletes completed and cancelled
// jobs past their retention, repairs conversations whose counts drifted,
// removes long-idle conversation rows and folds the queue counters' deltas,
// in one process at a time. Each step
// is its own transaction and never waits for a row another session holds: it
// skips it, says so in the report, and takes it in a later round.

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/advisory_locks.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"

namespace jobqueue {
namespace {

// Each statement first tries the maintenance lock: it runs only in the
// process that wins it; the others skip it this round.
const NamedQuery& kRescueLeases = Query("rescue_leases");
const NamedQuery& kDeleteCompleted = Query("delete_completed");
const NamedQuery& kRecount = Query("recount");
const NamedQuery& kRemoveIdle = Query("remove_idle_conversations");
const NamedQuery& kRollUpQueueCounts = Query("roll_up_queue_counts");
// VACUUM each round, with ANALYZE every kAnalyzeEvery (see the blocks).
const NamedQuery& kVacuumConversations = Query("vacuum_conversations");
const NamedQuery& kVacuumAnalyzeConversations =
    Query("vacuum_analyze_conversations");

// The most lapsed leases rescue_leases takes at once.
constexpr int kRescueBatch = 1000;

constexpr absl::Duration kAnalyzeEvery = absl::Minutes(1);

// How often idle conversation rows are looked for (a scan of the table).
constexpr absl::Duration kIdleScanEvery = absl::Minutes(1);

}  // namespace

void AddMaintenanceStatements(StatementSet& c) {
  c.Add(kRescueLeases);
  c.Add(kDeleteCompleted);
  c.Add(kRecount);
  c.Add(kRemoveIdle);
  c.Add(kRollUpQueueCounts);
  // VACUUM cannot be prepared.
  c.Add(kVacuumConversations, /*prepared=*/false);
  c.Add(kVacuumAnalyzeConversations, /*prepared=*/false);
}

absl::Status PgJobStore::RescueLeases(MaintenanceReport& report,
                                      absl::Time deadline) {
  return WithConnection<bool>(
             deadline, /*retry_safe=*/true,
             [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
               pqxx::row r = Exec1(txn, kRescueLeases, kMaintenanceLockKey,
                                   Millis(backoff_.base), Millis(backoff_.max));
               report.skipped = !r[0].as<bool>();
               report.rescued = r[1].as<int>();
               report.dead_lettered = r[2].as<int>();
               report.cancelled = r[4].as<int>();
               // Column 3 counts the lapsed leases its snapshot saw,
               // those it returned among them. When the batch was not
               // full, the rest were skipped as locked.
               const int done =
                   report.rescued + report.dead_lettered + report.cancelled;
               if (done > 0) made_claimable_ = true;
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
               pqxx::row r = Exec1(txn, kDeleteCompleted, kMaintenanceLockKey,
                                   Millis(retention), max_deletes);
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
               pqxx::row r = Exec1(txn, kRecount, kMaintenanceLockKey, after);
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
               pqxx::row r = Exec1(txn, kRemoveIdle, kMaintenanceLockKey,
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

absl::Status PgJobStore::RollUpQueueCounts(MaintenanceReport& report,
                                           absl::Time deadline) {
  return WithConnection<bool>(
             deadline, /*retry_safe=*/true,
             [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
               pqxx::row r =
                   Exec1(txn, kRollUpQueueCounts, kMaintenanceLockKey);
               report.counts_folded = r[1].as<int>();
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
  absl::Status vacuumed =
      WithConnection<bool>(
          deadline, /*retry_safe=*/true,
          [&](pqxx::transaction_base& txn) {
            const NamedQuery& vacuum =
                analyze ? kVacuumAnalyzeConversations : kVacuumConversations;
            // A plain query: VACUUM is not prepared.
            Observed(vacuum, [&] { return txn.exec0(vacuum.sql); });
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
  note("queue_counts", RollUpQueueCounts(report, deadline));
  note("vacuum", VacuumConversations(deadline));
  const int steps = retention > absl::ZeroDuration() ? 6 : 5;
  if (failed == steps) {
    return absl::UnavailableError(
        absl::StrCat("maintenance failed: ", report.errors.front()));
  }
  return report;
}

}  // namespace jobqueue
