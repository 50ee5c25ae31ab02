#include "service/handlers/claim_waiter.h"

#include <algorithm>
#include <optional>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace jobqueue {
namespace {

// The shortest wait for a rate-limited queue's next token.
constexpr absl::Duration kMinTokenWait = absl::Milliseconds(1);

}  // namespace

absl::StatusOr<std::vector<Job>> ClaimWaiter::ClaimOrWait(
    const ClaimRequest& request, const Wait& wait) {
  // This call's turn at a rate-limited queue's next token, kept until it
  // comes and handed back if the call ends first.
  std::optional<absl::Time> turn;
  absl::Cleanup give_back = [&] {
    if (turn.has_value() && *turn > absl::Now()) {
      token_turns_.Give(request.queues, *turn);
    }
  };
  while (true) {
    if (wait.stop()) return std::vector<Job>();
    const uint64_t seen = notifier_ != nullptr ? notifier_->generation() : 0;
    absl::StatusOr<std::vector<Job>> jobs =
        store_->ClaimJobs(request, wait.deadline);
    if (!jobs.ok() || !jobs->empty() || notifier_ == nullptr) return jobs;
    absl::Time next = std::min(wait.until, absl::Now() + recheck_);
    if (absl::Now() >= wait.until || wait.stop()) return jobs;
    // A rate-limited queue's next token comes without a notification: try
    // again at this process's next turn for a token.
    absl::StatusOr<TokenWait> token =
        store_->NextTokenIn(request.queues, wait.deadline);
    if (token.ok() && token->next < absl::InfiniteDuration()) {
      if (!turn.has_value() || *turn <= absl::Now()) {
        turn = token_turns_.Take(
            request.queues, absl::Now() + std::max(token->next, kMinTokenWait),
            token->interval);
      }
      next = std::min(next, *turn);
      if (token->every_queue) {
        // No notification can bring a job before that turn: sleep through
        // them (each completion notifies).
        while (absl::Now() < next && !wait.stop()) {
          if (!notifier_->WaitForChange(notifier_->generation(), next,
                                        wait.wake) &&
              absl::Now() < next && !wait.stop()) {
            return jobs;  // the notifier closed: the server is stopping
          }
        }
        continue;
      }
    }
    if (!notifier_->WaitForChange(seen, next, wait.wake) &&
        absl::Now() < next) {
      return jobs;  // the notifier closed (the server is stopping), or woken
    }
  }
}

void FailUndeliverable(JobStore& store, const Job& job,
                       absl::string_view payload_error, absl::Time deadline) {
  store
      .FailJob(job.id, job.lease_token,
               absl::StrCat("payload cannot be delivered: ", payload_error),
               /*retryable=*/false, deadline)
      .IgnoreError();
}

}  // namespace jobqueue
