#include "service/observability/service_metrics.h"

#include <utility>

namespace jobqueue {
namespace {

// From well under a millisecond (a GetJob) to a minute (the longest claim
// wait).
const std::vector<double> kSecondsBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};
// A scrape waits no longer than this for the jobs table.
constexpr absl::Duration kQueueStatsTimeout = absl::Seconds(5);

// One statement's series.
class StatementSeries final : public StatementObserver::Sink {
 public:
  StatementSeries(metrics::Counter& ok, metrics::Counter& error,
                  metrics::Histogram& seconds)
      : ok_(ok), error_(error), seconds_(seconds) {}

  void Observe(bool ok, absl::Duration elapsed) override {
    (ok ? ok_ : error_).Increment();
    seconds_.Observe(absl::ToDoubleSeconds(elapsed));
  }

 private:
  metrics::Counter& ok_;
  metrics::Counter& error_;
  metrics::Histogram& seconds_;
};

}  // namespace

ServiceMetrics::ServiceMetrics(metrics::Registry* registry, Sources sources)
    : rpcs_(registry->AddCounter("jobqueue_rpcs_total",
                                 "RPCs answered, by method and status code.",
                                 {"method", "code"})),
      rpc_seconds_(registry->AddHistogram(
          "jobqueue_rpc_duration_seconds",
          "Time from receiving an RPC to sending its status.", {"method"},
          kSecondsBounds)),
      claim_wait_seconds_(registry->AddHistogram(
          "jobqueue_claim_wait_seconds",
          "Time a successful ClaimJobs spent claiming and waiting for work; "
          "outcome is jobs or empty.",
          {"outcome"}, kSecondsBounds)),
      claimed_jobs_(registry
                        ->AddCounter("jobqueue_claimed_jobs_total",
                                     "Jobs leased to workers by ClaimJobs.")
                        ->WithLabels({})),
      streamed_jobs_(registry
                         ->AddCounter("jobqueue_streamed_jobs_total",
                                      "Jobs leased to workers by StreamJobs.")
                         ->WithLabels({})),
      enqueue_batch_size_(
          registry
              ->AddHistogram("jobqueue_enqueue_batch_size",
                             "Rows per group-committed enqueue statement.", {},
                             kBatchBounds)
              ->WithLabels({})),
      maintenance_rounds_(registry->AddCounter(
          "jobqueue_maintenance_rounds_total",
          "Maintenance rounds of this process, by outcome: ran, skipped "
          "(another process held the maintenance lock) or failed.",
          {"outcome"})),
      maintenance_rows_(registry->AddCounter(
          "jobqueue_maintenance_rows_total",
          "Rows maintenance changed, by action: rescued, dead_lettered and "
          "cancelled (lapsed leases), deleted (completed or cancelled jobs "
          "past retention), "
          "repaired (conversation counts set again), idle_removed "
          "(conversation rows).",
          {"action"})),
      maintenance_step_errors_(registry->AddCounter(
          "jobqueue_maintenance_step_errors_total",
          "Maintenance steps that failed (the round's other steps still "
          "ran), by step.",
          {"step"})),
      schedule_ticks_(registry->AddCounter(
          "jobqueue_schedule_ticks_total",
          "Ticks of recurring schedules this process handled, by outcome: "
          "enqueued (one job each), skipped (missed during an outage and "
          "passed over: only the latest missed tick is enqueued), failed "
          "(tried again next round).",
          {"outcome"})),
      maintenance_locked_leases_(
          registry
              ->AddGauge("jobqueue_maintenance_locked_leases",
                         "Lapsed leases the last round could not rescue "
                         "because another session holds their job's or "
                         "conversation's row.")
              ->WithLabels({})),
      sources_(std::move(sources)) {
  if (sources_.pool) {
    pool_connections_ = registry->AddGauge(
        "jobqueue_db_pool_connections",
        "Database connections of the pool, by state (in_use or idle).",
        {"state"});
    pool_max_ = &registry
                     ->AddGauge("jobqueue_db_pool_max_connections",
                                "Most connections the pool may hold.")
                     ->WithLabels({});
    pool_waiting_ = &registry
                         ->AddGauge("jobqueue_db_pool_waiting",
                                    "Calls waiting for a free connection.")
                         ->WithLabels({});
    registry->AddScrapeHook([this] { SamplePool(); });
  }
  if (sources_.queue_stats != nullptr) {
    jobs_ = registry->AddGauge("jobqueue_jobs", "Jobs by status.", {"status"});
    oldest_pending_seconds_ =
        &registry
             ->AddGauge("jobqueue_oldest_pending_job_age_seconds",
                        "Age of the oldest pending job; 0 when none.")
             ->WithLabels({});
    queue_stats_up_ =
        &registry
             ->AddGauge("jobqueue_queue_stats_up",
                        "1 when the last scrape read the jobs table; when 0, "
                        "the job gauges keep their previous values.")
             ->WithLabels({});
    queue_paused_ = registry->AddGauge(
        "jobqueue_queue_paused",
        "1 while the queue is paused (PauseQueue: claims skip it), 0 once "
        "resumed; for every queue with settings.",
        {"queue"});
    registry->AddScrapeHook([this] { SampleQueue(); });
  }
}

