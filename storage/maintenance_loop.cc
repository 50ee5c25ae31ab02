#include "storage/maintenance_loop.h"

#include <cstdio>
#include <string>

namespace jobqueue {
namespace {

// While leases stay held by another session, the line is repeated this
// often (and whenever their number changes).
constexpr absl::Duration kLockedLogEvery = absl::Minutes(1);

}  // namespace

MaintenanceLoop::MaintenanceLoop(JobStore* store, Options options)
    : store_(store), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

MaintenanceLoop::~MaintenanceLoop() { Stop(); }

void MaintenanceLoop::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void MaintenanceLoop::Run() {
  do {
    absl::StatusOr<MaintenanceReport> report =
        store_->RunMaintenance(options_.retention, options_.max_deletes,
                               absl::Now() + absl::Seconds(10));
    Log(report);
    if (options_.on_round) options_.on_round(report);
  } while (!stop_.WaitForNotificationWithTimeout(options_.interval));
}

void MaintenanceLoop::Log(const absl::StatusOr<MaintenanceReport>& report) {
  if (!report.ok()) {
    std::fprintf(stderr, "jobqueue: maintenance failed: %s\n",
                 report.status().ToString().c_str());
    return;
  }
  for (const std::string& error : report->errors) {
    std::fprintf(stderr,
                 "jobqueue: maintenance step failed (the others ran): %s\n",
                 error.c_str());
  }
  if (report->rescued + report->dead_lettered + report->cancelled +
          report->deleted >
      0) {
    std::fprintf(stderr,
                 "jobqueue: maintenance: %d lapsed leases back to pending, "
                 "%d failed for good, %d cancelled, %d finished jobs "
                 "deleted\n",
                 report->rescued, report->dead_lettered, report->cancelled,
                 report->deleted);
  }
  if (report->recounted > 0) {
    std::fprintf(stderr,
                 "jobqueue: maintenance: repaired the counts of %d "
                 "conversations (rows changed by SQL with triggers off, or "
                 "conversations edited by hand)\n",
                 report->recounted);
  }
  const int locked = report->rescue_locked;
  if (locked != locked_logged_ ||
      (locked > 0 && absl::Now() - locked_logged_at_ >= kLockedLogEvery)) {
    if (locked > 0) {
      std::fprintf(stderr,
                   "jobqueue: maintenance: %d lapsed leases skipped this "
                   "round: another session holds their job's or "
                   "conversation's row (an open transaction: see "
                   "pg_stat_activity, state 'idle in transaction'); they "
                   "are rescued once it ends\n",
                   locked);
    } else if (!report->skipped) {
      std::fprintf(stderr,
                   "jobqueue: maintenance: no lapsed lease is held by "
                   "another session any more\n");
    }
    if (!report->skipped) {
      locked_logged_ = locked;
      locked_logged_at_ = absl::Now();
    }
  }
}

}  // namespace jobqueue
