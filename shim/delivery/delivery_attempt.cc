#include "shim/delivery/delivery_attempt.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "shim/delivery/delivery_payload.h"

namespace jobqueue::shim {

std::string DescribeDelivery(const SpooledDelivery& delivery) {
  return delivery.has_enqueue_job()
             ? absl::StrCat("job ", delivery.enqueue_job().idempotency_key(),
                            " from ", delivery.source())
             : absl::StrCat("dead letter ",
                            delivery.record_dead_letter().delivery_id(),
                            " from ", delivery.source());
}

bool IsPermanentRejection(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument;
}

SpooledDelivery DeadLetterDelivery(absl::string_view source,
                                   const google::protobuf::Struct& payload,
                                   absl::string_view reason) {
  SpooledDelivery delivery;
  delivery.set_source(std::string(source));
  v1::RecordDeadLetterRequest* dead_letter =
      delivery.mutable_record_dead_letter();
  dead_letter->set_source(std::string(source));
  std::string delivery_id = PayloadText(payload, "MessageSid");
  if (delivery_id.empty()) delivery_id = PayloadText(payload, "SmsMessageSid");
  // PostgreSQL stores no U+0000: a dead letter must be storable whatever the
  // job was (one spooled by an older shim, say).
  dead_letter->set_delivery_id(WithoutNul(delivery_id));
  dead_letter->set_reason(WithoutNul(reason));
  *dead_letter->mutable_raw_payload() = payload;
  ReplaceNulCharacters(dead_letter->mutable_raw_payload());
  return delivery;
}

absl::Status AttemptDelivery(JobQueueBackend& backend,
                             SpooledDelivery* delivery,
                             const CallOptions& options) {
  const absl::Status status = backend.Deliver(*delivery, options);
  if (!IsPermanentRejection(status) || !delivery->has_enqueue_job()) {
    return status;
  }
  SpooledDelivery dead_letter = DeadLetterDelivery(
      delivery->source(), delivery->enqueue_job().payload(),
      absl::StrCat("EnqueueJob rejected the delivery: ", status.message()));
  *dead_letter.mutable_received_at() = delivery->received_at();
  *delivery = std::move(dead_letter);
  return backend.Deliver(*delivery, options);
}

}  // namespace jobqueue::shim
