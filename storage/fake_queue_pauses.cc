// FakeJobStore's queue pauses, as pg_job_queues.cc keeps them: the first
// paused_at kept, a new non-empty reason taking the old one's place, and
// the same refusals as the queues table's constraints. The claims and
// NextTokenIn (fake_job_store.cc) skip a paused queue.

#include "absl/status/status.h"
#include "storage/fake_job_store.h"
#include "storage/queue_name.h"

namespace jobqueue {

absl::StatusOr<QueueSettings> FakeJobStore::PauseQueue(
    const std::string& queue, const std::string& reason, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("PauseQueue", deadline); !s.ok()) return s;
  if (!IsQueueName(queue)) {
    return absl::InvalidArgumentError(
        "a value breaks a rule of the table: queues_name");
  }
  if (reason.size() > kMaxPauseReasonBytes) {
    return absl::InvalidArgumentError(
        "a value breaks a rule of the table: queues_pause_reason");
  }
  // PostgreSQL keeps microseconds.
  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  Pause& pause = pauses_.try_emplace(queue, Pause{.at = now}).first->second;
  if (!reason.empty()) pause.reason = reason;
  return SettingsOf(queue);
}

absl::StatusOr<QueueSettings> FakeJobStore::ResumeQueue(
    const std::string& queue, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("ResumeQueue", deadline); !s.ok()) return s;
  pauses_.erase(queue);
  return SettingsOf(queue);
}

}  // namespace jobqueue