void ServiceMetrics::RecordSchedules(
    const absl::StatusOr<ScheduleTickReport>& report) {
  if (!report.ok()) return;
  const std::pair<const char*, int64_t> rows[] = {
      {"enqueued", report->enqueued},
      {"skipped", report->skipped_ticks},
      {"failed", static_cast<int64_t>(report->errors.size())}};
  for (const auto& [outcome, n] : rows) {
    if (n > 0) schedule_ticks_->WithLabels({outcome}).Increment(n);
  }
}

void ServiceMetrics::RecordMaintenance(
    const absl::StatusOr<MaintenanceReport>& report) {
  if (!report.ok()) {
    maintenance_rounds_->WithLabels({"failed"}).Increment();
    return;
  }
  if (report->skipped) {
    maintenance_rounds_->WithLabels({"skipped"}).Increment();
    return;
  }
  maintenance_rounds_->WithLabels({"ran"}).Increment();
  const std::pair<const char*, int> rows[] = {
      {"rescued", report->rescued},
      {"dead_lettered", report->dead_lettered},
      {"cancelled", report->cancelled},
      {"deleted", report->deleted},
      {"repaired", report->recounted},
      {"idle_removed", report->idle_removed}};
  for (const auto& [action, n] : rows) {
    if (n > 0) maintenance_rows_->WithLabels({action}).Increment(n);
  }
  for (const std::string& error : report->errors) {
    maintenance_step_errors_->WithLabels({error.substr(0, error.find(':'))})
        .Increment();
  }
  maintenance_locked_leases_.Set(report->rescue_locked);
}

void ServiceMetrics::RecordRpc(absl::string_view method, absl::string_view code,
                               absl::Duration latency) {
  rpcs_->WithLabels({method, code}).Increment();
  rpc_seconds_->WithLabels({method}).Observe(absl::ToDoubleSeconds(latency));
}

void ServiceMetrics::RecordClaim(absl::Duration waited, size_t jobs) {
  claim_wait_seconds_->WithLabels({jobs > 0 ? "jobs" : "empty"})
      .Observe(absl::ToDoubleSeconds(waited));
  claimed_jobs_.Increment(jobs);
}

void ServiceMetrics::RecordStreamPush(size_t jobs) {
  streamed_jobs_.Increment(jobs);
}

void ServiceMetrics::RecordEnqueueBatch(size_t rows) {
  enqueue_batch_size_.Observe(static_cast<double>(rows));
}

void ServiceMetrics::SamplePool() {
  const ConnectionPool::Stats pool = sources_.pool();
  pool_connections_->WithLabels({"in_use"}).Set(pool.in_use);
  pool_connections_->WithLabels({"idle"}).Set(pool.idle);
  pool_max_->Set(pool.max_size);
  pool_waiting_->Set(pool.waiting);
}

void ServiceMetrics::SampleQueue() {
  absl::StatusOr<QueueSnapshot> snapshot =
      sources_.queue_stats->Read(absl::Now() + kQueueStatsTimeout);
  queue_stats_up_->Set(snapshot.ok() ? 1 : 0);
  if (!snapshot.ok()) return;
  for (const auto& [status, count] : snapshot->jobs_by_status) {
    jobs_->WithLabels({status}).Set(static_cast<double>(count));
  }
  oldest_pending_seconds_->Set(
      absl::ToDoubleSeconds(snapshot->oldest_pending_age));
  for (const auto& [queue, paused] : snapshot->queue_paused) {
    queue_paused_->WithLabels({queue}).Set(paused ? 1 : 0);
  }
}

StatementMetrics::StatementMetrics(metrics::Registry* registry)
    : statements_(registry->AddCounter(
          "jobqueue_sql_statements_total",
          "SQL statements the store ran, by statement (the block name in "
          "storage/queries) and outcome: ok, or error (the log names the "
          "statement).",
          {"statement", "outcome"})),
      seconds_(registry->AddHistogram(
          "jobqueue_sql_duration_seconds",
          "Time from sending a SQL statement to reading its result, by "
          "statement.",
          {"statement"}, kSecondsBounds)) {}

std::unique_ptr<StatementObserver::Sink> StatementMetrics::ForStatement(
    const std::string& name) {
  return std::make_unique<StatementSeries>(
      statements_->WithLabels({name, "ok"}),
      statements_->WithLabels({name, "error"}), seconds_->WithLabels({name}));
}

}  // namespace jobqueue
