// A JobQueue server in the test's own process: JobQueueServer, exactly as
// `jobqueue_server serve` runs it, on loopback ports (gRPC and /metrics)
// over a real PostgreSQL, with a client channel to it.
//
//   auto server = InProcessServer::Start({.database_url = db->url()});
//   auto stub = (*server)->NewStub();
//   stub->EnqueueJob(CallContext().get(), request, &response);

#ifndef JOBQUEUE_TESTS_SUPPORT_IN_PROCESS_SERVER_H_
#define JOBQUEUE_TESTS_SUPPORT_IN_PROCESS_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/job_queue_server.h"
#include "service/observability/request_log.h"
#include "storage/job_store.h"

namespace jobqueue {

class InProcessServer {
 public:
  struct Options {
    std::string database_url;
    DatabasePooling database_pooling = DatabasePooling::kSession;
    std::string listen_database_url;
    std::string bearer_token;
    // Zero: no maintenance loop.
    absl::Duration maintenance_interval = absl::ZeroDuration();
    // As JobQueueServer's: due scheduled jobs are promoted, as in
    // production.
    absl::Duration schedule_interval = absl::Milliseconds(250);
    // How often due schedules are enqueued, as in production; zero: never.
    absl::Duration recurring_interval = absl::Seconds(1);
    absl::Duration retention = absl::Hours(24 * 7);
    RetryBackoff retry_backoff;
    RequestLogLevel log_requests = RequestLogLevel::kErrors;
    ReflectionMode reflection = ReflectionMode::kOpen;
    int pool_size = 8;
    // As JobQueueServer's: how often a waiting claim looks again without a
    // notification.
    absl::Duration claim_recheck = absl::Seconds(1);
    // How long the destructor lets calls in flight finish.
    absl::Duration stop_grace = absl::Seconds(1);
  };

  static absl::StatusOr<std::unique_ptr<InProcessServer>> Start(
      const Options& options);
  // Stops the server as SIGTERM does, with Options::stop_grace.
  ~InProcessServer();

  const std::string& address() const { return address_; }
  // host:port of the HTTP server answering GET /metrics.
  std::string metrics_address() const { return server_->metrics_address(); }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<v1::JobQueue::Stub> NewStub() const;

 private:
  InProcessServer() = default;

  std::unique_ptr<JobQueueServer> server_;
  absl::Duration stop_grace_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
};

// A client context whose deadline is `timeout` from now.
std::unique_ptr<grpc::ClientContext> CallContext(
    absl::Duration timeout = absl::Seconds(10));

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_IN_PROCESS_SERVER_H_
