#include "service/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/resource_quota.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "service/observability/rpc_observer.h"

namespace jobqueue {
namespace {

constexpr int kMaxIdleThreads = 64;
// A hard bound on the server's threads: calls beyond it are refused with
// RESOURCE_EXHAUSTED instead of growing the process without limit.
constexpr int kMaxThreads = 512;

// Drops the reflection plugin that InitProtoReflectionServerBuilderPlugin
// adds to every server of the process.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->erase(
        std::remove_if(plugins->begin(), plugins->end(),
                       [](const std::unique_ptr<grpc::ServerBuilderPlugin>& p) {
                         return p->name() == kReflectionPlugin;
                       }),
        plugins->end());
  }

 private:
  static constexpr char kReflectionPlugin[] = "proto_server_reflection";
};

// gRPC's default health service is written without the C++ protobuf
// classes, so nothing puts grpc/health/v1/health.proto into the generated
// descriptor pool that reflection serves: reflection would list
// grpc.health.v1.Health yet answer NOT_FOUND when a client (grpcurl, buf
// curl) asks for its file, and such clients could not call it. Touching the
// generated code here links it into every server (a linker keeps only the
// objects something refers to) and registers the file.
void RegisterHealthDescriptor() {
  grpc::health::v1::HealthCheckRequest::descriptor();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const GrpcServer::Options& options) {
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate and a key file");
  }
  absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(options.tls_key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    grpc::Service* service, const Options& options) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      Credentials(options);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  RegisterHealthDescriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, *credentials, &port);
  builder.RegisterService(service);
  if (!options.reflection) {
    builder.SetOption(std::make_unique<WithoutReflection>());
  }
  // gRPC's sync server lets at most 2 idle threads wait for calls and ends
  // the others as soon as their call is answered. Under many concurrent
  // calls that ends and starts a thread per call; keeping idle threads
  // around costs a little memory and saves about a third of the CPU.
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kMaxIdleThreads);
  grpc::ResourceQuota quota("jobqueue");
  quota.SetMaxThreads(kMaxThreads);
  builder.SetResourceQuota(quota);
  if (options.metrics != nullptr ||
      options.log_requests != RequestLogLevel::kNone) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        observers;
    observers.push_back(std::make_unique<RpcObserverFactory>(
        options.metrics, options.log_requests));
    builder.experimental().SetInterceptorCreators(std::move(observers));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen));
  }
  server->GetHealthCheckService()->SetServingStatus(true);
  const std::string host = options.listen.substr(0, options.listen.rfind(':'));
  return std::unique_ptr<GrpcServer>(
      new GrpcServer(std::move(server), host, port));
}

std::string GrpcServer::address() const {
  return absl::StrCat(host_, ":", port_);
}

std::shared_ptr<grpc::Channel> GrpcServer::InProcessChannel() const {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

void GrpcServer::Shutdown(absl::Duration grace) {
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
}

}  // namespace jobqueue
