#include "storage/job_status.h"

namespace jobqueue {
namespace {

constexpr struct {
  JobStatus status;
  absl::string_view name;
} kNames[] = {
    {JobStatus::kPending, "pending"},
    {JobStatus::kProcessing, "processing"},
    {JobStatus::kComplete, "complete"},
    {JobStatus::kFailed, "failed"},
    {JobStatus::kCancelled, "cancelled"},
    {JobStatus::kScheduled, "scheduled"},
};

}  // namespace

absl::string_view JobStatusName(JobStatus status) {
  for (const auto& n : kNames) {
    if (n.status == status) return n.name;
  }
  return "unknown";
}

std::optional<JobStatus> ParseJobStatus(absl::string_view name) {
  for (const auto& n : kNames) {
    if (n.name == name) return n.status;
  }
  return std::nullopt;
}

}  // namespace jobqueue
