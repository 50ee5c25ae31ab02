// Replays the spool into the JobQueue service from a background thread, until
// the service has taken every delivery in it.
//
// Deliveries go in the order they were spooled. A call that fails is retried,
// first in line, after an exponential, jittered backoff; one the service
// rejects for good becomes a dead letter (see AttemptDelivery), and one that
// is rejected even as a dead letter is kept in the spool's rejected/ folder.
// A record that cannot be read (damaged, or not a delivery) does not stop
// the others: each is copied alone to the spool's corrupt/ folder, reported
// and counted, and every other record of its segment is replayed. Replays are
// safe because the idempotency key (the MessageSid) makes EnqueueJob return the
// existing job.
//
//   SpoolReplayer replayer(spool.get(), &backend, {});
//   replayer.Start();
//   ...
//   replayer.Stop();
#ifndef JOBQUEUE_SHIM_SPOOL_SPOOL_REPLAYER_H_
#define JOBQUEUE_SHIM_SPOOL_SPOOL_REPLAYER_H_

#include <cstddef>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "shim/backend/job_queue_backend.h"
#include "shim/shim_metrics.h"
#include "shim/spool/backoff.h"
#include "shim/spool/delivery_spool.h"

namespace jobqueue::shim {

class SpoolReplayer {
 public:
  struct Options {
    // Deadline of each replayed call. Replayed calls wait for the service
    // to become reachable, so the spool drains as soon as it is back; this
    // also bounds how long Stop() may wait.
    absl::Duration rpc_timeout = absl::Seconds(5);
    // Backoff bounds between failed passes.
    absl::Duration initial_backoff = absl::Milliseconds(250);
    absl::Duration max_backoff = absl::Seconds(10);
    // How often an idle replayer looks for new spool content.
    absl::Duration idle_poll = absl::Seconds(1);
    // Where replays, dead letters, quarantined records and the spool depth
    // are counted; none when null. Must outlive the replayer.
    ShimMetrics* metrics = nullptr;
  };

  // `spool` and `backend` must outlive the replayer.
  SpoolReplayer(DeliverySpool* spool, JobQueueBackend* backend,
                Options options);
  // Stops the thread if it runs.
  ~SpoolReplayer();

  // Starts the background thread.
  void Start();

  // Stops the thread and waits for it; a call in flight finishes or times out
  // first. What is left stays in the spool for the next start.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Ends a backoff wait early: the service took another call, so it is
  // likely back.
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);

  // Replays everything spooled so far, once, on the calling thread; for use
  // instead of Start(), never beside it. OK when the spool is empty
  // afterwards; otherwise the status of the call that failed, whose delivery
  // stays first in line.
  absl::Status ReplayPass() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Replays one sealed segment, quarantining its unreadable records, and
  // removes it when done.
  absl::Status ReplaySegment(const std::string& segment)
      ABSL_LOCKS_EXCLUDED(mu_);
  bool stopping() ABSL_LOCKS_EXCLUDED(mu_);

  DeliverySpool* const spool_;
  JobQueueBackend* const backend_;
  const Options options_;
  ExponentialBackoff backoff_;
  std::thread thread_;

  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;

  // How many deliveries of segment `cursor_segment_` this process already
  // handed over, so that a retry does not send them again.
  std::string cursor_segment_;
  size_t cursor_index_ = 0;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_SPOOL_SPOOL_REPLAYER_H_
