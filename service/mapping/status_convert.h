// The one conversion from absl::Status (storage, validation) to grpc::Status,
// used by every RPC handler, and the two macros handlers return errors with.
//
//   return ToGrpcStatus(store->GetJob(id, deadline).status());

#ifndef JOBQUEUE_SERVICE_MAPPING_STATUS_CONVERT_H_
#define JOBQUEUE_SERVICE_MAPPING_STATUS_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace jobqueue {

// Same code, same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace jobqueue

// In a function returning grpc::Status: evaluates an absl::Status
// expression and returns it when it is not OK.
#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    if (absl::Status _s = (expr); !_s.ok()) { \
      return ::jobqueue::ToGrpcStatus(_s);    \
    }                                         \
  } while (0)

// In a function returning grpc::Status: declares `lhs` as the value of an
// absl::StatusOr expression, or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr)                                       \
  auto lhs##_or = (expr);                                                 \
  if (!lhs##_or.ok()) return ::jobqueue::ToGrpcStatus(lhs##_or.status()); \
  auto lhs = std::move(*lhs##_or)

#endif  // JOBQUEUE_SERVICE_MAPPING_STATUS_CONVERT_H_
