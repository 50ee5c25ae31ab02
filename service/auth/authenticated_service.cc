#include "service/auth/authenticated_service.h"

#include <google/protobuf/message_lite.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/method_handler.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "service/mapping/status_convert.h"

namespace jobqueue {
namespace {

using grpc::internal::MethodHandler;

// Reads a service's handlers: GetHandler is protected in grpc::Service.
struct HandlerAccess : grpc::Service {
  static MethodHandler* Of(grpc::Service* service, int index) {
    return (service->*&HandlerAccess::GetHandler)(index);
  }
};

class CheckedHandler final : public MethodHandler {
 public:
  CheckedHandler(MethodHandler* inner, const BearerTokenCheck* check)
      : inner_(inner), check_(check) {}

  void RunHandler(const HandlerParameter& param) override {
    const absl::Status auth = check_->Check(*param.server_context);
    if (auth.ok()) {
      inner_->RunHandler(param);
      return;
    }
    // A unary handler given a failed request status sends that status
    // without calling the method; the request it decoded is destroyed here
    // since it is not passed on (it lives in the call's arena).
    if (param.request != nullptr) {
      static_cast<google::protobuf::MessageLite*>(param.request)
          ->~MessageLite();
    }
    inner_->RunHandler(HandlerParameter(
        param.call, param.server_context, /*req=*/nullptr, ToGrpcStatus(auth),
        param.internal_data, param.call_requester));
  }

  void* Deserialize(grpc_call* call, grpc_byte_buffer* request,
                    grpc::Status* status, void** handler_data) override {
    return inner_->Deserialize(call, request, status, handler_data);
  }

 private:
  MethodHandler* const inner_;
  const BearerTokenCheck* const check_;
};

// A bidirectional streaming method behind the check. A refused call is
// answered by a handler that reads and writes nothing, only the status
// (a streaming handler takes no request status as a unary one does).
class CheckedStreamHandler final : public MethodHandler {
 public:
  CheckedStreamHandler(MethodHandler* inner, const BearerTokenCheck* check)
      : inner_(inner), check_(check) {}

  void RunHandler(const HandlerParameter& param) override {
    const absl::Status auth = check_->Check(*param.server_context);
    if (auth.ok()) {
      inner_->RunHandler(param);
      return;
    }
    const grpc::Status refused = ToGrpcStatus(auth);
    grpc::internal::BidiStreamingHandler<grpc::Service, grpc::ByteBuffer,
                                         grpc::ByteBuffer>
        refuse(
            [refused](
                grpc::Service*, grpc::ServerContext*,
                grpc::ServerReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>*) {
              return refused;
            },
            nullptr);
    refuse.RunHandler(param);
  }

 private:
  MethodHandler* const inner_;
  const BearerTokenCheck* const check_;
};

}  // namespace

AuthenticatedService::AuthenticatedService(
    grpc::Service* inner, const google::protobuf::ServiceDescriptor* descriptor,
    const BearerTokenCheck* check) {
  paths_.reserve(descriptor->method_count());  // names must not move
  for (int i = 0; i < descriptor->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = descriptor->method(i);
    const bool bidi = method->client_streaming() && method->server_streaming();
    if (!bidi && (method->client_streaming() || method->server_streaming())) {
      std::fprintf(stderr, "AuthenticatedService: %s streams one way\n",
                   method->full_name().c_str());
      std::abort();
    }
    paths_.push_back(
        absl::StrCat("/", descriptor->full_name(), "/", method->name()));
    MethodHandler* inner_handler = HandlerAccess::Of(inner, i);
    if (bidi) {
      AddMethod(new grpc::internal::RpcServiceMethod(
          paths_.back().c_str(), grpc::internal::RpcMethod::BIDI_STREAMING,
          new CheckedStreamHandler(inner_handler, check)));
      continue;
    }
    AddMethod(new grpc::internal::RpcServiceMethod(
        paths_.back().c_str(), grpc::internal::RpcMethod::NORMAL_RPC,
        new CheckedHandler(inner_handler, check)));
  }
}

}  // namespace jobqueue
