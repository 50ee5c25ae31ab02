// What the shim needs from the JobQueue service, as an interface so that the
// webhook handler and the spool replayer can be tested without a server.
// GrpcJobQueueBackend is the real one.
#ifndef JOBQUEUE_SHIM_BACKEND_JOB_QUEUE_BACKEND_H_
#define JOBQUEUE_SHIM_BACKEND_JOB_QUEUE_BACKEND_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "shim/spool/spooled_delivery.pb.h"

namespace jobqueue::shim {

// How to make one call.
struct CallOptions {
  // The call's deadline, from now.
  absl::Duration timeout = absl::Seconds(5);
  // False: fail at once (UNAVAILABLE) while the service cannot be reached.
  // True: wait, up to the deadline, for it to become reachable; the first
  // call after an outage then goes through as soon as the service is back.
  bool wait_for_ready = false;
};

class JobQueueBackend {
 public:
  virtual ~JobQueueBackend() = default;

  // Makes the call `delivery` holds (EnqueueJob or RecordDeadLetter) and
  // returns its status. Thread-safe.
  virtual absl::Status Deliver(const SpooledDelivery& delivery,
                               const CallOptions& options) = 0;

  // OK when the service reports itself serving within `timeout`.
  virtual absl::Status CheckHealth(absl::Duration timeout) = 0;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_BACKEND_JOB_QUEUE_BACKEND_H_
