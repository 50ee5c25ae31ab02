// The one conversion from absl::Status (storage, validation) to grpc::Status,
// used by every RPC handler.
//
//   return ToGrpcStatus(store->GetJob(id, deadline).status());

#ifndef JOBQUEUE_SERVICE_STATUS_CONVERT_H_
#define JOBQUEUE_SERVICE_STATUS_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace jobqueue {

// Same code, same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_STATUS_CONVERT_H_
