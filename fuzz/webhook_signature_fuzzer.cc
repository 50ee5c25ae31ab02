// libFuzzer target: the X-Twilio-Signature check. Input: the URL Twilio called,
// a newline, the signature header, a newline, then the body (a form, or for the
// JSON variant any bytes). Every part comes from the outside.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "fuzz/fuzz_util.h"
#include "shim/webhook/form_parser.h"
#include "shim/webhook/webhook_signature.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using jobqueue::fuzz::TakeUntil;
  using namespace jobqueue::shim;
  static const WebhookSignatureVerifier* verifier =
      new WebhookSignatureVerifier("12345678901234567890123456789012");
  absl::string_view rest(reinterpret_cast<const char*>(data), size);
  absl::string_view url = TakeUntil(rest, '\n');
  absl::string_view signature = TakeUntil(rest, '\n');
  absl::string_view body = rest;

  for (const std::string& candidate : SignedUrlCandidates(url)) {
    (void)candidate.size();
  }
  (void)verifier->VerifyJsonBody(signature, url, body);
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded(body);
  if (!params.ok()) return 0;
  (void)verifier->VerifyForm(signature, url, *params);
  // What the verifier computes must verify: the signature over the URL as
  // given.
  std::string good =
      ComputeTwilioSignature("12345678901234567890123456789012", url, *params);
  if (!verifier->VerifyForm(good, url, *params)) std::abort();
  return 0;
}
