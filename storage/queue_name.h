// The rule a queue name follows (the jobs_queue_name constraint): 1 to 64
// ASCII letters, digits, '_', '.', ':' or '-', starting with a letter or
// digit. No space, so '<queue> <channel>' keys decode unambiguously.
//
//   if (!IsQueueName(job.queue)) return absl::InvalidArgumentError(...);

#ifndef JOBQUEUE_STORAGE_QUEUE_NAME_H_
#define JOBQUEUE_STORAGE_QUEUE_NAME_H_

#include "absl/strings/string_view.h"

namespace jobqueue {

bool IsQueueName(absl::string_view name);

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_QUEUE_NAME_H_
