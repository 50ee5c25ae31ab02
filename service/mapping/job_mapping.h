// Conversions between the API's messages and the storage layer's rows:
// enum values <-> JobStatus and column values, absl::Time <->
// google.protobuf.Timestamp (JSON text <-> google.protobuf.Struct is in
// struct_json.h).
//
//   absl::StatusOr<JobStatus> s = ToJobStatus("status", request.status());
//   ToProto(job, response.mutable_job());

#ifndef JOBQUEUE_SERVICE_MAPPING_JOB_MAPPING_H_
#define JOBQUEUE_SERVICE_MAPPING_JOB_MAPPING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "jobqueue/v1/jobqueue.pb.h"
#include "storage/job_store.h"

namespace jobqueue {

// The JobStatus of a known, specified enum value; INVALID_ARGUMENT naming
// `field` otherwise.
absl::StatusOr<JobStatus> ToJobStatus(absl::string_view field,
                                      v1::JobStatus status);
// Column value of a known, specified enum value; INVALID_ARGUMENT naming
// `field` otherwise.
absl::StatusOr<std::string> SourceTypeColumn(absl::string_view field,
                                             v1::SourceType type);
// CONTENT_TYPE_UNSPECIFIED is "text".
absl::StatusOr<std::string> ContentTypeColumn(absl::string_view field,
                                              v1::ContentType type);

v1::JobStatus ProtoStatus(JobStatus status);
// Column values back to enums; unknown values become _UNSPECIFIED.
v1::SourceType SourceTypeFromColumn(absl::string_view column);
v1::ContentType ContentTypeFromColumn(absl::string_view column);

void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out);
absl::Time FromTimestamp(const google::protobuf::Timestamp& t);

// Everything but the lease token, which only the claimant gets. A stored
// payload that a Struct cannot hold is left empty, with payload_error
// saying why.
void ToProto(const Job& job, v1::Job* out);
void ToProto(const User& user, v1::User* out);
void ToProto(const QueueSettings& queue, v1::Queue* out);
// A stored raw_payload that a Struct cannot hold is left empty, with
// payload_error saying why.
void ToProto(const DeadLetter& letter, v1::DeadLetter* out);
void ToProto(const DeadLetterReplay& replay, v1::DeadLetterReplay* out);
// A template payload a Struct cannot hold (stored by plain SQL) is left
// empty.
void ToProto(const Schedule& schedule, v1::Schedule* out);

// GetQueueStats' queue and ListConversations' conversation (its head as
// ToProto(Job) maps a job).
void ToProto(const QueueStatistics& stats, v1::QueueStats* out);
void ToProto(const WaitingConversation& conversation, v1::Conversation* out);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_MAPPING_JOB_MAPPING_H_
