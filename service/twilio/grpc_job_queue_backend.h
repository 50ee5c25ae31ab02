// The JobQueue service over a gRPC channel.
//
//   GrpcJobQueueBackend backend(
//       GrpcJobQueueBackend::CreateChannel("127.0.0.1:50051"), bearer_token);
//   absl::Status status = backend.Deliver(delivery, {absl::Seconds(5)});
#ifndef SERVICE_TWILIO_GRPC_JOB_QUEUE_BACKEND_H_
#define SERVICE_TWILIO_GRPC_JOB_QUEUE_BACKEND_H_

#include <memory>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/channel.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/twilio/job_queue_backend.h"

namespace jobqueue::twilio {

class GrpcJobQueueBackend final : public JobQueueBackend {
 public:
  // A plaintext channel to `target` ("host:port") that retries connecting
  // within seconds, not minutes, after the service comes back.
  static std::shared_ptr<grpc::Channel> CreateChannel(
      const std::string& target);

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

}  // namespace jobqueue::twilio

#endif  // SERVICE_TWILIO_GRPC_JOB_QUEUE_BACKEND_H_
