#include "service/mapping/job_mapping.h"

#include <google/protobuf/util/time_util.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "service/mapping/struct_json.h"

namespace jobqueue {
namespace {

template <typename Enum>
struct Name {
  Enum value;
  const char* column;
};

constexpr Name<v1::JobStatus> kStatuses[] = {
    {v1::JOB_STATUS_PENDING, "pending"},
    {v1::JOB_STATUS_PROCESSING, "processing"},
    {v1::JOB_STATUS_COMPLETE, "complete"},
    {v1::JOB_STATUS_FAILED, "failed"},
    {v1::JOB_STATUS_CANCELLED, "cancelled"},
    {v1::JOB_STATUS_SCHEDULED, "scheduled"},
};

constexpr Name<v1::SourceType> kSourceTypes[] = {
    {v1::SOURCE_TYPE_DM, "dm"},
    {v1::SOURCE_TYPE_GROUP, "group"},
};

constexpr Name<v1::ContentType> kContentTypes[] = {
    {v1::CONTENT_TYPE_UNSPECIFIED, "text"},
    {v1::CONTENT_TYPE_TEXT, "text"},
    {v1::CONTENT_TYPE_IMAGE, "image"},
    {v1::CONTENT_TYPE_AUDIO, "audio"},
    {v1::CONTENT_TYPE_VIDEO, "video"},
    {v1::CONTENT_TYPE_DOCUMENT, "document"},
    {v1::CONTENT_TYPE_LOCATION, "location"},
    {v1::CONTENT_TYPE_OTHER, "other"},
};

template <typename Enum, size_t N>
absl::StatusOr<std::string> ToColumn(const Name<Enum> (&names)[N],
                                     absl::string_view field, Enum value) {
  for (const auto& n : names) {
    if (n.value == value) return std::string(n.column);
  }
  return absl::InvalidArgumentError(
      value == 0 ? absl::StrCat(field, " is required")
                 : absl::StrCat(field, " has an unknown value ",
                                static_cast<int>(value)));
}

template <typename Enum, size_t N>
Enum FromColumn(const Name<Enum> (&names)[N], absl::string_view column) {
  for (const auto& n : names) {
    if (column == n.column && n.value != 0) return n.value;
  }
  return static_cast<Enum>(0);
}

}  // namespace

absl::StatusOr<JobStatus> ToJobStatus(absl::string_view field,
                                      v1::JobStatus status) {
  absl::StatusOr<std::string> column = ToColumn(kStatuses, field, status);
  if (!column.ok()) return column.status();
  return *ParseJobStatus(*column);  // every name in kStatuses parses
}

v1::JobStatus ProtoStatus(JobStatus status) {
  return FromColumn(kStatuses, JobStatusName(status));
}

absl::StatusOr<std::string> SourceTypeColumn(absl::string_view field,
                                             v1::SourceType type) {
  return ToColumn(kSourceTypes, field, type);
}

absl::StatusOr<std::string> ContentTypeColumn(absl::string_view field,
                                              v1::ContentType type) {
  return ToColumn(kContentTypes, field, type);
}

v1::SourceType SourceTypeFromColumn(absl::string_view column) {
  return FromColumn(kSourceTypes, column);
}

v1::ContentType ContentTypeFromColumn(absl::string_view column) {
  return FromColumn(kContentTypes, column);
}

void ToTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  *out = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(t));
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  // Not through int64 nanoseconds, which end in 2262: a valid Timestamp
  // reaches 9999.
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

namespace {

// A duration of whole milliseconds as a Duration message.
void ToDurationMs(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t ms = absl::ToInt64Milliseconds(d);
  out->set_seconds(ms / 1000);
  out->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}

}  // namespace

