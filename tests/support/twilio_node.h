// Runs Twilio's own Node library (tools/npm/twilio_signatures.js) to sign
// webhook requests, or to check signatures made elsewhere, as Twilio does.
// Needs `node` on $PATH and the npm packages of tools/npm on $NODE_PATH, as
// tools/test passes them.
//
//   absl::StatusOr<std::vector<TwilioNodeResult>> signed_requests =
//       RunTwilioNode(token, {{.url = url, .params = {{"Body", "hi"}}}});
#ifndef JOBQUEUE_TESTS_SUPPORT_TWILIO_NODE_H_
#define JOBQUEUE_TESTS_SUPPORT_TWILIO_NODE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jobqueue::shim {

struct TwilioNodeRequest {
  // The URL Twilio calls.
  std::string url;
  // Form parameters in the order sent; a name may repeat.
  std::vector<std::pair<std::string, std::string>> params;
  // Set for the JSON-body variant instead of params.
  std::optional<std::string> json_body;
  // When set, also checked with twilio.validateRequest(WithBody).
  std::optional<std::string> signature;
};

struct TwilioNodeResult {
  // The signed URL: `url`, plus bodySHA256 for a JSON body.
  std::string url;
  // X-Twilio-Signature as Twilio computes it.
  std::string signature;
  // Whether the request's `signature` is valid; unset when none was given.
  std::optional<bool> valid;
};

// One result per request, in order.
absl::StatusOr<std::vector<TwilioNodeResult>> RunTwilioNode(
    absl::string_view auth_token,
    const std::vector<TwilioNodeRequest>& requests);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_TESTS_SUPPORT_TWILIO_NODE_H_
