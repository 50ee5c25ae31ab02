#include "storage/bulk_jobs.h"

#include "absl/strings/str_cat.h"

namespace jobqueue {
namespace {

absl::Status CheckLimit(int limit) {
  if (limit >= 1 && limit <= kMaxBulkLimit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "limit must be between 1 and ", kMaxBulkLimit, ", got ", limit));
}

absl::Status StatusRefused(JobStatus status, absl::string_view allowed) {
  return absl::InvalidArgumentError(absl::StrCat(
      "status must be ", allowed, ", got '", JobStatusName(status), "'"));
}

// Whether `filter` narrows anything besides its status.
bool Narrows(const JobFilter& filter) {
  return !filter.user_id.empty() || !filter.source_channel_id.empty() ||
         !filter.source_type.empty() ||
         filter.created_after != absl::InfinitePast() ||
         filter.created_before != absl::InfiniteFuture();
}

absl::Status CheckScope(bool narrowed, bool all) {
  if (narrowed && all) {
    return absl::InvalidArgumentError(
        "all must be false when a filter is set (it means every job)");
  }
  if (!narrowed && !all) {
    return absl::InvalidArgumentError(
        "set a filter, or all=true to act on every job");
  }
  return absl::OkStatus();
}

}  // namespace

bool CancellableByBulk(JobStatus status) {
  return status == JobStatus::kScheduled || status == JobStatus::kPending ||
         status == JobStatus::kProcessing;
}

absl::Status CheckBulkRetry(const BulkJobs& jobs) {
  if (jobs.filter.status.has_value() &&
      *jobs.filter.status != JobStatus::kFailed) {
    return StatusRefused(*jobs.filter.status, "failed (or unset)");
  }
  if (absl::Status s = CheckScope(Narrows(jobs.filter), jobs.all); !s.ok()) {
    return s;
  }
  return CheckLimit(jobs.limit);
}

absl::Status CheckBulkCancel(const BulkJobs& jobs) {
  if (jobs.filter.status.has_value() &&
      !CancellableByBulk(*jobs.filter.status)) {
    return StatusRefused(*jobs.filter.status,
                         "scheduled, pending or processing (or unset)");
  }
  if (absl::Status s = CheckScope(
          Narrows(jobs.filter) || jobs.filter.status.has_value(), jobs.all);
      !s.ok()) {
    return s;
  }
  return CheckLimit(jobs.limit);
}

}  // namespace jobqueue
