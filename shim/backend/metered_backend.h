// A JobQueueBackend that counts the dead letters the service refuses, for
// the webhook handler and the spool replayer alike: such a delivery cannot be
// replayed and ends in the spool's rejected/ folder, so each one is a
// delivery answered 200 that exists only on the shim's disk.
//
//   GrpcJobQueueBackend grpc_backend(channel, token);
//   MeteredBackend backend(&grpc_backend, &metrics);
//   SpoolReplayer replayer(spool, &backend, options);
#ifndef JOBQUEUE_SHIM_BACKEND_METERED_BACKEND_H_
#define JOBQUEUE_SHIM_BACKEND_METERED_BACKEND_H_

#include "shim/backend/job_queue_backend.h"
#include "shim/delivery/delivery_attempt.h"
#include "shim/shim_metrics.h"

namespace jobqueue::shim {

class MeteredBackend final : public JobQueueBackend {
 public:
  // Both must outlive this; `metrics` may be null (nothing is counted).
  MeteredBackend(JobQueueBackend* backend, ShimMetrics* metrics)
      : backend_(backend), metrics_(metrics) {}

  // Counts twilio_shim_deliveries_rejected_total when a RecordDeadLetter is
  // refused for good.
  absl::Status Deliver(const SpooledDelivery& delivery,
                       const CallOptions& options) override {
    absl::Status status = backend_->Deliver(delivery, options);
    if (metrics_ != nullptr && delivery.has_record_dead_letter() &&
        IsPermanentRejection(status)) {
      metrics_->deliveries_rejected->Increment();
    }
    return status;
  }

  absl::Status CheckHealth(absl::Duration timeout) override {
    return backend_->CheckHealth(timeout);
  }

 private:
  JobQueueBackend* const backend_;
  ShimMetrics* const metrics_;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_BACKEND_METERED_BACKEND_H_
