#include "console/console_api.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"

namespace jobqueue::console {
namespace {

namespace pb = google::protobuf;

// What an operator does; a worker's methods stay on the gRPC port.
const absl::flat_hash_set<std::string>& ExposedMethods() {
  static const auto* methods = new absl::flat_hash_set<std::string>{
      "GetJob",
      "ListJobs",
      "RetryJob",
      "CancelJob",
      "GetQueue",
      "PauseQueue",
      "ResumeQueue",
      "ListSchedules",
      "GetUser",
      "GetQueueStats",
      "ListConversations",
      "ListDeadLetters",
      "ReplayDeadLetters",
      "RetryJobs",
      "CancelJobs",
  };
  return *methods;
}

int HttpStatus(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i <= 16 ? kNames[i] : "UNKNOWN";
}

// {"code": ..., "message": ...}, the message escaped as a JSON string.
ConsoleApi::Reply Error(grpc::StatusCode code, absl::string_view message) {
  pb::Value text;
  text.set_string_value(std::string(message));
  std::string quoted;
  (void)pb::util::MessageToJsonString(text, &quoted);
  return {HttpStatus(code), absl::StrCat(R"({"code":")", CodeName(code),
                                         R"(","message":)", quoted, "}")};
}

}  // namespace

ConsoleApi::Reply ConsoleApi::ErrorReply(const absl::Status& status) {
  return Error(static_cast<grpc::StatusCode>(status.code()), status.message());
}

bool ConsoleApi::Exposed(absl::string_view method) {
  return ExposedMethods().contains(method);
}

void ConsoleApi::SetChannel(std::shared_ptr<grpc::Channel> channel) {
  absl::MutexLock lock(&mu_);
  channel_ = std::move(channel);
}

ConsoleApi::Reply ConsoleApi::Call(absl::string_view method,
                                   absl::string_view json,
                                   absl::string_view authorization) const {
  const pb::MethodDescriptor* descriptor =
      pb::DescriptorPool::generated_pool()
          ->FindServiceByName(v1::JobQueue::service_full_name())
          ->FindMethodByName(std::string(method));
  if (descriptor == nullptr || !Exposed(method)) {
    return Error(grpc::StatusCode::NOT_FOUND,
                 absl::StrCat("console: no method ", method,
                              " (the console calls operators' methods only)"));
  }
  std::shared_ptr<grpc::Channel> channel;
  {
    absl::MutexLock lock(&mu_);
    channel = channel_;
  }
  if (channel == nullptr) {
    return Error(grpc::StatusCode::UNAVAILABLE, "console: starting");
  }
  const pb::Message* prototype =
      pb::MessageFactory::generated_factory()->GetPrototype(
          descriptor->input_type());
  std::unique_ptr<pb::Message> request(prototype->New());
  const pb::util::Status parsed = pb::util::JsonStringToMessage(
      pb::StringPiece(json.data(), json.size()), request.get());
  if (!parsed.ok()) {
    return Error(grpc::StatusCode::INVALID_ARGUMENT,
                 absl::StrCat("request body is not a ",
                              descriptor->input_type()->full_name(),
                              " in JSON: ", parsed.message().as_string()));
  }
  const std::string bytes = request->SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;

  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline_));
  if (!authorization.empty()) {
    context.AddMetadata("authorization", std::string(authorization));
  }
  grpc::GenericStub stub(channel);
  absl::Notification done;
  grpc::Status status;
  stub.UnaryCall(
      &context,
      absl::StrCat("/", v1::JobQueue::service_full_name(), "/", method),
      grpc::StubOptions(), &request_buffer, &response_buffer,
      [&](grpc::Status s) {
        status = std::move(s);
        done.Notify();
      });
  done.WaitForNotification();
  if (!status.ok()) return Error(status.error_code(), status.error_message());

  std::vector<grpc::Slice> slices;
  (void)response_buffer.Dump(&slices);
  std::string response_bytes;
  for (const grpc::Slice& s : slices) {
    response_bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  std::unique_ptr<pb::Message> response(
      pb::MessageFactory::generated_factory()
          ->GetPrototype(descriptor->output_type())
          ->New());
  if (!response->ParseFromString(response_bytes)) {
    return Error(grpc::StatusCode::INTERNAL, "console: unreadable response");
  }
  pb::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!pb::util::MessageToJsonString(*response, &out, options).ok()) {
    return Error(grpc::StatusCode::INTERNAL, "console: response not JSON");
  }
  return {200, std::move(out)};
}

}  // namespace jobqueue::console
