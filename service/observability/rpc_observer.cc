#include "service/observability/rpc_observer.h"

#include <chrono>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/checks/field_rules.h"

namespace jobqueue {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr absl::string_view kOwnPrefix = "/jobqueue.v1.JobQueue/";

// Every method label but "unknown", without the leading slash.
const absl::flat_hash_set<std::string>& KnownMethods() {
  static const auto* known = [] {
    auto* set = new absl::flat_hash_set<std::string>{
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    };
    const google::protobuf::ServiceDescriptor* service =
        v1::Job::descriptor()->file()->FindServiceByName("JobQueue");
    for (int i = 0; i < service->method_count(); ++i) {
      set->insert(service->method(i)->name());
    }
    return set;
  }();
  return *known;
}

class RpcObserver final : public grpc::experimental::Interceptor {
 public:
  RpcObserver(absl::string_view full_method, ServiceMetrics* metrics,
              RequestLogLevel log_level)
      : own_method_(absl::StartsWith(full_method, kOwnPrefix)),
        method_(MethodLabel(full_method)),
        metrics_(metrics),
        log_level_(log_level),
        start_(std::chrono::steady_clock::now()) {}

  // A call that ended without sending a status (e.g. the client left
  // before the request arrived) still counts.
  ~RpcObserver() override {
    if (!finished_) Finish(grpc::StatusCode::CANCELLED);
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (own_method_ && job_id_.empty()) {
      if (methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::POST_RECV_MESSAGE)) {
        NoteJobId(methods->GetRecvMessage());
      }
      if (methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::PRE_SEND_MESSAGE)) {
        NoteJobId(methods->GetSendMessage());
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  // JobQueue's handlers are generated protobuf services, so their messages
  // are protobuf messages.
  void NoteJobId(const void* message) {
    if (message == nullptr) return;
    job_id_ = JobIdOf(*static_cast<const google::protobuf::Message*>(message));
  }

  void Finish(grpc::StatusCode code) {
    finished_ = true;
    const absl::Duration elapsed =
        absl::FromChrono(std::chrono::steady_clock::now() - start_);
    const std::string code_name =
        absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
    if (metrics_ != nullptr) metrics_->RecordRpc(method_, code_name, elapsed);
    if (ShouldLogRequest(log_level_, code == grpc::StatusCode::OK)) {
      LogRequest({.method = method_,
                  .code = code_name,
                  .duration = elapsed,
                  .job_id = job_id_});
    }
  }

  const bool own_method_;
  const std::string method_;
  ServiceMetrics* const metrics_;
  const RequestLogLevel log_level_;
  const std::chrono::steady_clock::time_point start_;
  std::string job_id_;
  bool finished_ = false;
};

}  // namespace

std::string MethodLabel(absl::string_view full_method) {
  absl::string_view name = full_method;
  if (absl::StartsWith(name, kOwnPrefix)) {
    name.remove_prefix(kOwnPrefix.size());
  } else if (absl::StartsWith(name, "/")) {
    name.remove_prefix(1);
  }
  return KnownMethods().contains(name) ? std::string(name) : "unknown";
}

std::string JobIdOf(const google::protobuf::Message& message) {
  std::string id;
  if (auto* m = dynamic_cast<const v1::Job*>(&message)) {
    id = m->id();
  } else if (auto* m = dynamic_cast<const v1::EnqueueJobResponse*>(&message)) {
    id = m->job().id();
  } else if (auto* m = dynamic_cast<const v1::GetJobRequest*>(&message)) {
    id = m->id();
  } else if (auto* m = dynamic_cast<const v1::UpdateStatusRequest*>(&message)) {
    id = m->id();
  } else if (auto* m = dynamic_cast<const v1::ExtendLeaseRequest*>(&message)) {
    id = m->job_id();
  } else if (auto* m = dynamic_cast<const v1::CompleteJobRequest*>(&message)) {
    id = m->job_id();
  } else if (auto* m = dynamic_cast<const v1::FailJobRequest*>(&message)) {
    id = m->job_id();
  } else if (auto* m = dynamic_cast<const v1::RetryJobRequest*>(&message)) {
    id = m->job_id();
  } else if (auto* m = dynamic_cast<const v1::CancelJobRequest*>(&message)) {
    id = m->id();
  }
  return IsUuid(id) ? id : "";
}

grpc::experimental::Interceptor* RpcObserverFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcObserver(info->method(), metrics_, log_level_);
}

}  // namespace jobqueue
