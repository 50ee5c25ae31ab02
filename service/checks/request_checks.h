// The API's limits, and the checks that turn each JobQueue request into the
// store's input or INVALID_ARGUMENT naming the field. A handler calls
// CheckEveryField (every_field.h: the rules every field of every request
// follows), then its RPC's function here. Pure: no I/O, so every rule is
// unit-tested without a database.
//
//   RETURN_IF_ERROR(CheckEveryField(request));
//   absl::StatusOr<NewJob> job = ToNewJob(request, max_payload_bytes);

#ifndef JOBQUEUE_SERVICE_CHECKS_REQUEST_CHECKS_H_
#define JOBQUEUE_SERVICE_CHECKS_REQUEST_CHECKS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.pb.h"
#include "service/checks/every_field.h"
#include "storage/job_store.h"

namespace jobqueue {

inline constexpr size_t kMaxIdentifierBytes = 255;
inline constexpr size_t kMaxChannelBytes = 512;
inline constexpr size_t kMaxNameBytes = 256;
inline constexpr size_t kMaxReasonBytes = 4096;
inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kDefaultMaxAttempts = 5;
inline constexpr int kMaxMaxAttempts = 100;
inline constexpr int kMaxClaimBatch = 100;
inline constexpr int kMaxCompleteBatch = 1000;
inline constexpr int kMaxEnqueueBatch = 1000;
inline constexpr int kMaxClaimQueues = 16;
// As many as ContentType declares besides CONTENT_TYPE_UNSPECIFIED.
inline constexpr int kMaxClaimContentTypes = 7;
inline constexpr int kMaxPriority = 9;
// The most JSON text a CompleteJob result may take (64 KiB).
inline constexpr size_t kMaxResultBytes = 64 * 1024;
inline constexpr char kDefaultQueue[] = "default";
inline constexpr absl::Duration kDefaultLease = absl::Seconds(30);
inline constexpr absl::Duration kMinLease = absl::Seconds(1);
inline constexpr absl::Duration kMaxLease = absl::Hours(1);
// The longest SnoozeJob delay.
inline constexpr absl::Duration kMaxSnooze = absl::Hours(24 * 365);
inline constexpr absl::Duration kMaxClaimWait = absl::Seconds(60);
// How far ahead a job may be scheduled (EnqueueJobRequest.run_at, delay).
inline constexpr absl::Duration kMaxScheduleAhead = absl::Hours(24 * 365);
// A run-time limit's range (EnqueueJobRequest.max_run_time, a queue's).
inline constexpr absl::Duration kMinRunTime = absl::Seconds(1);
inline constexpr absl::Duration kMaxRunTime = absl::Hours(24);
inline constexpr absl::Duration kMinScheduleInterval = absl::Seconds(1);
inline constexpr absl::Duration kMaxScheduleInterval = absl::Hours(24 * 366);
inline constexpr double kMaxJobsPerSecond = 100000;
inline constexpr int kMaxBurst = 100000;
// RetryJobs' and CancelJobs' limit when none is given (at most
// kMaxBulkLimit, storage/job_store.h).
inline constexpr int kDefaultBulkLimit = 100;

absl::Status CheckCreateUser(const v1::CreateUserRequest& request);

// A UUID field in canonical (lowercase) form, so ids and lease tokens
// compare as the database stores them.
absl::StatusOr<std::string> ToUuid(absl::string_view field,
                                   absl::string_view value);

// `entry` prefixes the field names ("jobs[3]." in a batch). run_at is
// checked against the clock: at most kMaxScheduleAhead from now.
absl::StatusOr<NewJob> ToNewJob(const v1::EnqueueJobRequest& request,
                                size_t max_payload_bytes,
                                absl::string_view entry = "");
// 1 to kMaxEnqueueBatch well-formed jobs.
absl::StatusOr<std::vector<NewJob>> ToNewJobs(
    const v1::EnqueueJobsRequest& request, size_t max_payload_bytes);

absl::StatusOr<StatusChange> ToStatusChange(
    const v1::UpdateStatusRequest& request);

absl::StatusOr<JobFilter> ToFilter(const v1::ListJobsRequest& request);
// 0 is the default page size; at most `max`.
absl::StatusOr<int> PageSize(int requested, int max = kMaxPageSize);

absl::StatusOr<NewDeadLetter> ToNewDeadLetter(
    const v1::RecordDeadLetterRequest& request, size_t max_payload_bytes);

absl::StatusOr<ClaimRequest> ToClaimRequest(
    const v1::ClaimJobsRequest& request);
// How long a claim may wait for work: zero when unset.
absl::StatusOr<absl::Duration> ClaimWait(const v1::ClaimJobsRequest& request);

// job_id and lease_token, both UUIDs, canonical, and the result as JSON
// (at most kMaxResultBytes; "" when unset); `entry` prefixes the field
// names ("jobs[3]." in a batch).
absl::StatusOr<JobLease> ToJobLease(const v1::CompleteJobRequest& request,
                                    absl::string_view entry = "");
// 1 to kMaxCompleteBatch well-formed leases of distinct jobs.
absl::StatusOr<std::vector<JobLease>> ToJobLeases(
    const v1::CompleteJobsRequest& request);

struct LeaseExtension {
  JobLease lease;
  absl::Duration duration;
};
absl::StatusOr<LeaseExtension> ToLeaseExtension(
    const v1::ExtendLeaseRequest& request);

// The lease a FailJob names, after checking its error text.
absl::StatusOr<JobLease> ToFailedLease(const v1::FailJobRequest& request);

// The lease a SnoozeJob names and its delay (required, at most kMaxSnooze).
struct Snooze {
  JobLease lease;
  absl::Duration delay;
};
absl::StatusOr<Snooze> ToSnooze(const v1::SnoozeJobRequest& request);
// The job CancelJob names: exactly one of id (a UUID, canonical) and
// idempotency_key (at most kMaxIdentifierBytes).
struct JobRef {
  std::string id;
  std::string idempotency_key;
};
absl::StatusOr<JobRef> ToJobRef(const v1::CancelJobRequest& request);

// The phone number GetUser names: E.164.
absl::StatusOr<std::string> ToUserPhone(const v1::GetUserRequest& request);

// ListUsers' filter: the creation times, each when set (every_field.h has
// checked that they are valid Timestamps). page_size is PageSize's, and
// page_token is decoded by DecodeUserPageToken (mapping/page_token.h).
absl::StatusOr<UserFilter> ToUserFilter(const v1::ListUsersRequest& request);

// CreateSchedule's schedule: a name, exactly one of a cron expression (with
// its zone, "UTC" when empty) and an interval, and the job checked as
// ToNewJob checks it (fields "job.user_phone", ...) with no
// idempotency_key.
absl::StatusOr<ScheduleSpec> ToScheduleSpec(
    const v1::CreateScheduleRequest& request, size_t max_payload_bytes);

// The schedule DeleteSchedule names.
absl::StatusOr<std::string> ToScheduleName(
    const v1::DeleteScheduleRequest& request);
// SetQueueRateLimit's queue and limit: none when jobs_per_second is 0;
// else a finite rate in (0, kMaxJobsPerSecond] and a burst of 1 to
// kMaxBurst, 0 meaning max(1, ceil(jobs_per_second)).
struct QueueRateLimit {
  std::string queue;
  std::optional<RateLimit> limit;
};
absl::StatusOr<QueueRateLimit> ToQueueRateLimit(
    const v1::SetQueueRateLimitRequest& request);

// SetQueueMaxRunTime's queue and default (zero: none; else kMinRunTime to
// kMaxRunTime, whole milliseconds).
struct QueueMaxRunTime {
  std::string queue;
  absl::Duration max_run_time;
};
absl::StatusOr<QueueMaxRunTime> ToQueueMaxRunTime(
    const v1::SetQueueMaxRunTimeRequest& request);

// The queue GetQueue names.
absl::StatusOr<std::string> ToQueueName(const v1::GetQueueRequest& request);

// PauseQueue's queue and reason (at most kMaxPauseReasonBytes; may be
// empty).
struct QueuePause {
  std::string queue;
  std::string reason;
};
absl::StatusOr<QueuePause> ToQueuePause(const v1::PauseQueueRequest& request);

// The queue ResumeQueue names.
absl::StatusOr<std::string> ToQueueName(const v1::ResumeQueueRequest& request);

// ListDeadLetters' largest page, and the most ids one ReplayDeadLetters
// call replays.
inline constexpr int kMaxDeadLetterPageSize = 500;
inline constexpr int kMaxReplayBatch = 100;
// The longest reason_contains of ListDeadLetters.
inline constexpr size_t kMaxReasonFilterBytes = 1024;

// ListDeadLetters' filter: source (at most kMaxIdentifierBytes),
// reason_contains (at most kMaxReasonFilterBytes) and the times, each when
// set. page_size is PageSize's with kMaxDeadLetterPageSize, and page_token
// is decoded by DecodeDeadLetterPageToken (mapping/page_token.h).
absl::StatusOr<DeadLetterFilter> ToDeadLetterFilter(
    const v1::ListDeadLettersRequest& request);

// ReplayDeadLetters' ids (1 to kMaxReplayBatch distinct UUIDs, canonical)
// and requested_by (required, at most kMaxIdentifierBytes).
struct DeadLetterReplayRequest {
  std::vector<std::string> ids;
  std::string requested_by;
};
absl::StatusOr<DeadLetterReplayRequest> ToDeadLetterReplay(
    const v1::ReplayDeadLettersRequest& request);
// GetQueueStats' queue ("" for every queue) and minutes (1 to
// kMaxStatsMinutes; 0 means kDefaultStatsMinutes).
inline constexpr int kDefaultStatsMinutes = 15;
struct QueueStatsQuery {
  std::string queue;
  int minutes = kDefaultStatsMinutes;
};
absl::StatusOr<QueueStatsQuery> ToQueueStatsQuery(
    const v1::GetQueueStatsRequest& request);

// ListConversations' queue ("" for every queue). page_size is PageSize's,
// and page_token is decoded by DecodeConversationPageToken
// (mapping/page_token.h).
absl::StatusOr<std::string> ToConversationsQueue(
    const v1::ListConversationsRequest& request);

// RetryJobs' and CancelJobs' jobs: ListJobs' filters (CancelJobs' status
// one of scheduled, pending, processing), `all` exactly when no filter is
// set, a limit of 1 to kMaxBulkLimit (0 is kDefaultBulkLimit).
absl::StatusOr<BulkJobs> ToBulkRetry(const v1::RetryJobsRequest& request);
absl::StatusOr<BulkJobs> ToBulkCancel(const v1::CancelJobsRequest& request);

// StreamJobs' limits: jobs a worker may hold, items in one message.
inline constexpr int kMaxStreamOutstanding = 1000;
inline constexpr int kMaxStreamItems = 1000;

// StreamJobs' first message: `open` alone, its fields checked as ClaimJobs'
// (max_jobs aside) and max_outstanding 1 to kMaxStreamOutstanding; every
// field named from the request ("open.worker_id").
struct StreamOpen {
  ClaimRequest claim;
  int max_outstanding = 0;
};
absl::StatusOr<StreamOpen> ToStreamOpen(const v1::StreamJobsRequest& request);
// A later message: no `open`, 1 to kMaxStreamItems items (each checked on
// its own by ToStreamItem).
absl::Status CheckStreamMessage(const v1::StreamJobsRequest& request);

// One item of a later message, checked as its unary request (every field,
// then ToJobLease, ToFailedLease or ToLeaseExtension), with its errors'
// field names.
struct StreamItem {
  v1::StreamJobsItemKind kind = v1::STREAM_JOBS_ITEM_KIND_UNSPECIFIED;
  // complete: with its result; fail; extend.
  JobLease lease;
  // fail only.
  std::string error;
  bool retryable = false;
  // extend only.
  absl::Duration lease_duration;
};
absl::StatusOr<StreamItem> ToStreamItem(const v1::StreamJobsItem& item);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_CHECKS_REQUEST_CHECKS_H_
