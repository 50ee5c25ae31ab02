#include "tests/in_process_server.h"

namespace jobqueue {

absl::StatusOr<std::unique_ptr<InProcessServer>> InProcessServer::Start(
    const Options& options) {
  std::unique_ptr<InProcessServer> s(new InProcessServer());
  s->store_ = std::make_unique<PgJobStore>(PgJobStore::Options{
      .url = options.database_url, .retry_backoff = options.retry_backoff});
  s->notifier_ = std::make_unique<JobNotifier>(options.database_url);
  if (options.maintenance_interval > absl::ZeroDuration()) {
    s->maintenance_ = std::make_unique<MaintenanceLoop>(
        s->store_.get(),
        MaintenanceLoop::Options{.interval = options.maintenance_interval});
  }
  s->service_ = std::make_unique<JobQueueService>(
      s->store_.get(), s->notifier_.get(),
      JobQueueService::Options{.auth_token = options.auth_token});
  absl::StatusOr<std::unique_ptr<GrpcServer>> server =
      GrpcServer::Start(s->service_.get(), {.listen = "127.0.0.1:0"});
  if (!server.ok()) return server.status();
  s->server_ = std::move(*server);
  s->address_ = s->server_->address();
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