void ToProto(const Job& job, v1::Job* out) {
  out->set_id(job.id);
  out->set_user_id(job.user_id);
  out->set_source_channel_id(job.source_channel_id);
  out->set_source_type(SourceTypeFromColumn(job.source_type));
  out->set_user_phone(job.user_phone);
  if (absl::Status s = JsonToStruct(job.payload_json, out->mutable_payload());
      !s.ok()) {
    out->set_payload_error(std::string(s.message()));
  }
  out->set_status(ProtoStatus(job.status));
  out->set_content_type(ContentTypeFromColumn(job.content_type));
  out->set_idempotency_key(job.idempotency_key);
  ToTimestamp(job.created_at, out->mutable_created_at());
  ToTimestamp(job.updated_at, out->mutable_updated_at());
  out->set_attempts(job.attempts);
  out->set_max_attempts(job.max_attempts);
  ToTimestamp(job.run_after, out->mutable_run_after());
  if (!job.lease_token.empty()) {
    ToTimestamp(job.lease_expires_at, out->mutable_lease_expires_at());
  }
  out->set_worker_id(job.worker_id);
  out->set_last_error(job.last_error);
  out->set_queue(job.queue);
  out->set_unordered(!job.ordered);
  out->set_priority(job.priority);
  if (job.cancel_requested_at != absl::InfinitePast()) {
    ToTimestamp(job.cancel_requested_at, out->mutable_cancel_requested_at());
  }
  // A result plain SQL stored beyond what a Struct holds is left unset.
  if (!job.result_json.empty() &&
      !JsonToStruct(job.result_json, out->mutable_result()).ok()) {
    out->clear_result();
  }
  for (const AttemptError& e : job.attempt_errors) {
    v1::AttemptError* a = out->add_attempt_errors();
    a->set_attempt(e.attempt);
    a->set_error(e.error);
    a->set_worker_id(e.worker_id);
    ToTimestamp(e.failed_at, a->mutable_failed_at());
  }
  if (job.max_run_time > absl::ZeroDuration()) {
    ToDurationMs(job.max_run_time, out->mutable_max_run_time());
  }
  if (job.status == JobStatus::kProcessing &&
      job.run_deadline != absl::InfiniteFuture()) {
    ToTimestamp(job.run_deadline, out->mutable_run_deadline());
  }
}

void ToProto(const User& user, v1::User* out) {
  out->set_phone_number(user.phone_number);
  out->set_first_name(user.first_name);
  ToTimestamp(user.created_at, out->mutable_created_at());
}

void ToProto(const QueueSettings& queue, v1::Queue* out) {
  out->set_name(queue.name);
  if (queue.rate_limit.has_value()) {
    out->mutable_rate_limit()->set_jobs_per_second(
        queue.rate_limit->jobs_per_second);
    out->mutable_rate_limit()->set_burst(queue.rate_limit->burst);
  }
  if (queue.max_run_time > absl::ZeroDuration()) {
    ToDurationMs(queue.max_run_time, out->mutable_max_run_time());
  }
  if (queue.paused_at != absl::InfinitePast()) {
    ToTimestamp(queue.paused_at, out->mutable_paused_at());
    out->set_pause_reason(queue.pause_reason);
  }
}

void ToProto(const DeadLetter& letter, v1::DeadLetter* out) {
  out->set_id(letter.id);
  out->set_source(letter.source);
  out->set_delivery_id(letter.delivery_id);
  out->set_reason(letter.reason);
  out->set_attempts(letter.attempts);
  ToTimestamp(letter.first_seen_at, out->mutable_first_seen_at());
  ToTimestamp(letter.last_seen_at, out->mutable_last_seen_at());
  out->set_job_id(letter.job_id);
  if (letter.replay.has_value()) {
    ToProto(*letter.replay, out->mutable_replay());
  }
  if (absl::Status s =
          JsonToStruct(letter.raw_payload_json, out->mutable_raw_payload());
      !s.ok()) {
    out->clear_raw_payload();
    out->set_payload_error(std::string(s.message()));
  }
}

void ToProto(const DeadLetterReplay& replay, v1::DeadLetterReplay* out) {
  out->set_requested_by(replay.requested_by);
  ToTimestamp(replay.replayed_at, out->mutable_replayed_at());
  out->set_job_id(replay.job_id);
  out->set_error(replay.error);
  out->set_dead_letter_attempts(replay.dead_letter_attempts);
  out->set_tries(replay.tries);
}

