#include "storage/lease_refusal.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace jobqueue {

absl::Status WithLastAttempt(const absl::Status& refused, const Job& job) {
  if (job.status == JobStatus::kProcessing || job.attempt_errors.empty() ||
      !absl::StartsWith(job.attempt_errors.back().error,
                        "run-time limit reached")) {
    return refused;
  }
  return absl::Status(
      refused.code(),
      absl::StrCat(refused.message(), "; its last attempt ended: ",
                   job.attempt_errors.back().error,
                   ". Stop working on it: no heartbeat extends a lease past "
                   "its run-time limit"));
}

}  // namespace jobqueue
