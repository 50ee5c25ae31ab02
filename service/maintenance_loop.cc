#include "service/maintenance_loop.h"

#include <cstdio>

namespace jobqueue {

MaintenanceLoop::MaintenanceLoop(JobStore* store, Options options)
    : store_(store), options_(options) {
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
    if (!report.ok()) {
      std::fprintf(stderr, "jobqueue: maintenance failed: %s\n",
                   report.status().ToString().c_str());
    } else if (report->rescued + report->dead_lettered + report->deleted > 0) {
      std::fprintf(stderr,
                   "jobqueue: maintenance: %d lapsed leases back to pending, "
                   "%d failed for good, %d completed jobs deleted\n",
                   report->rescued, report->dead_lettered, report->deleted);
    }
  } while (!stop_.WaitForNotificationWithTimeout(options_.interval));
}

}  // namespace jobqueue
