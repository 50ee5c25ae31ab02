// The waiting claim ClaimJobs and StreamJobs share: claims until some job is
// leased, waiting between tries for a notification, this process's turn at
// a rate-limited queue's next token (see TokenTurns), or the recheck
// interval. One per process, so that the turns are shared by every call.
//
//   ClaimWaiter waiter(&store, &notifier, absl::Seconds(1));
//   absl::StatusOr<std::vector<Job>> jobs = waiter.ClaimOrWait(
//       claim, {.until = until, .deadline = deadline,
//               .stop = [&] { return context.IsCancelled(); }});

#ifndef JOBQUEUE_SERVICE_HANDLERS_CLAIM_WAITER_H_
#define JOBQUEUE_SERVICE_HANDLERS_CLAIM_WAITER_H_

#include <atomic>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/handlers/token_turns.h"
#include "storage/job_notifier.h"
#include "storage/job_store.h"

namespace jobqueue {

class ClaimWaiter {
 public:
  struct Wait {
    // When to give up and return no jobs.
    absl::Time until;
    // Each store call's deadline.
    absl::Time deadline;
    // True when the caller is gone: nothing more is claimed.
    std::function<bool()> stop;
    // When set, a wait for a notification also ends once it is true and
    // JobNotifier::WakeWaiters ran (the caller then returns from stop).
    const std::atomic<bool>* wake = nullptr;
  };

  // `store` and `notifier` must outlive the waiter. Without a notifier a
  // claim never waits. `recheck`: a waiting claim looks again at least
  // this often, for what comes without a notification (a retry whose
  // backoff ended).
  ClaimWaiter(JobStore* store, JobNotifier* notifier, absl::Duration recheck)
      : store_(store), notifier_(notifier), recheck_(recheck) {}

  // Claims until some job is leased, `wait.until` passes, `wait.stop`
  // answers true (then nothing is claimed) or the notifier closes (the
  // server is stopping).
  absl::StatusOr<std::vector<Job>> ClaimOrWait(const ClaimRequest& request,
                                               const Wait& wait);

  JobNotifier* notifier() const { return notifier_; }

 private:
  JobStore* const store_;
  JobNotifier* const notifier_;
  const absl::Duration recheck_;
  TokenTurns token_turns_;
};

// What both claims do with a leased job whose payload no client can be
// given: it fails for good, its attempt counted, with the reason in its
// dead letter, and its conversation moves on. On error its lease lapses
// and is rescued.
void FailUndeliverable(JobStore& store, const Job& job,
                       absl::string_view payload_error, absl::Time deadline);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_HANDLERS_CLAIM_WAITER_H_
