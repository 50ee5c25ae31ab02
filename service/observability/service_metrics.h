// The JobQueue server's metrics, registered on a metrics::Registry and
// rendered at /metrics. The names and their meaning are listed in
// docs/operations.md ("Metrics and logs"). Recording is lock-free apart from
// a reader lock to find a labelled series; the storage gauges are sampled at
// each scrape.
//
//   metrics::Registry registry;
//   ServiceMetrics metrics(&registry, {.pool = [&] { return store.pool_stats();
//   },
//                                      .queue_stats = &queue_stats});
//   metrics.RecordRpc("GetJob", "OK", absl::Milliseconds(2));

#ifndef JOBQUEUE_SERVICE_OBSERVABILITY_SERVICE_METRICS_H_
#define JOBQUEUE_SERVICE_OBSERVABILITY_SERVICE_METRICS_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "metrics/registry.h"
#include "storage/connection_pool.h"
#include "storage/job_store.h"
#include "storage/queue_stats.h"
#include "storage/statement_observer.h"

namespace jobqueue {

class ServiceMetrics {
 public:
  // What each scrape samples; either may be left out, and then its gauges
  // are not registered. Both must outlive this object.
  struct Sources {
    // The occupancy of the server's own connection pool.
    std::function<ConnectionPool::Stats()> pool;
    // The jobs table.
    const QueueStats* queue_stats = nullptr;
  };

  // Registers every family on `registry`, which must outlive this object.
  ServiceMetrics(metrics::Registry* registry, Sources sources);

  // One answered RPC: its method label (see MethodLabel), its status code
  // name ("OK", "NOT_FOUND", ...) and how long it took.
  void RecordRpc(absl::string_view method, absl::string_view code,
                 absl::Duration latency);

  // One successful ClaimJobs: how long it claimed and waited for work, and
  // how many jobs it leased.
  void RecordClaim(absl::Duration waited, size_t jobs);

  // Jobs one StreamJobs push leased.
  void RecordStreamPush(size_t jobs);

  // One group-committed enqueue statement and the rows it inserted (the
  // store's on_enqueue_batch).
  void RecordEnqueueBatch(size_t rows);

  // One maintenance round of this process (MaintenanceLoop's on_round).
  void RecordMaintenance(const absl::StatusOr<MaintenanceReport>& report);

  // One schedule round of this process (RecurringLoop's on_round).
  void RecordSchedules(const absl::StatusOr<ScheduleTickReport>& report);

 private:
  void SamplePool();
  void SampleQueue();

  metrics::Family<metrics::Counter>* const rpcs_;
  metrics::Family<metrics::Histogram>* const rpc_seconds_;
  metrics::Family<metrics::Histogram>* const claim_wait_seconds_;
  metrics::Counter& claimed_jobs_;
  metrics::Counter& streamed_jobs_;
  metrics::Histogram& enqueue_batch_size_;
  metrics::Family<metrics::Counter>* const maintenance_rounds_;
  metrics::Family<metrics::Counter>* const maintenance_rows_;
  metrics::Family<metrics::Counter>* const maintenance_step_errors_;
  metrics::Family<metrics::Counter>* const schedule_ticks_;
  metrics::Gauge& maintenance_locked_leases_;
  const Sources sources_;
  metrics::Family<metrics::Gauge>* pool_connections_ = nullptr;
  metrics::Gauge* pool_max_ = nullptr;
  metrics::Gauge* pool_waiting_ = nullptr;
  metrics::Family<metrics::Gauge>* jobs_ = nullptr;
  metrics::Gauge* oldest_pending_seconds_ = nullptr;
  metrics::Gauge* queue_stats_up_ = nullptr;
  metrics::Family<metrics::Gauge>* queue_paused_ = nullptr;
};

// The store's statements by block name (see storage/named_queries.h):
// jobqueue_sql_statements_total{statement,outcome} and
// jobqueue_sql_duration_seconds{statement}. Each statement's series are
// found once, when the store is made, so a run costs two atomic updates.
//
//   StatementMetrics statements(&registry);
//   PgJobStore store({.url = url, .statement_observer = &statements});
class StatementMetrics final : public StatementObserver {
 public:
  // Registers the families on `registry`, which must outlive this object.
  explicit StatementMetrics(metrics::Registry* registry);

  std::unique_ptr<Sink> ForStatement(const std::string& name) override;

 private:
  metrics::Family<metrics::Counter>* const statements_;
  metrics::Family<metrics::Histogram>* const seconds_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_OBSERVABILITY_SERVICE_METRICS_H_
