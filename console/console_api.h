// The console's API: POST /console/api/<Method> with the JSON form of a
// jobqueue.v1.JobQueue request (protobuf's JSON mapping), answered with the
// JSON form of the response. Each call goes through an in-process gRPC
// channel to the very service the gRPC port serves, so the bearer token,
// request checks, deadlines, metrics and request log are the same as for
// grpcurl: this is a mapping of the messages, not a second implementation.
// Only the operator's methods are exposed (reads, pause, retry, cancel,
// replay), never a worker's (claims, leases, completions).
//
//   ConsoleApi api;
//   api.SetChannel(grpc_server->InProcessChannel());
//   ConsoleApi::Reply r = api.Call("GetJob", R"({"id": "..."})", "Bearer t");

#ifndef JOBQUEUE_CONSOLE_CONSOLE_API_H_
#define JOBQUEUE_CONSOLE_CONSOLE_API_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobqueue::console {

class ConsoleApi {
 public:
  struct Reply {
    int http_status = 200;
    // The response message, or {"code": "NOT_FOUND", "message": "..."}.
    std::string json;
  };

  explicit ConsoleApi(absl::Duration deadline = absl::Seconds(15))
      : deadline_(deadline) {}

  // {"code": "PERMISSION_DENIED", "message": ...} for a refusal made
  // before any call, with the HTTP status the call would have had.
  static Reply ErrorReply(const absl::Status& status);

  // True for a JobQueue method the console may call.
  static bool Exposed(absl::string_view method);

  // Until a channel is set (the gRPC server is starting) calls answer 503.
  void SetChannel(std::shared_ptr<grpc::Channel> channel);

  // `authorization` is forwarded as the call's `authorization` metadata.
  Reply Call(absl::string_view method, absl::string_view json,
             absl::string_view authorization) const;

 private:
  const absl::Duration deadline_;
  mutable absl::Mutex mu_;
  std::shared_ptr<grpc::Channel> channel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jobqueue::console

#endif  // JOBQUEUE_CONSOLE_CONSOLE_API_H_
