#include "shim/backend/grpc_job_queue_backend.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "service/listen_address.h"

namespace jobqueue::shim {
namespace {

absl::Status ToAbslStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace

bool IsLoopbackTarget(absl::string_view target) {
  if (absl::StartsWith(target, "unix:") ||
      absl::StartsWith(target, "unix-abstract:")) {
    return true;
  }
  // gRPC's URI forms: dns:///host:port, dns://authority/host:port,
  // ipv4:host:port, ipv6:[host]:port.
  if (absl::ConsumePrefix(&target, "dns:")) {
    if (absl::ConsumePrefix(&target, "//")) {
      const size_t slash = target.find('/');
      if (slash == absl::string_view::npos) return false;
      target.remove_prefix(slash + 1);
    }
  } else if (!absl::ConsumePrefix(&target, "ipv4:")) {
    absl::ConsumePrefix(&target, "ipv6:");
  }
  if (target.find(',') != absl::string_view::npos) return false;
  absl::string_view host = target;
  if (absl::ConsumePrefix(&host, "[")) {
    host = host.substr(0, host.find(']'));
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));
  }
  return IsLoopbackHost(host);
}

std::shared_ptr<grpc::Channel> GrpcJobQueueBackend::CreateChannel(
    const std::string& target, const BackendTransport& transport) {
  grpc::ChannelArguments arguments;
  // gRPC's default reconnect backoff grows to 120 s, which would hold back
  // the spool's replay long after the service is up again.
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  if (!transport.tls) {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                     arguments);
  }
  if (!transport.tls_server_name.empty()) {
    arguments.SetSslTargetNameOverride(transport.tls_server_name);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = transport.ca_pem;
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(ssl),
                                   arguments);
}

GrpcJobQueueBackend::GrpcJobQueueBackend(std::shared_ptr<grpc::Channel> channel,
                                         std::string bearer_token)
    : job_queue_(v1::JobQueue::NewStub(channel)),
      health_(grpc::health::v1::Health::NewStub(channel)),
      bearer_token_(std::move(bearer_token)) {}

void GrpcJobQueueBackend::Prepare(grpc::ClientContext* context,
                                  const CallOptions& options) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  context->set_wait_for_ready(options.wait_for_ready);
  if (!bearer_token_.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", bearer_token_));
  }
}

absl::Status GrpcJobQueueBackend::Deliver(const SpooledDelivery& delivery,
                                          const CallOptions& options) {
  grpc::ClientContext context;
  Prepare(&context, options);
  switch (delivery.call_case()) {
    case SpooledDelivery::kEnqueueJob: {
      v1::EnqueueJobResponse response;
      return ToAbslStatus(
          job_queue_->EnqueueJob(&context, delivery.enqueue_job(), &response));
    }
    case SpooledDelivery::kRecordDeadLetter: {
      v1::DeadLetter response;
      return ToAbslStatus(job_queue_->RecordDeadLetter(
          &context, delivery.record_dead_letter(), &response));
    }
    default:
      return absl::InvalidArgumentError("the delivery holds no call");
  }
}

absl::Status GrpcJobQueueBackend::CheckHealth(absl::Duration timeout) {
  grpc::ClientContext context;
  Prepare(&context, {timeout, /*wait_for_ready=*/false});
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  absl::Status status =
      ToAbslStatus(health_->Check(&context, request, &response));
  if (!status.ok()) return status;
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(
        absl::StrCat("the service reports ",
                     grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                         response.status())));
  }
  return absl::OkStatus();
}

}  // namespace jobqueue::shim
