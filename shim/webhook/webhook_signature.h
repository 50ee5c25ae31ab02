// Checks the X-Twilio-Signature header the way Twilio's own request
// validators (twilio-node, twilio-python) do.
//
//   WebhookSignatureVerifier verifier(twilio_auth_token);
//   if (!verifier.VerifyForm(header, "https://example.com/twilio/messages",
//                            params)) {
//     // 403: not from Twilio.
//   }
#ifndef JOBQUEUE_SHIM_WEBHOOK_WEBHOOK_SIGNATURE_H_
#define JOBQUEUE_SHIM_WEBHOOK_WEBHOOK_SIGNATURE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "shim/webhook/form_parser.h"

namespace jobqueue::shim {

// Base64 of HMAC-SHA1, keyed with `twilio_auth_token`, over `url` followed by
// every parameter name immediately followed by its value: names in byte order,
// a repeated name once per distinct value, values in byte order.
std::string ComputeTwilioSignature(absl::string_view twilio_auth_token,
                                   absl::string_view url,
                                   const FormParams& params);

// The URLs a validator tries for `url`: without any port, and with the
// scheme's default port (443 for https, 80 otherwise) when it has none. A URL
// with an explicit port is thus tried as is and without it.
std::vector<std::string> SignedUrlCandidates(absl::string_view url);

// Lowercase hex SHA-256 of `body`, as Twilio puts it in `bodySHA256`.
std::string BodySha256Hex(absl::string_view body);

// Verifies signatures with one auth token. Comparisons take constant time in
// the signature's content. The token is never logged or returned.
class WebhookSignatureVerifier {
 public:
  explicit WebhookSignatureVerifier(std::string twilio_auth_token);

  // True when `signature` signs `url` (any of SignedUrlCandidates) with the
  // form parameters `params`. `url` is the full URL Twilio called, query
  // included.
  bool VerifyForm(absl::string_view signature, absl::string_view url,
                  const FormParams& params) const;

  // The variant for JSON bodies: `url` carries the query parameter
  // `bodySHA256`, the signature covers the URL alone, and the parameter must
  // equal BodySha256Hex(body). False when the parameter is missing.
  bool VerifyJsonBody(absl::string_view signature, absl::string_view url,
                      absl::string_view body) const;

 private:
  std::string twilio_auth_token_;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_WEBHOOK_WEBHOOK_SIGNATURE_H_
