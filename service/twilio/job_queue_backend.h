// What the shim needs from the JobQueue service, as an interface so that the
// webhook handler and the spool replayer can be tested without a server.
// GrpcJobQueueBackend is the real one.
#ifndef SERVICE_TWILIO_JOB_QUEUE_BACKEND_H_
#define SERVICE_TWILIO_JOB_QUEUE_BACKEND_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "service/twilio/spooled_delivery.pb.h"

namespace jobqueue::twilio {

class JobQueueBackend {
 public:
  virtual ~JobQueueBackend() = default;

  // Makes the call `delivery` holds (EnqueueJob or RecordDeadLetter), waiting
  // at most `timeout`, and returns the call's status. Thread-safe.
  virtual absl::Status Deliver(const SpooledDelivery& delivery,
                               absl::Duration timeout) = 0;

  // OK when the service reports itself serving within `timeout`.
  virtual absl::Status CheckHealth(absl::Duration timeout) = 0;
};

}  // namespace jobqueue::twilio

#endif  // SERVICE_TWILIO_JOB_QUEUE_BACKEND_H_