void ToProto(const Schedule& schedule, v1::Schedule* out) {
  const ScheduleSpec& spec = schedule.spec;
  out->set_name(spec.name);
  out->set_cron(spec.cron);
  out->set_time_zone(spec.time_zone);
  if (spec.cron.empty()) {
    const int64_t ms = absl::ToInt64Milliseconds(spec.interval);
    out->mutable_interval()->set_seconds(ms / 1000);
    out->mutable_interval()->set_nanos(static_cast<int32_t>(ms % 1000) *
                                       1000000);
  }
  v1::EnqueueJobRequest* job = out->mutable_job();
  job->set_user_phone(spec.job.user_phone);
  job->set_user_first_name(spec.job.user_first_name);
  job->set_source_channel_id(spec.job.source_channel_id);
  job->set_source_type(SourceTypeFromColumn(spec.job.source_type));
  if (!JsonToStruct(spec.job.payload_json, job->mutable_payload()).ok()) {
    job->clear_payload();
  }
  job->set_content_type(ContentTypeFromColumn(spec.job.content_type));
  job->set_max_attempts(spec.job.max_attempts);
  job->set_queue(spec.job.queue);
  job->set_unordered(!spec.job.ordered);
  job->set_priority(spec.job.priority);
  ToTimestamp(schedule.next_run_at, out->mutable_next_run_at());
  if (schedule.last_run_at != absl::InfinitePast()) {
    ToTimestamp(schedule.last_run_at, out->mutable_last_run_at());
  }
  ToTimestamp(schedule.created_at, out->mutable_created_at());
}

void ToProto(const QueueStatistics& stats, v1::QueueStats* out) {
  out->set_queue(stats.settings.name);
  out->set_pending(stats.pending);
  out->set_processing(stats.processing);
  out->set_scheduled(stats.scheduled);
  out->set_failed(stats.failed);
  out->set_cancelled(stats.cancelled);
  out->set_complete(stats.complete);
  ToDurationMs(stats.oldest_pending_age, out->mutable_oldest_pending_age());
  for (const MinuteCounts& m : stats.minutes) {
    v1::QueueMinute* minute = out->add_minutes();
    ToTimestamp(m.start, minute->mutable_start_time());
    minute->set_claimed(m.claimed);
    minute->set_completed(m.completed);
    minute->set_failed(m.failed);
  }
  if (stats.settings.paused_at != absl::InfinitePast()) {
    out->set_paused(true);
    ToTimestamp(stats.settings.paused_at, out->mutable_paused_at());
    out->set_pause_reason(stats.settings.pause_reason);
  }
  if (stats.settings.rate_limit.has_value()) {
    out->mutable_rate_limit()->set_jobs_per_second(
        stats.settings.rate_limit->jobs_per_second);
    out->mutable_rate_limit()->set_burst(stats.settings.rate_limit->burst);
    out->set_rate_limit_tokens(stats.tokens);
  }
}

namespace {

v1::HeadWait ProtoHeadWait(HeadWait wait) {
  switch (wait) {
    case HeadWait::kProcessing:
      return v1::HEAD_WAIT_PROCESSING;
    case HeadWait::kQueuePaused:
      return v1::HEAD_WAIT_QUEUE_PAUSED;
    case HeadWait::kBackoff:
      return v1::HEAD_WAIT_BACKOFF;
    case HeadWait::kNotDue:
      return v1::HEAD_WAIT_NOT_DUE;
    case HeadWait::kRateLimited:
      return v1::HEAD_WAIT_RATE_LIMITED;
    case HeadWait::kReady:
      return v1::HEAD_WAIT_READY;
    case HeadWait::kNoHead:
      break;
  }
  return v1::HEAD_WAIT_NO_HEAD;
}

}  // namespace

void ToProto(const WaitingConversation& conversation, v1::Conversation* out) {
  out->set_queue(conversation.queue);
  out->set_source_channel_id(conversation.source_channel_id);
  ToTimestamp(conversation.waiting_since, out->mutable_waiting_since());
  if (conversation.head.has_value()) {
    ToProto(*conversation.head, out->mutable_head());
  }
  out->set_head_wait(ProtoHeadWait(conversation.wait));
  out->set_jobs_behind(conversation.jobs_behind);
}

}  // namespace jobqueue
