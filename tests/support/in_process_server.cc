#include "tests/support/in_process_server.h"

#include <utility>

namespace jobqueue {

absl::StatusOr<std::unique_ptr<InProcessServer>> InProcessServer::Start(
    const Options& options) {
  absl::StatusOr<std::unique_ptr<JobQueueServer>> server =
      JobQueueServer::Start(
          {.database_url = options.database_url,
           .database_pooling = options.database_pooling,
           .listen_database_url = options.listen_database_url,
           .listen = "127.0.0.1:0",
           .bearer_token = options.bearer_token,
           .reflection = options.reflection,
           .pool_size = options.pool_size,
           .claim_recheck = options.claim_recheck,
           .maintenance_interval = options.maintenance_interval,
           .schedule_interval = options.schedule_interval,
           .recurring_interval = options.recurring_interval,
           .retention = options.retention,
           .retry_backoff = options.retry_backoff,
           .metrics_listen = "127.0.0.1:0",
           .log_requests = options.log_requests});
  if (!server.ok()) return server.status();
  std::unique_ptr<InProcessServer> s(new InProcessServer());
  s->server_ = *std::move(server);
  s->stop_grace_ = options.stop_grace;
  s->address_ = s->server_->address();
  s->channel_ =
      grpc::CreateChannel(s->address_, grpc::InsecureChannelCredentials());
  return s;
}

InProcessServer::~InProcessServer() { server_->Stop(stop_grace_); }

std::unique_ptr<v1::JobQueue::Stub> InProcessServer::NewStub() const {
  return v1::JobQueue::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> CallContext(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

}  // namespace jobqueue
