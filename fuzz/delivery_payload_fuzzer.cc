// libFuzzer target: the JSON body of a Conversations webhook, through what the
// shim does with it before answering 200: the nesting limit, JsonToPayload, and
// the check that the spooled delivery reads back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_util.h"
#include "shim/delivery/delivery_limits.h"
#include "shim/delivery/delivery_payload.h"
#include "shim/spool/spooled_delivery.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace jobqueue::shim;
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  if (!CheckJsonNestingDepth(body).ok()) return 0;
  absl::StatusOr<google::protobuf::Struct> payload = JsonToPayload(body);
  if (!payload.ok()) return 0;
  jobqueue::fuzz::AbortOnNul(*payload);
  (void)PayloadText(*payload, "Body");
  (void)PayloadText(*payload, "ConversationSid");

  SpooledDelivery delivery;
  delivery.set_source("twilio.conversations");
  *delivery.mutable_enqueue_job()->mutable_payload() = *payload;
  // Within the nesting limit, a delivery always reads back (delivery_limits.h).
  if (!CheckReadsBack(delivery).ok()) std::abort();
  SpooledDelivery dead;
  dead.set_source("twilio.conversations");
  *dead.mutable_record_dead_letter()->mutable_raw_payload() =
      *std::move(payload);
  if (!CheckReadsBack(dead).ok()) std::abort();
  return 0;
}
