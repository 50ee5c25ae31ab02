// Serves every method of a generated gRPC service behind the bearer-token
// check, so no handler has to remember it: an RPC added to the proto is
// protected the moment it exists.
//
// gRPC 1.51's server interceptors cannot end a call before its handler runs,
// and an AuthMetadataProcessor cannot be set on plaintext ports, so this
// wraps each method's handler instead: the check runs first, and a refused
// call is answered UNAUTHENTICATED without reaching the method.
//
//   JobQueueService service(...);
//   BearerTokenCheck check(token);
//   AuthenticatedService gate(&service, &check);
//   builder.RegisterService(&gate);  // instead of &service

#ifndef JOBQUEUE_SERVICE_AUTH_AUTHENTICATED_SERVICE_H_
#define JOBQUEUE_SERVICE_AUTH_AUTHENTICATED_SERVICE_H_

#include <grpcpp/impl/service_type.h>

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "service/auth/bearer_token_check.h"

namespace jobqueue {

class AuthenticatedService final : public grpc::Service {
 public:
  // `inner` is a generated synchronous service whose methods are those of
  // `descriptor`, each unary or bidirectional streaming (the process stops
  // at start-up otherwise).
  // `inner` and `check` must outlive this service; `inner` is not
  // registered on any server itself.
  AuthenticatedService(grpc::Service* inner,
                       const google::protobuf::ServiceDescriptor* descriptor,
                       const BearerTokenCheck* check);

 private:
  std::vector<std::string> paths_;  // "/package.Service/Method"
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_AUTH_AUTHENTICATED_SERVICE_H_
