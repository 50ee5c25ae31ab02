// The JobQueue service over a gRPC channel.
//
//   GrpcJobQueueBackend backend(
//       GrpcJobQueueBackend::CreateChannel("jobs.internal:50051",
//                                          {.tls = true, .ca_pem = pem}),
//       bearer_token);
//   absl::Status status = backend.Deliver(delivery, {absl::Seconds(5)});
#ifndef JOBQUEUE_SHIM_BACKEND_GRPC_JOB_QUEUE_BACKEND_H_
#define JOBQUEUE_SHIM_BACKEND_GRPC_JOB_QUEUE_BACKEND_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "shim/backend/job_queue_backend.h"

namespace jobqueue::shim {

// How the shim's channel reaches the service.
struct BackendTransport {
  // TLS when true, plaintext otherwise.
  bool tls = false;
  // PEM root certificates the service's certificate must chain to; empty
  // means gRPC's default roots (the system's, or
  // $GRPC_DEFAULT_SSL_ROOTS_FILE_PATH).
  std::string ca_pem;
  // The name the service's certificate must hold, when not the host of the
  // target (connecting to an address, say). Empty: the target's host.
  std::string tls_server_name;
};

// True when `target` ("host:port", "dns:///host:port", "ipv4:..",
// "unix:...") can only reach this machine: localhost, 127.0.0.0/8, ::1 or a
// Unix socket. A bearer token sent in plaintext to such a target does not
// cross a network.
bool IsLoopbackTarget(absl::string_view target);

class GrpcJobQueueBackend final : public JobQueueBackend {
 public:
  // A channel to `target` ("host:port"), plaintext or TLS as `transport`
  // says, that retries connecting within seconds, not minutes, after the
  // service comes back.
  static std::shared_ptr<grpc::Channel> CreateChannel(
      const std::string& target, const BackendTransport& transport = {});

  // Calls go over `channel`; a non-empty `bearer_token` is sent with each as
  // `authorization: Bearer <token>`.
  GrpcJobQueueBackend(std::shared_ptr<grpc::Channel> channel,
                      std::string bearer_token);

  // The RPC's gRPC status code and message, as an absl::Status.
  absl::Status Deliver(const SpooledDelivery& delivery,
                       const CallOptions& options) override;

  // grpc.health.v1.Health/Check for the whole server ("").
  absl::Status CheckHealth(absl::Duration timeout) override;

 private:
  void Prepare(grpc::ClientContext* context, const CallOptions& options) const;

  std::unique_ptr<v1::JobQueue::Stub> job_queue_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  const std::string bearer_token_;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_BACKEND_GRPC_JOB_QUEUE_BACKEND_H_
