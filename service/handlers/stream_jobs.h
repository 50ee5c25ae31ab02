// StreamJobs: a worker's session over one bidirectional stream. The first
// message opens it (a claim's settings and max_outstanding); the server then
// pushes jobs leased exactly as ClaimJobs leases them (ClaimWaiter: the same
// store claim, notifications and rate-limit turns) while the worker holds
// fewer than max_outstanding, and answers each complete, fail and extend
// item as CompleteJob(s), FailJob and ExtendLease do, in order. Two threads
// per stream: a reader that only reads and queues the items, and the
// handler's thread, which stores the items (the completions that arrived
// meanwhile in one CompleteJobs call), claims and writes.
//
// When the stream ends (half-close, cancel, deadline, a broken connection,
// a malformed message, or the server stopping) the jobs pushed and neither
// completed nor failed are handed back at once (JobStore::ReleaseJobs).
//
//   return ServeJobStream(*context, *stream, store, &claim_waiter, options);

#ifndef JOBQUEUE_SERVICE_HANDLERS_STREAM_JOBS_H_
#define JOBQUEUE_SERVICE_HANDLERS_STREAM_JOBS_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <functional>

#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/handlers/claim_waiter.h"
#include "storage/job_store.h"

namespace jobqueue {

struct JobStreamOptions {
  // Most bytes of jobs in one pushed message (a message carries at least
  // one job).
  size_t max_response_bytes = 3584 * 1024;
  // Each store call's deadline from when it starts (capped by the
  // stream's own deadline).
  absl::Duration default_deadline = absl::Seconds(30);
  // Without a notifier, or after a failed claim, how long until the next.
  absl::Duration claim_recheck = absl::Seconds(1);
  // When set, called with the number of jobs of each push.
  std::function<void(size_t jobs)> on_push;
};

// Serves one StreamJobs call until it ends; `store` and `waiter` must
// outlive it. When the server stops (the waiter's notifier closes) no more
// jobs are pushed; items are still answered until the worker holds none,
// and the stream is then cancelled.
grpc::Status ServeJobStream(
    grpc::ServerContext& context,
    grpc::ServerReaderWriter<v1::StreamJobsResponse, v1::StreamJobsRequest>&
        stream,
    JobStore* store, ClaimWaiter* waiter, const JobStreamOptions& options);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_HANDLERS_STREAM_JOBS_H_
