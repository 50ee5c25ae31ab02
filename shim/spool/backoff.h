// Exponential backoff with jitter between retries of one operation.
//
//   ExponentialBackoff backoff(absl::Milliseconds(250), absl::Seconds(10));
//   while (!TryOnce().ok()) absl::SleepFor(backoff.Next());
//   backoff.Reset();
#ifndef JOBQUEUE_SHIM_SPOOL_BACKOFF_H_
#define JOBQUEUE_SHIM_SPOOL_BACKOFF_H_

#include "absl/random/random.h"
#include "absl/time/time.h"

namespace jobqueue::shim {

// Not thread-safe.
class ExponentialBackoff {
 public:
  // The bound doubles from `initial` after each failure, up to `max`.
  ExponentialBackoff(absl::Duration initial, absl::Duration max);

  // The wait after one more failure: uniform in [bound / 2, bound], so that
  // retries of many processes do not fall in step.
  absl::Duration Next();

  // Starts again from `initial`, after a success.
  void Reset();

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  absl::Duration bound_;
  absl::BitGen random_;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_SPOOL_BACKOFF_H_
