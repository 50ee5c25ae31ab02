// A JobQueueBackend for tests: records each delivery and answers with the
// statuses it is told, as the service would.
//
//   FakeJobQueueBackend backend;
//   backend.AnswerEnqueue(absl::UnavailableError("down"));
//   ... exercise code that delivers ...
//   EXPECT_EQ(backend.deliveries().size(), 1);
#ifndef JOBQUEUE_SHIM_BACKEND_FAKE_JOB_QUEUE_BACKEND_H_
#define JOBQUEUE_SHIM_BACKEND_FAKE_JOB_QUEUE_BACKEND_H_

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "shim/backend/job_queue_backend.h"

namespace jobqueue::shim {

class FakeJobQueueBackend final : public JobQueueBackend {
 public:
  // The answers to every later EnqueueJob, RecordDeadLetter and health check.
  void AnswerEnqueue(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    enqueue_answer_ = std::move(status);
  }
  void AnswerDeadLetter(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    dead_letter_answer_ = std::move(status);
  }
  void AnswerHealth(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    health_answer_ = std::move(status);
  }

  // Every delivery made so far, whatever the answer.
  std::vector<SpooledDelivery> attempts() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return attempts_;
  }
  // Whether each attempt asked to wait for the service to be reachable.
  std::vector<bool> waited_for_ready() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return waited_for_ready_;
  }
  // The deliveries answered with OK: what the service now holds.
  std::vector<SpooledDelivery> accepted() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return accepted_;
  }
  // Blocks until `count` deliveries were accepted; false after `timeout`.
  bool AwaitAccepted(size_t count, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return accepted_.size() >= count;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

  absl::Status Deliver(const SpooledDelivery& delivery,
                       const CallOptions& options) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    attempts_.push_back(delivery);
    waited_for_ready_.push_back(options.wait_for_ready);
    const absl::Status& answer =
        delivery.has_enqueue_job() ? enqueue_answer_ : dead_letter_answer_;
    if (answer.ok()) accepted_.push_back(delivery);
    return answer;
  }

  absl::Status CheckHealth(absl::Duration timeout) override
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return health_answer_;
  }

 private:
  absl::Mutex mu_;
  absl::Status enqueue_answer_ ABSL_GUARDED_BY(mu_);
  absl::Status dead_letter_answer_ ABSL_GUARDED_BY(mu_);
  absl::Status health_answer_ ABSL_GUARDED_BY(mu_);
  std::vector<SpooledDelivery> attempts_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> waited_for_ready_ ABSL_GUARDED_BY(mu_);
  std::vector<SpooledDelivery> accepted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_BACKEND_FAKE_JOB_QUEUE_BACKEND_H_
