// Checks on single request fields, the parts request_checks.h is built of. Each
// returns OK or INVALID_ARGUMENT with a message that names the field.
//
//   if (absl::Status s = CheckE164("user_phone", req.user_phone()); !s.ok())
//     return s;

#ifndef JOBQUEUE_SERVICE_CHECKS_FIELD_RULES_H_
#define JOBQUEUE_SERVICE_CHECKS_FIELD_RULES_H_

#include <cstddef>
#include <initializer_list>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace jobqueue {

// "+" then 8 to 15 digits.
bool IsE164(absl::string_view phone);
// Canonical 8-4-4-4-12 hex form, either case.
bool IsUuid(absl::string_view id);

absl::Status CheckE164(absl::string_view field, absl::string_view value);
absl::Status CheckUuid(absl::string_view field, absl::string_view value);
// A queue name (storage/queue_name.h's IsQueueName).
absl::Status CheckQueueName(absl::string_view field, absl::string_view value);
// Not empty and at most `max_bytes` long.
absl::Status CheckRequired(absl::string_view field, absl::string_view value,
                           size_t max_bytes);
// At most `max_bytes` long (may be empty).
absl::Status CheckMaxLength(absl::string_view field, absl::string_view value,
                            size_t max_bytes);
// min <= value <= max.
absl::Status CheckRange(absl::string_view field, int value, int min, int max);
// A JSON text of at most `limit` bytes.
absl::Status CheckPayloadSize(absl::string_view field, absl::string_view json,
                              size_t limit);
// Valid per timestamp.proto: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z, nanos in [0, 999999999].
absl::Status CheckTimestamp(absl::string_view field,
                            const google::protobuf::Timestamp& value);
// Valid per duration.proto: |seconds| <= 315576000000 (10,000 years),
// |nanos| <= 999999999, and nanos of the same sign as seconds.
absl::Status CheckDuration(absl::string_view field,
                           const google::protobuf::Duration& value);
// A google.protobuf.Duration field: `fallback` when unset, else valid (see
// CheckDuration) and within [min, max].
absl::StatusOr<absl::Duration> DurationField(
    absl::string_view field, bool set, const google::protobuf::Duration& d,
    absl::Duration fallback, absl::Duration min, absl::Duration max);

// The first error among `checks`, all of which are cheap to evaluate.
absl::Status FirstError(std::initializer_list<absl::Status> checks);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_CHECKS_FIELD_RULES_H_
