// Checks on request fields, shared by the RPC handlers. Each returns OK or
// INVALID_ARGUMENT with a message that names the field.
//
//   if (absl::Status s = CheckE164("user_phone", req.user_phone()); !s.ok())
//     return s;

#ifndef JOBQUEUE_SERVICE_VALIDATION_H_
#define JOBQUEUE_SERVICE_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace jobqueue {

// "+" then 8 to 15 digits.
bool IsE164(absl::string_view phone);
// Canonical 8-4-4-4-12 hex form, either case.
bool IsUuid(absl::string_view id);

absl::Status CheckE164(absl::string_view field, absl::string_view value);
absl::Status CheckUuid(absl::string_view field, absl::string_view value);
// Not empty and at most `max_bytes` long.
absl::Status CheckRequired(absl::string_view field, absl::string_view value,
                           size_t max_bytes);
// At most `max_bytes` long (may be empty).
absl::Status CheckMaxLength(absl::string_view field, absl::string_view value,
                            size_t max_bytes);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_VALIDATION_H_
