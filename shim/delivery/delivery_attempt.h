// One attempt to hand a delivery to the JobQueue service, with the rule for
// deliveries it will never take: when EnqueueJob answers INVALID_ARGUMENT, the
// delivery becomes a dead letter carrying the service's reason, so it is
// recorded rather than retried forever.
//
//   absl::Status status = AttemptDelivery(backend, &delivery, {timeout});
//   if (IsPermanentRejection(status)) {
//     spool.Reject(delivery);  // Not even a dead letter: keep it on disk.
//   } else if (!status.ok()) {
//     spool.Append(delivery);  // Retry later.
//   }
#ifndef JOBQUEUE_SHIM_DELIVERY_DELIVERY_ATTEMPT_H_
#define JOBQUEUE_SHIM_DELIVERY_DELIVERY_ATTEMPT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "shim/backend/job_queue_backend.h"
#include "shim/spool/spooled_delivery.pb.h"

namespace jobqueue::shim {

// "job <MessageSid> from <source>" or "dead letter <id> from <source>", for
// log lines: no phone numbers, no message text.
std::string DescribeDelivery(const SpooledDelivery& delivery);

// True when the service says the call can never succeed as sent.
bool IsPermanentRejection(const absl::Status& status);

// The RecordDeadLetter call for a delivery from `source` with `payload` that
// cannot become a job because of `reason`. Its delivery_id is the payload's
// MessageSid (or SmsMessageSid), empty when there is none. U+0000, which the
// service cannot store, is replaced in all of them (see
// ReplaceNulCharacters).
SpooledDelivery DeadLetterDelivery(absl::string_view source,
                                   const google::protobuf::Struct& payload,
                                   absl::string_view reason);

// Delivers `*delivery` with `options`. When the service rejects its
// EnqueueJob for good, replaces `*delivery` with the dead letter for it and
// delivers that in a second call. Returns the last call's status.
absl::Status AttemptDelivery(JobQueueBackend& backend,
                             SpooledDelivery* delivery,
                             const CallOptions& options);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_DELIVERY_DELIVERY_ATTEMPT_H_
