// Serves one gRPC service (JobQueueServer passes the JobQueue behind its
// bearer-token check) with grpc.health.v1.Health always on, and server
// reflection unless turned off (so `grpcurl -plaintext HOST:PORT list`
// works). Health and reflection need no token. Reflection describes every
// service it lists, health included (grpcurl and buf curl can call it).
//
//   auto server = GrpcServer::Start(&service, {.listen = "127.0.0.1:0"});
//   ... (*server)->address() ...
//   (*server)->Shutdown(absl::Seconds(10));

#ifndef JOBQUEUE_SERVICE_GRPC_SERVER_H_
#define JOBQUEUE_SERVICE_GRPC_SERVER_H_

#include <grpcpp/impl/service_type.h>
#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "service/observability/request_log.h"
#include "service/observability/service_metrics.h"

namespace jobqueue {

class GrpcServer {
 public:
  struct Options {
    // host:port; port 0 picks a free one.
    std::string listen = "127.0.0.1:50051";
    // PEM files; TLS when both are set, plaintext when both are empty.
    std::string tls_cert_file;
    std::string tls_key_file;
    // When set, every RPC is counted and timed in it; must outlive the
    // server.
    ServiceMetrics* metrics = nullptr;
    // Which RPCs get a line on stderr (see request_log.h).
    RequestLogLevel log_requests = RequestLogLevel::kNone;
    // grpc.reflection.v1alpha.ServerReflection, which describes the API
    // (never data) to tools such as grpcurl.
    bool reflection = true;
  };

  // `service` must outlive the server. INVALID_ARGUMENT for a bad TLS
  // setting, UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      grpc::Service* service, const Options& options);

  // "host:port" with the port actually bound.
  std::string address() const;

  // A channel to this server inside the process (the console's calls): the
  // same services, checks and metrics, no socket.
  std::shared_ptr<grpc::Channel> InProcessChannel() const;

  // Health turns NOT_SERVING, new calls are refused, calls in flight get
  // `grace` to finish and are then cancelled. Returns when all are done.
  void Shutdown(absl::Duration grace);

 private:
  GrpcServer(std::unique_ptr<grpc::Server> server, std::string host, int port)
      : server_(std::move(server)), host_(std::move(host)), port_(port) {}

  std::unique_ptr<grpc::Server> server_;
  std::string host_;
  int port_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_GRPC_SERVER_H_
