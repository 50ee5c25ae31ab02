// A gRPC server interceptor that observes every RPC the server answers, so
// no handler can forget to: it counts and times the call in ServiceMetrics
// and writes its request log line (see request_log.h).
//
//   std::vector<std::unique_ptr<
//       grpc::experimental::ServerInterceptorFactoryInterface>> creators;
//   creators.push_back(std::make_unique<RpcObserverFactory>(&metrics, level));
//   builder.experimental().SetInterceptorCreators(std::move(creators));

#ifndef JOBQUEUE_SERVICE_OBSERVABILITY_RPC_OBSERVER_H_
#define JOBQUEUE_SERVICE_OBSERVABILITY_RPC_OBSERVER_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/server_interceptor.h>

#include <string>

#include "absl/strings/string_view.h"
#include "service/observability/request_log.h"
#include "service/observability/service_metrics.h"

namespace jobqueue {

// The label of a full gRPC method name: "GetJob" for the JobQueue's own
// methods, "grpc.health.v1.Health/Check" for health and reflection, and
// "unknown" for any other name a client may send (which keeps the number of
// series and the log lines bounded).
std::string MethodLabel(absl::string_view full_method);

// The id of the one job a JobQueue message names (GetJobRequest.id,
// CompleteJobRequest.job_id, a Job, EnqueueJobResponse.job, ...), when it is
// a well-formed UUID; empty otherwise.
std::string JobIdOf(const google::protobuf::Message& message);

class RpcObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` may be null (log only); it must outlive the server.
  RpcObserverFactory(ServiceMetrics* metrics, RequestLogLevel log_level)
      : metrics_(metrics), log_level_(log_level) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  ServiceMetrics* const metrics_;
  const RequestLogLevel log_level_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_OBSERVABILITY_RPC_OBSERVER_H_
