#include "storage/requested_job.h"

#include "absl/time/time.h"

namespace jobqueue {

Job RequestedJob(const NewJob& job) {
  return {.user_id = job.user_phone,
          .source_channel_id = job.source_channel_id,
          .source_type = job.source_type,
          .user_phone = job.user_phone,
          .payload_json = job.payload_json,
          .content_type = job.content_type,
          .idempotency_key = job.idempotency_key,
          .max_attempts = job.max_attempts,
          .queue = job.queue,
          .ordered = job.ordered,
          .priority = job.priority,
          .max_run_time =
              absl::Milliseconds(absl::ToInt64Milliseconds(job.max_run_time))};
}

}  // namespace jobqueue
