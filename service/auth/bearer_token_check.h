// Checks the `authorization: Bearer <token>` metadata of internal callers.
//
// With an empty configured token every call passes (auth disabled). The
// comparison takes the same time whatever the presented token is, and
// neither token ever appears in a message.
//
//   BearerTokenCheck check(token);
//   if (absl::Status s = check.Check(*context); !s.ok()) return ...;
//
// AuthenticatedService runs it on every JobQueue call.

#ifndef JOBQUEUE_SERVICE_AUTH_BEARER_TOKEN_CHECK_H_
#define JOBQUEUE_SERVICE_AUTH_BEARER_TOKEN_CHECK_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace jobqueue {

class BearerTokenCheck {
 public:
  explicit BearerTokenCheck(absl::string_view token);

  bool enabled() const { return enabled_; }

  // OK, or UNAUTHENTICATED saying whether the token was missing or wrong.
  absl::Status Check(const grpc::ServerContextBase& context) const;
  // The same check on an `authorization` header value.
  absl::Status CheckHeader(absl::string_view authorization) const;

 private:
  bool enabled_;
  std::string token_digest_;  // SHA-256 of the token
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_AUTH_BEARER_TOKEN_CHECK_H_
