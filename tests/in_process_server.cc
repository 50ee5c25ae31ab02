#include "tests/in_process_server.h"

namespace jobqueue {

absl::StatusOr<std::unique_ptr<InProcessServer>> InProcessServer::Start(
    const Options& options) {
  std::unique_ptr<InProcessServer> s(new InProcessServer());
  s->queue_stats_ = std::make_unique<QueueStats>(
      QueueStats::Options{.url = options.database_url});
  s->metrics_ =
      std::make_unique<ServiceMetrics>(&s->registry_, s->queue_stats_.get());
  s->store_ = std::make_unique<PgJobStore>(PgJobStore::Options{
      .url = options.database_url,
      .retry_backoff = options.retry_backoff,
      .on_enqueue_batch = [metrics = s->metrics_.get()](int rows) {
        metrics->RecordEnqueueBatch(rows);
      }});
  s->notifier_ = std::make_unique<JobNotifier>(options.database_url);
  if (options.maintenance_interval > absl::ZeroDuration()) {
    s->maintenance_ = std::make_unique<MaintenanceLoop>(
        s->store_.get(),
        MaintenanceLoop::Options{.interval = options.maintenance_interval});
  }
  s->service_ = std::make_unique<JobQueueService>(
      s->store_.get(), s->notifier_.get(),
      JobQueueService::Options{
          .auth_token = options.auth_token,
          .on_claim = [metrics = s->metrics_.get()](absl::Duration waited,
                                                    size_t jobs) {
            metrics->RecordClaim(waited, jobs);
          }});
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(
      s->service_.get(), {.listen = "127.0.0.1:0",
                          .metrics = s->metrics_.get(),
                          .log_requests = options.log_requests});
  if (!server.ok()) return server.status();
  s->server_ = std::move(*server);
  s->address_ = s->server_->address();
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> metrics_server =
      MetricsHttpServer::Start("127.0.0.1:0", &s->registry_);
  if (!metrics_server.ok()) return metrics_server.status();
  s->metrics_server_ = std::move(*metrics_server);
  s->channel_ =
      grpc::CreateChannel(s->address_, grpc::InsecureChannelCredentials());
  return s;
}

InProcessServer::~InProcessServer() {
  notifier_->Close();
  if (server_) server_->Shutdown(absl::Seconds(1));
  if (maintenance_) maintenance_->Stop();
  store_->Close();
}

std::unique_ptr<v1::JobQueue::Stub> InProcessServer::NewStub() const {
  return v1::JobQueue::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> CallContext(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

}  // namespace jobqueue
