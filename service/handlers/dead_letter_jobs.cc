#include "service/handlers/dead_letter_jobs.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "service/checks/request_checks.h"
#include "service/mapping/struct_json.h"
#include "shim/delivery/delivery_mapping.h"

namespace jobqueue {
namespace {

absl::Status CannotReplay(const absl::Status& why) {
  return absl::FailedPreconditionError(
      absl::StrCat("cannot be replayed: ", why.message()));
}

}  // namespace

absl::StatusOr<NewJob> DeadLetterJob(const DeadLetter& letter,
                                     size_t max_payload_bytes) {
  const bool messages = letter.source == "twilio.messages";
  if (!messages && letter.source != "twilio.conversations") {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot be replayed: source ", letter.source,
        " has no mapping to a job (only twilio.messages and "
        "twilio.conversations deliveries and failed jobs are replayed)"));
  }
  google::protobuf::Struct payload;
  if (absl::Status s = JsonToStruct(letter.raw_payload_json, &payload);
      !s.ok()) {
    return CannotReplay(s);
  }
  absl::StatusOr<v1::EnqueueJobRequest> request =
      messages ? shim::MapMessageDelivery(payload)
               : shim::MapConversationDelivery(payload);
  if (!request.ok()) return CannotReplay(request.status());
  absl::StatusOr<NewJob> job = ToNewJob(*request, max_payload_bytes);
  if (!job.ok()) return CannotReplay(job.status());
  return job;
}

}  // namespace jobqueue
