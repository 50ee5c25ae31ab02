// libFuzzer target: a Twilio webhook's form body
// (application/x-www-form-urlencoded), as the shim parses it before checking
// its signature and building a payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#include "fuzz/fuzz_util.h"
#include "shim/delivery/delivery_payload.h"
#include "shim/webhook/form_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<jobqueue::shim::FormParams> params =
      jobqueue::shim::ParseFormUrlEncoded(body);
  if (!params.ok()) return 0;
  for (const auto& [name, value] : *params) {
    if (name.empty()) std::abort();  // documented: an empty name is refused
  }
  google::protobuf::Struct payload = jobqueue::shim::FormToPayload(*params);
  jobqueue::fuzz::AbortOnNul(payload);
  (void)jobqueue::shim::PayloadText(payload, "Body");
  return 0;
}
