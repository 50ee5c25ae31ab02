// A fault-suite worker over StreamJobs, every push and item recorded into a
// History as the unary calls would be:
//
//   * a push is a claim that ended when the worker read it and began no
//     earlier than the server may have claimed it: the stream's open, or
//     the send of the completion or failure that freed the slot it filled
//     (the server holds at most max_outstanding jobs for the worker);
//   * an item is the unary call it stands for, from its send to its ack
//     (ambiguous when no ack came);
//   * the end of a stream is a release (Call::kRelease) of every lease the
//     worker still held, from the moment it ended the stream; a stream it
//     cancelled, or one that ended on its own, may also have pushed jobs
//     it never read (an ambiguous claim).
//
// Each stream ends after a few jobs, most by the worker's half-close and
// the rest by a cancel, so the server's hand-back of unanswered jobs is
// exercised all along. Every loop is bounded by a deadline and a count.

#ifndef JOBQUEUE_TESTS_FAULT_STREAM_WORKER_H_
#define JOBQUEUE_TESTS_FAULT_STREAM_WORKER_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/fault/history.h"

namespace jobqueue::fault {

struct StreamWorkerOptions {
  std::string name;
  absl::Duration lease = absl::Seconds(1);
  unsigned seed = 1;
  int max_outstanding = 2;
  // Jobs a stream is pushed before the worker ends it; one stream in
  // `cancel_every` is cancelled instead of half-closed.
  int jobs_per_stream = 6;
  int cancel_every = 5;
  // Percentages of pushed jobs: paused past their lease, failed (half
  // retryable), preceded by an item with a stale token; the rest complete.
  int pause_percent = 8;
  int fail_percent = 10;
  int stale_percent = 5;
  int max_streams = 10000;
};

// Opens stream after stream until `stop` or `done`, alternating `stubs`.
// Returns how many streams it opened.
int RunStreamWorker(const std::vector<v1::JobQueue::Stub*>& stubs,
                    const StreamWorkerOptions& options, absl::Time stop,
                    const std::atomic<bool>& done, History& history);

}  // namespace jobqueue::fault

#endif  // JOBQUEUE_TESTS_FAULT_STREAM_WORKER_H_
