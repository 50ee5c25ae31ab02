// A recorded history of JobQueue calls (each with its start and end time on
// the client, what was asked and what the server answered), and a checker
// that proves from it alone what the service promises under faults:
//
//   * no job was completed twice;
//   * no call with a stale lease token (one superseded by a later claim of
//     the job, or already used up by a completion or failure) was answered OK;
//   * no conversation (queue and channel) ever had two jobs leased at once;
//   * each conversation's jobs were handed out in the order their enqueues
//     were acknowledged (unordered jobs have no conversation);
//   * no snoozed job was handed out before the time its snooze answered
//     (or an operator's SQL made it due);
//   * no cancelled job was handed out, or completed, by a call that began
//     after its CancelJob was answered;
//   * no call with a lease token was answered OK when it began after the
//     job's run_deadline (its run-time limit);
//   * every acknowledged enqueue is in the table, and no idempotency key
//     made two jobs (given the table's rows).
//
// Times are bounds, never guesses: the server acted somewhere inside
// [start, end] of a call, so a lease is taken to be held from its claim's
// end until the start of the call that ended it (or the expiry the server
// last acknowledged). Anything flagged is a definite violation.
// StreamJobs is recorded in the same terms (tests/fault/stream_worker.h):
// a push is a claim, an item the unary call it stands for, and a stream's
// end a release of the leases its worker still held.
//
//   History h;
//   Call c = {.kind = Call::kClaim, .start = t0, .end = t1, .ok = true, ...};
//   h.Add(c);
//   std::vector<std::string> problems = CheckHistory(h.Snapshot());

#ifndef JOBQUEUE_TESTS_FAULT_HISTORY_H_
#define JOBQUEUE_TESTS_FAULT_HISTORY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobqueue::fault {

// One job as a claim handed it out.
struct Lease {
  std::string job_id;
  // Its conversation: queue, a space, source_channel_id; "" when unordered.
  std::string channel;
  std::string token;
  absl::Time expires;
  // The run-time limit's end; InfiniteFuture when the job has none.
  absl::Time run_deadline = absl::InfiniteFuture();
};

struct Call {
  // kRemove: an operator's SQL deleted the job or set it failed; its lease,
  // if any, ended and its place in its conversation's line with it.
  // kSnooze: the lease ended and the job is not to be handed out before
  // `due`. kMakeDue: an operator's SQL made every pending job due now
  // (run_after = now()), snoozed ones included. kCancel: CancelJob of
  // job_id. kRelease: the worker ended the StreamJobs stream that handed it
  // the lease `token` of job_id while it still held it; the server may hand
  // the job back from `start` on (or not at all: the lease then lapses).
  enum Kind {
    kEnqueue,
    kClaim,
    kExtend,
    kComplete,
    kFail,
    kRetry,
    kRemove,
    kSnooze,
    kMakeDue,
    kCancel,
    kRelease
  };
  Kind kind = kEnqueue;
  absl::Time start, end;
  std::string worker;
  bool ok = false;  // the server answered OK
  // Not OK, but the server may have done it anyway (deadline exceeded,
  // unavailable: the answer was lost). Such a complete or fail may have
  // ended its lease at its start; such a claim may have leased jobs unseen.
  bool ambiguous = false;
  // Request.
  // extend, complete, fail, retry, remove, snooze, cancel, release
  std::string job_id;
  std::string token;       // extend, complete, fail, snooze, release
  std::string channel;     // enqueue: as Lease::channel
  std::string key;         // enqueue: idempotency key
  bool retryable = false;  // fail
  // Response (when ok).
  std::string returned_job_id;  // enqueue
  std::vector<Lease> leases;    // claim
  absl::Time expires;           // extend: the new lease expiry
  absl::Time due;               // snooze: the job's run_after
};

const char* KindName(Call::Kind kind);

// Thread-safe append-only record.
class History {
 public:
  void Add(Call call) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<Call> Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

// Every violation found, one line each; empty when the history is clean.
std::vector<std::string> CheckHistory(const std::vector<Call>& calls);

// `table` maps each job id in the jobs table to its idempotency key ("" when
// none). Flags an acknowledged enqueue whose job is missing, an idempotency
// key answered with two different jobs, and a key with two rows.
std::vector<std::string> CheckEnqueues(
    const std::vector<Call>& calls,
    const std::map<std::string, std::string>& table);

}  // namespace jobqueue::fault

#endif  // JOBQUEUE_TESTS_FAULT_HISTORY_H_
