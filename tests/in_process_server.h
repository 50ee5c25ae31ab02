// A JobQueue server in the test's own process, on a loopback port, over a
// real PostgreSQL: the store, the LISTEN notifier, optionally the
// maintenance loop, the gRPC server and its metrics (served over HTTP on
// another loopback port), wired as jobqueue_server wires them.
//
//   auto server = InProcessServer::Start({.database_url = db->url()});
//   auto stub = (*server)->NewStub();
//   stub->EnqueueJob(CallContext().get(), request, &response);

#ifndef JOBQUEUE_TESTS_IN_PROCESS_SERVER_H_
#define JOBQUEUE_TESTS_IN_PROCESS_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/grpc_server.h"
#include "service/job_queue_service.h"
#include "service/maintenance_loop.h"
#include "service/metrics/registry.h"
#include "service/metrics_http_server.h"
#include "service/request_log.h"
#include "service/service_metrics.h"
#include "storage/job_notifier.h"
#include "storage/pg_job_store.h"
#include "storage/queue_stats.h"

namespace jobqueue {

class InProcessServer {
 public:
  struct Options {
    std::string database_url;
    std::string auth_token;
    // Zero: no maintenance loop.
    absl::Duration maintenance_interval = absl::ZeroDuration();
    RetryBackoff retry_backoff;
    RequestLogLevel log_requests = RequestLogLevel::kErrors;
  };

  static absl::StatusOr<std::unique_ptr<InProcessServer>> Start(
      const Options& options);
  // Stops everything, as SIGTERM does.
  ~InProcessServer();

  const std::string& address() const { return address_; }
  // host:port of the HTTP server answering GET /metrics.
  std::string metrics_address() const { return metrics_server_->address(); }
  JobQueueService* service() { return service_.get(); }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<v1::JobQueue::Stub> NewStub() const;

 private:
  InProcessServer() = default;

  metrics::Registry registry_;
  std::unique_ptr<QueueStats> queue_stats_;
  std::unique_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<PgJobStore> store_;
  std::unique_ptr<JobNotifier> notifier_;
  std::unique_ptr<MaintenanceLoop> maintenance_;
  std::unique_ptr<JobQueueService> service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<MetricsHttpServer> metrics_server_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
};

// A client context whose deadline is `timeout` from now.
std::unique_ptr<grpc::ClientContext> CallContext(
    absl::Duration timeout = absl::Seconds(10));

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_IN_PROCESS_SERVER_H_
