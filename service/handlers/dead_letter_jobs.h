// How ReplayDeadLetters turns a delivery's dead letter into a job again:
// through the Twilio shim's own mapping (shim/delivery/delivery_mapping.h)
// of the raw_payload the shim stored, then the checks EnqueueJob makes.
// A failed job's dead letter needs none: the store re-queues its job.
//
//   absl::StatusOr<NewJob> job = DeadLetterJob(letter, max_payload_bytes);

#ifndef JOBQUEUE_SERVICE_HANDLERS_DEAD_LETTER_JOBS_H_
#define JOBQUEUE_SERVICE_HANDLERS_DEAD_LETTER_JOBS_H_

#include <cstddef>

#include "absl/status/statusor.h"
#include "storage/job_store.h"

namespace jobqueue {

// The job the shim would have enqueued for `letter`: source
// "twilio.messages" through MapMessageDelivery, "twilio.conversations"
// through MapConversationDelivery, checked as EnqueueJob checks it (a
// payload at most `max_payload_bytes`). FAILED_PRECONDITION saying why for
// another source or a payload the mapping or the checks refuse.
absl::StatusOr<NewJob> DeadLetterJob(const DeadLetter& letter,
                                     size_t max_payload_bytes);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_HANDLERS_DEAD_LETTER_JOBS_H_
