#include "service/checks/request_checks.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "schedule/recurrence.h"
#include "service/checks/field_rules.h"
#include "service/mapping/job_mapping.h"
#include "service/mapping/struct_json.h"
#include "storage/bulk_jobs.h"

namespace jobqueue {

absl::Status CheckCreateUser(const v1::CreateUserRequest& request) {
  return FirstError({
      CheckE164("phone_number", request.phone_number()),
      CheckMaxLength("first_name", request.first_name(), kMaxNameBytes),
  });
}

absl::StatusOr<std::string> ToUuid(absl::string_view field,
                                   absl::string_view value) {
  if (absl::Status s = CheckUuid(field, value); !s.ok()) return s;
  return absl::AsciiStrToLower(value);
}

namespace {

// run_at and delay name the same thing: at most one of them.
absl::Status CheckOneTime(absl::string_view run_at, bool has_run_at,
                          absl::string_view delay, bool has_delay) {
  if (!has_run_at || !has_delay) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("set at most one of ", run_at, " and ", delay));
}

}  // namespace

namespace {

// A run-time limit: unset or zero is none; else kMinRunTime to
// kMaxRunTime in whole milliseconds (as the database keeps it).
absl::StatusOr<absl::Duration> RunTimeField(
    absl::string_view field, bool set, const google::protobuf::Duration& d) {
  absl::StatusOr<absl::Duration> value = DurationField(
      field, set, d, absl::ZeroDuration(), absl::ZeroDuration(), kMaxRunTime);
  if (!value.ok() || *value == absl::ZeroDuration()) return value;
  if (*value < kMinRunTime) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " must be between ", absl::FormatDuration(kMinRunTime), " and ",
        absl::FormatDuration(kMaxRunTime), " (or unset for none), got ",
        absl::FormatDuration(*value)));
  }
  if (*value != absl::Milliseconds(absl::ToInt64Milliseconds(*value))) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be a whole number of milliseconds"));
  }
  return value;
}

}  // namespace

absl::StatusOr<NewJob> ToNewJob(const v1::EnqueueJobRequest& request,
                                size_t max_payload_bytes,
                                absl::string_view entry) {
  auto name = [&](absl::string_view field) {
    return absl::StrCat(entry, field);
  };
  absl::StatusOr<std::string> source_type =
      SourceTypeColumn(name("source_type"), request.source_type());
  absl::StatusOr<std::string> content_type =
      ContentTypeColumn(name("content_type"), request.content_type());
  absl::StatusOr<std::string> payload =
      StructToJson(name("payload"), request.payload());
  if (!payload.ok()) return payload.status();
  absl::StatusOr<absl::Duration> delay = DurationField(
      name("delay"), request.has_delay(), request.delay(), absl::ZeroDuration(),
      absl::ZeroDuration(), kMaxScheduleAhead);
  absl::StatusOr<absl::Duration> max_run_time = RunTimeField(
      name("max_run_time"), request.has_max_run_time(), request.max_run_time());
  NewJob job{.user_phone = request.user_phone(),
             .user_first_name = request.user_first_name(),
             .source_channel_id = request.source_channel_id(),
             .payload_json = *std::move(payload),
             .idempotency_key = request.idempotency_key(),
             .queue = request.queue().empty() ? std::string(kDefaultQueue)
                                              : request.queue(),
             .ordered = !request.unordered(),
             .priority = request.priority()};
  if (absl::Status s = FirstError({
          CheckE164(name("user_phone"), job.user_phone),
          CheckMaxLength(name("user_first_name"), job.user_first_name,
                         kMaxNameBytes),
          CheckRequired(name("source_channel_id"), job.source_channel_id,
                        kMaxChannelBytes),
          source_type.status(),
          content_type.status(),
          CheckPayloadSize(name("payload"), job.payload_json,
                           max_payload_bytes),
          CheckMaxLength(name("idempotency_key"), job.idempotency_key,
                         kMaxIdentifierBytes),
          CheckRange(name("max_attempts"), request.max_attempts(), 0,
                     kMaxMaxAttempts),
          CheckQueueName(name("queue"), job.queue),
          CheckRange(name("priority"), request.priority(), 0, kMaxPriority),
          CheckOneTime(name("run_at"), request.has_run_at(), name("delay"),
                       request.has_delay()),
          delay.status(),
          max_run_time.status(),
      });
      !s.ok()) {
    return s;
  }
  if (request.has_run_at()) {
    if (absl::Status s = CheckTimestamp(name("run_at"), request.run_at());
        !s.ok()) {
      return s;
    }
    job.run_at = FromTimestamp(request.run_at());
    if (job.run_at > absl::Now() + kMaxScheduleAhead) {
      return absl::InvalidArgumentError(absl::StrCat(
          name("run_at"), " must be at most ",
          absl::FormatDuration(kMaxScheduleAhead), " (365 days) from now, got ",
          absl::FormatTime(job.run_at, absl::UTCTimeZone())));
    }
  }
  job.delay = *delay;
  job.max_run_time = *max_run_time;
  job.source_type = *std::move(source_type);
  job.content_type = *std::move(content_type);
  job.max_attempts = request.max_attempts() == 0 ? kDefaultMaxAttempts
                                                 : request.max_attempts();
  return job;
}

absl::StatusOr<std::vector<NewJob>> ToNewJobs(
    const v1::EnqueueJobsRequest& request, size_t max_payload_bytes) {
  if (absl::Status s = CheckRange("number of jobs", request.jobs_size(), 1,
                                  kMaxEnqueueBatch);
      !s.ok()) {
    return s;
  }
  std::vector<NewJob> jobs;
  jobs.reserve(request.jobs_size());
  for (int i = 0; i < request.jobs_size(); ++i) {
    absl::StatusOr<NewJob> job = ToNewJob(request.jobs(i), max_payload_bytes,
                                          absl::StrCat("jobs[", i, "]."));
    if (!job.ok()) return job.status();
    jobs.push_back(*std::move(job));
  }
  return jobs;
}

absl::StatusOr<StatusChange> ToStatusChange(
    const v1::UpdateStatusRequest& request) {
  absl::StatusOr<std::string> id = ToUuid("id", request.id());
  if (!id.ok()) return id.status();
  absl::StatusOr<JobStatus> to = ToJobStatus("status", request.status());
  if (!to.ok()) return to.status();
  StatusChange change{
      .job_id = *std::move(id), .to = *to, .lease = kDefaultLease};
  if (request.expected_status() != v1::JOB_STATUS_UNSPECIFIED) {
    absl::StatusOr<JobStatus> expected =
        ToJobStatus("expected_status", request.expected_status());
    if (!expected.ok()) return expected.status();
    change.expected = *expected;
  }
  if (!request.lease_token().empty()) {
    absl::StatusOr<std::string> token =
        ToUuid("lease_token", request.lease_token());
    if (!token.ok()) return token.status();
    change.lease_token = *std::move(token);
  }
  return change;
}

namespace {

// The filters ListJobs and the bulk actions share: user_id, source_type,
// source_channel_id and the creation times (every one a request of these
// has, with the same field names).
template <typename Request>
absl::StatusOr<JobFilter> SharedFilter(const Request& request) {
  JobFilter filter;
  if (!request.user_id().empty()) {
    if (absl::Status s = CheckE164("user_id", request.user_id()); !s.ok()) {
      return s;
    }
    filter.user_id = request.user_id();
  }
  if (request.source_type() != v1::SOURCE_TYPE_UNSPECIFIED) {
    absl::StatusOr<std::string> s =
        SourceTypeColumn("source_type", request.source_type());
    if (!s.ok()) return s.status();
    filter.source_type = *s;
  }
  if (absl::Status s = CheckMaxLength(
          "source_channel_id", request.source_channel_id(), kMaxChannelBytes);
      !s.ok()) {
    return s;
  }
  filter.source_channel_id = request.source_channel_id();
  if (request.has_created_after()) {
    filter.created_after = FromTimestamp(request.created_after());
  }
  if (request.has_created_before()) {
    filter.created_before = FromTimestamp(request.created_before());
  }
  return filter;
}

// Sets `filter`'s status from field "status" when it is set.
absl::Status SetStatus(v1::JobStatus status, JobFilter& filter) {
  if (status == v1::JOB_STATUS_UNSPECIFIED) return absl::OkStatus();
  absl::StatusOr<JobStatus> s = ToJobStatus("status", status);
  if (!s.ok()) return s.status();
  filter.status = *s;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JobFilter> ToFilter(const v1::ListJobsRequest& request) {
  absl::StatusOr<JobFilter> filter = SharedFilter(request);
  if (!filter.ok()) return filter;
  if (absl::Status s = SetStatus(request.status(), *filter); !s.ok()) {
    return s;
  }
  return filter;
}

absl::StatusOr<int> PageSize(int requested, int max) {
  if (requested == 0) return kDefaultPageSize;
  if (requested < 0 || requested > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be between 1 and ", max, " (0 means ",
                     kDefaultPageSize, "), got ", requested));
  }
  return requested;
}

absl::StatusOr<NewDeadLetter> ToNewDeadLetter(
    const v1::RecordDeadLetterRequest& request, size_t max_payload_bytes) {
  if (absl::Status s = FirstError({
          CheckRequired("source", request.source(), kMaxIdentifierBytes),
          CheckMaxLength("delivery_id", request.delivery_id(),
                         kMaxIdentifierBytes),
          CheckRequired("reason", request.reason(), kMaxReasonBytes),
      });
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> raw_payload =
      StructToJson("raw_payload", request.raw_payload());
  if (!raw_payload.ok()) return raw_payload.status();
  if (absl::Status s =
          CheckPayloadSize("raw_payload", *raw_payload, max_payload_bytes);
      !s.ok()) {
    return s;
  }
  return NewDeadLetter{.source = request.source(),
                       .delivery_id = request.delivery_id(),
                       .reason = request.reason(),
                       .raw_payload_json = *std::move(raw_payload)};
}

namespace {

// content_types into `claim`: distinct, specified values, as stored.
absl::Status ToContentTypes(const v1::ClaimJobsRequest& request,
                            ClaimRequest& claim) {
  if (absl::Status s =
          CheckRange("number of content_types", request.content_types_size(), 0,
                     kMaxClaimContentTypes);
      !s.ok()) {
    return s;
  }
  for (int i = 0; i < request.content_types_size(); ++i) {
    const std::string field = absl::StrCat("content_types[", i, "]");
    const v1::ContentType type = request.content_types(i);
    if (type == v1::CONTENT_TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " must not be CONTENT_TYPE_UNSPECIFIED"));
    }
    absl::StatusOr<std::string> column = ContentTypeColumn(field, type);
    if (!column.ok()) return column.status();
    if (std::find(claim.content_types.begin(), claim.content_types.end(),
                  *column) != claim.content_types.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " repeats ", v1::ContentType_Name(type)));
    }
    claim.content_types.push_back(*std::move(column));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ClaimRequest> ToClaimRequest(
    const v1::ClaimJobsRequest& request) {
  ClaimRequest claim{
      .worker_id = request.worker_id(),
      .max_jobs = request.max_jobs() == 0 ? 1 : request.max_jobs(),
      .ignore_conversation_order = request.ignore_conversation_order()};
  absl::StatusOr<absl::Duration> lease = DurationField(
      "lease_duration", request.has_lease_duration(), request.lease_duration(),
      kDefaultLease, kMinLease, kMaxLease);
  if (absl::Status s = FirstError({
          CheckRequired("worker_id", claim.worker_id, kMaxIdentifierBytes),
          CheckRange("max_jobs", request.max_jobs(), 0, kMaxClaimBatch),
          lease.status(),
      });
      !s.ok()) {
    return s;
  }
  claim.lease = *lease;
  if (absl::Status s = CheckRange("number of queues", request.queues_size(), 0,
                                  kMaxClaimQueues);
      !s.ok()) {
    return s;
  }
  if (request.queues_size() > 0) claim.queues.clear();
  for (int i = 0; i < request.queues_size(); ++i) {
    const std::string field = absl::StrCat("queues[", i, "]");
    if (absl::Status s = CheckQueueName(field, request.queues(i)); !s.ok()) {
      return s;
    }
    if (std::find(claim.queues.begin(), claim.queues.end(),
                  request.queues(i)) != claim.queues.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " repeats ", request.queues(i)));
    }
    claim.queues.push_back(request.queues(i));
  }
  if (request.source_type() != v1::SOURCE_TYPE_UNSPECIFIED) {
    absl::StatusOr<std::string> type =
        SourceTypeColumn("source_type", request.source_type());
    if (!type.ok()) return type.status();
    claim.source_type = *type;
  }
  if (absl::Status s = ToContentTypes(request, claim); !s.ok()) return s;
  return claim;
}

absl::StatusOr<absl::Duration> ClaimWait(const v1::ClaimJobsRequest& request) {
  return DurationField("wait_timeout", request.has_wait_timeout(),
                       request.wait_timeout(), absl::ZeroDuration(),
                       absl::ZeroDuration(), kMaxClaimWait);
}

namespace {

// A job_id and lease_token pair, both UUIDs, canonical; `entry` prefixes the
// field names.
absl::StatusOr<JobLease> Lease(absl::string_view entry,
                               absl::string_view job_id,
                               absl::string_view lease_token) {
  absl::StatusOr<std::string> id =
      ToUuid(absl::StrCat(entry, "job_id"), job_id);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> token =
      ToUuid(absl::StrCat(entry, "lease_token"), lease_token);
  if (!token.ok()) return token.status();
  return JobLease{*std::move(id), *std::move(token)};
}

}  // namespace

absl::StatusOr<JobLease> ToJobLease(const v1::CompleteJobRequest& request,
                                    absl::string_view entry) {
  absl::StatusOr<JobLease> lease =
      Lease(entry, request.job_id(), request.lease_token());
  if (!lease.ok() || !request.has_result()) return lease;
  const std::string field = absl::StrCat(entry, "result");
  absl::StatusOr<std::string> result = StructToJson(field, request.result());
  if (!result.ok()) return result.status();
  if (absl::Status s = CheckPayloadSize(field, *result, kMaxResultBytes);
      !s.ok()) {
    return s;
  }
  lease->result_json = *std::move(result);
  return lease;
}

absl::StatusOr<std::vector<JobLease>> ToJobLeases(
    const v1::CompleteJobsRequest& request) {
  if (absl::Status s = CheckRange("number of jobs", request.jobs_size(), 1,
                                  kMaxCompleteBatch);
      !s.ok()) {
    return s;
  }
  std::vector<JobLease> leases;
  absl::flat_hash_map<std::string, int> first_index;
  for (int i = 0; i < request.jobs_size(); ++i) {
    const std::string entry = absl::StrCat("jobs[", i, "]");
    absl::StatusOr<JobLease> lease =
        ToJobLease(request.jobs(i), absl::StrCat(entry, "."));
    if (!lease.ok()) return lease.status();
    if (auto [it, added] = first_index.emplace(lease->job_id, i); !added) {
      return absl::InvalidArgumentError(
          absl::StrCat(entry, ".job_id repeats jobs[", it->second, "]"));
    }
    leases.push_back(*std::move(lease));
  }
  return leases;
}

absl::StatusOr<LeaseExtension> ToLeaseExtension(
    const v1::ExtendLeaseRequest& request) {
  absl::StatusOr<JobLease> lease =
      Lease("", request.job_id(), request.lease_token());
  if (!lease.ok()) return lease.status();
  absl::StatusOr<absl::Duration> duration = DurationField(
      "lease_duration", request.has_lease_duration(), request.lease_duration(),
      kDefaultLease, kMinLease, kMaxLease);
  if (!duration.ok()) return duration.status();
  return LeaseExtension{*std::move(lease), *duration};
}

absl::StatusOr<JobLease> ToFailedLease(const v1::FailJobRequest& request) {
  absl::StatusOr<JobLease> lease =
      Lease("", request.job_id(), request.lease_token());
  if (!lease.ok()) return lease.status();
  if (absl::Status s = CheckRequired("error", request.error(), kMaxReasonBytes);
      !s.ok()) {
    return s;
  }
  return lease;
}

absl::StatusOr<Snooze> ToSnooze(const v1::SnoozeJobRequest& request) {
  absl::StatusOr<JobLease> lease =
      Lease("", request.job_id(), request.lease_token());
  if (!lease.ok()) return lease.status();
  if (!request.has_delay()) {
    return absl::InvalidArgumentError(
        "delay is required: how long until the job may be claimed again");
  }
  absl::StatusOr<absl::Duration> delay =
      DurationField("delay", true, request.delay(), absl::ZeroDuration(),
                    absl::ZeroDuration(), kMaxSnooze);
  if (!delay.ok()) return delay.status();
  return Snooze{*std::move(lease), *delay};
}

absl::StatusOr<JobRef> ToJobRef(const v1::CancelJobRequest& request) {
  if (request.id().empty() == request.idempotency_key().empty()) {
    return absl::InvalidArgumentError(
        "exactly one of id and idempotency_key must be set");
  }
  if (!request.id().empty()) {
    absl::StatusOr<std::string> id = ToUuid("id", request.id());
    if (!id.ok()) return id.status();
    return JobRef{.id = *std::move(id)};
  }
  if (absl::Status s = CheckMaxLength(
          "idempotency_key", request.idempotency_key(), kMaxIdentifierBytes);
      !s.ok()) {
    return s;
  }
  return JobRef{.idempotency_key = request.idempotency_key()};
}

absl::StatusOr<std::string> ToUserPhone(const v1::GetUserRequest& request) {
  if (absl::Status s = CheckE164("phone_number", request.phone_number());
      !s.ok()) {
    return s;
  }
  return request.phone_number();
}

absl::StatusOr<UserFilter> ToUserFilter(const v1::ListUsersRequest& request) {
  UserFilter filter;
  if (request.has_created_after()) {
    filter.created_after = FromTimestamp(request.created_after());
  }
  if (request.has_created_before()) {
    filter.created_before = FromTimestamp(request.created_before());
  }
  return filter;
}

namespace {

absl::Status CheckScheduleName(absl::string_view value) {
  if (IsScheduleName(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "name must be 1 to 128 letters, digits, '_', '.', ':' or '-', got \"",
      absl::CHexEscape(value.substr(0, 140)), "\""));
}

}  // namespace

absl::StatusOr<ScheduleSpec> ToScheduleSpec(
    const v1::CreateScheduleRequest& request, size_t max_payload_bytes) {
  if (absl::Status s = CheckScheduleName(request.name()); !s.ok()) return s;
  ScheduleSpec spec{.name = request.name()};
  const bool cron = !request.cron().empty();
  if (cron == request.has_interval()) {
    return absl::InvalidArgumentError(
        cron ? "cron and interval exclude each other: give one"
             : "a schedule needs cron or interval");
  }
  if (cron) {
    spec.cron = request.cron();
    spec.time_zone = request.time_zone().empty() ? "UTC" : request.time_zone();
    absl::StatusOr<Recurrence> r = Recurrence::Cron(spec.cron, spec.time_zone);
    if (!r.ok()) return r.status();
  } else {
    if (!request.time_zone().empty()) {
      return absl::InvalidArgumentError(
          "time_zone is only for a cron schedule; an interval has none");
    }
    absl::StatusOr<absl::Duration> interval = DurationField(
        "interval", true, request.interval(), absl::ZeroDuration(),
        kMinScheduleInterval, kMaxScheduleInterval);
    if (!interval.ok()) return interval.status();
    spec.interval = *interval;
    if (spec.interval !=
        absl::Milliseconds(absl::ToInt64Milliseconds(spec.interval))) {
      return absl::InvalidArgumentError(
          "interval must be a whole number of milliseconds");
    }
  }
  if (!request.has_job()) {
    return absl::InvalidArgumentError(
        "job is required: the job each tick enqueues");
  }
  if (!request.job().idempotency_key().empty()) {
    return absl::InvalidArgumentError(
        "job.idempotency_key must be empty: each tick's job gets "
        "schedule:<name>:<tick>");
  }
  if (request.job().has_max_run_time()) {
    return absl::InvalidArgumentError(
        "job.max_run_time must be unset: a schedule's jobs take their "
        "queue's run-time limit (SetQueueMaxRunTime)");
  }
  if (request.job().has_run_at() || request.job().has_delay()) {
    return absl::InvalidArgumentError(
        absl::StrCat(request.job().has_run_at() ? "job.run_at" : "job.delay",
                     " must be unset: each tick's job is due at its tick"));
  }
  absl::StatusOr<NewJob> job =
      ToNewJob(request.job(), max_payload_bytes, "job.");
  if (!job.ok()) return job.status();
  spec.job = *std::move(job);
  return spec;
}

absl::StatusOr<std::string> ToScheduleName(
    const v1::DeleteScheduleRequest& request) {
  if (absl::Status s = CheckScheduleName(request.name()); !s.ok()) return s;
  return request.name();
}

absl::StatusOr<QueueRateLimit> ToQueueRateLimit(
    const v1::SetQueueRateLimitRequest& request) {
  if (absl::Status s = CheckQueueName("queue", request.queue()); !s.ok()) {
    return s;
  }
  QueueRateLimit out{.queue = request.queue()};
  const double rate = request.jobs_per_second();
  if (rate == 0) {
    if (request.burst() != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "burst must be 0 when jobs_per_second is 0 (no limit), got ",
          request.burst()));
    }
    return out;
  }
  // NaN fails every comparison.
  if (!(rate > 0 && rate <= kMaxJobsPerSecond)) {
    return absl::InvalidArgumentError(
        absl::StrCat("jobs_per_second must be over 0 and at most ",
                     kMaxJobsPerSecond, " (0 removes the limit), got ", rate));
  }
  if (absl::Status s = CheckRange("burst", request.burst(), 0, kMaxBurst);
      !s.ok()) {
    return s;
  }
  const int burst = request.burst() != 0
                        ? request.burst()
                        : std::max(1, static_cast<int>(std::ceil(rate)));
  out.limit = RateLimit{.jobs_per_second = rate, .burst = burst};
  return out;
}

absl::StatusOr<QueueMaxRunTime> ToQueueMaxRunTime(
    const v1::SetQueueMaxRunTimeRequest& request) {
  if (absl::Status s = CheckQueueName("queue", request.queue()); !s.ok()) {
    return s;
  }
  absl::StatusOr<absl::Duration> max_run_time = RunTimeField(
      "max_run_time", request.has_max_run_time(), request.max_run_time());
  if (!max_run_time.ok()) return max_run_time.status();
  return QueueMaxRunTime{request.queue(), *max_run_time};
}

absl::StatusOr<std::string> ToQueueName(const v1::GetQueueRequest& request) {
  if (absl::Status s = CheckQueueName("name", request.name()); !s.ok()) {
    return s;
  }
  return request.name();
}

absl::StatusOr<QueuePause> ToQueuePause(const v1::PauseQueueRequest& request) {
  if (absl::Status s = FirstError(
          {CheckQueueName("queue", request.queue()),
           CheckMaxLength("reason", request.reason(), kMaxPauseReasonBytes)});
      !s.ok()) {
    return s;
  }
  return QueuePause{request.queue(), request.reason()};
}

absl::StatusOr<std::string> ToQueueName(const v1::ResumeQueueRequest& request) {
  if (absl::Status s = CheckQueueName("queue", request.queue()); !s.ok()) {
    return s;
  }
  return request.queue();
}

absl::StatusOr<DeadLetterFilter> ToDeadLetterFilter(
    const v1::ListDeadLettersRequest& request) {
  if (absl::Status s = FirstError({
          CheckMaxLength("source", request.source(), kMaxIdentifierBytes),
          CheckMaxLength("reason_contains", request.reason_contains(),
                         kMaxReasonFilterBytes),
      });
      !s.ok()) {
    return s;
  }
  DeadLetterFilter filter{.source = request.source(),
                          .reason_contains = request.reason_contains()};
  if (request.has_since()) filter.since = FromTimestamp(request.since());
  if (request.has_until()) filter.until = FromTimestamp(request.until());
  return filter;
}

absl::StatusOr<DeadLetterReplayRequest> ToDeadLetterReplay(
    const v1::ReplayDeadLettersRequest& request) {
  if (absl::Status s = FirstError({
          CheckRange("number of ids", request.ids_size(), 1, kMaxReplayBatch),
          CheckRequired("requested_by", request.requested_by(),
                        kMaxIdentifierBytes),
      });
      !s.ok()) {
    return s;
  }
  DeadLetterReplayRequest replay{.requested_by = request.requested_by()};
  absl::flat_hash_map<std::string, int> first_index;
  for (int i = 0; i < request.ids_size(); ++i) {
    const std::string field = absl::StrCat("ids[", i, "]");
    absl::StatusOr<std::string> id = ToUuid(field, request.ids(i));
    if (!id.ok()) return id.status();
    if (auto [it, added] = first_index.emplace(*id, i); !added) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " repeats ids[", it->second, "]"));
    }
    replay.ids.push_back(*std::move(id));
  }
  return replay;
}

absl::StatusOr<QueueStatsQuery> ToQueueStatsQuery(
    const v1::GetQueueStatsRequest& request) {
  if (absl::Status s = FirstError(
          {request.queue().empty() ? absl::OkStatus()
                                   : CheckQueueName("queue", request.queue()),
           CheckRange("minutes", request.minutes(), 0, kMaxStatsMinutes)});
      !s.ok()) {
    return s;
  }
  return QueueStatsQuery{.queue = request.queue(),
                         .minutes = request.minutes() == 0
                                        ? kDefaultStatsMinutes
                                        : request.minutes()};
}

absl::StatusOr<std::string> ToConversationsQueue(
    const v1::ListConversationsRequest& request) {
  if (!request.queue().empty()) {
    if (absl::Status s = CheckQueueName("queue", request.queue()); !s.ok()) {
      return s;
    }
  }
  return request.queue();
}

namespace {

// A bulk request's filter, `all`, limit (0 is kDefaultBulkLimit; the store's
// check, run by the callers, refuses a range in the same words) and
// dry_run.
template <typename Request>
absl::StatusOr<BulkJobs> BulkJobsOf(const Request& request) {
  absl::StatusOr<JobFilter> filter = SharedFilter(request);
  if (!filter.ok()) return filter.status();
  return BulkJobs{
      .filter = *std::move(filter),
      .all = request.all(),
      .limit = request.limit() == 0 ? kDefaultBulkLimit : request.limit(),
      .dry_run = request.dry_run()};
}

}  // namespace

absl::StatusOr<BulkJobs> ToBulkRetry(const v1::RetryJobsRequest& request) {
  absl::StatusOr<BulkJobs> jobs = BulkJobsOf(request);
  if (!jobs.ok()) return jobs;
  if (absl::Status s = CheckBulkRetry(*jobs); !s.ok()) return s;
  return jobs;
}

absl::StatusOr<BulkJobs> ToBulkCancel(const v1::CancelJobsRequest& request) {
  absl::StatusOr<BulkJobs> jobs = BulkJobsOf(request);
  if (!jobs.ok()) return jobs;
  if (absl::Status s = SetStatus(request.status(), jobs->filter); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckBulkCancel(*jobs); !s.ok()) return s;
  return jobs;
}

namespace {

// `status` with its field named inside `open`.
absl::Status InOpen(const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("open.", status.message()));
}

}  // namespace

absl::StatusOr<StreamOpen> ToStreamOpen(const v1::StreamJobsRequest& request) {
  if (!request.has_open()) {
    return absl::InvalidArgumentError(
        "open is required: the first message opens the stream");
  }
  if (request.items_size() > 0) {
    return absl::InvalidArgumentError(
        "items must be empty in the message that sets open");
  }
  const v1::StreamJobsOpen& open = request.open();
  if (absl::Status s = InOpen(CheckEveryField(open)); !s.ok()) return s;
  v1::ClaimJobsRequest claim;
  claim.set_worker_id(open.worker_id());
  if (open.has_lease_duration()) {
    *claim.mutable_lease_duration() = open.lease_duration();
  }
  claim.set_source_type(open.source_type());
  claim.set_ignore_conversation_order(open.ignore_conversation_order());
  *claim.mutable_queues() = open.queues();
  *claim.mutable_content_types() = open.content_types();
  absl::StatusOr<ClaimRequest> checked = ToClaimRequest(claim);
  if (!checked.ok()) return InOpen(checked.status());
  if (absl::Status s =
          CheckRange("open.max_outstanding", open.max_outstanding(), 1,
                     kMaxStreamOutstanding);
      !s.ok()) {
    return s;
  }
  return StreamOpen{*std::move(checked), open.max_outstanding()};
}

absl::Status CheckStreamMessage(const v1::StreamJobsRequest& request) {
  if (request.has_open()) {
    return absl::InvalidArgumentError(
        "open must be set only in the first message");
  }
  return CheckRange("number of items", request.items_size(), 1,
                    kMaxStreamItems);
}

absl::StatusOr<StreamItem> ToStreamItem(const v1::StreamJobsItem& item) {
  StreamItem out;
  switch (item.kind_case()) {
    case v1::StreamJobsItem::kComplete: {
      out.kind = v1::STREAM_JOBS_ITEM_KIND_COMPLETE;
      if (absl::Status s = CheckEveryField(item.complete()); !s.ok()) return s;
      absl::StatusOr<JobLease> lease = ToJobLease(item.complete());
      if (!lease.ok()) return lease.status();
      out.lease = *std::move(lease);
      return out;
    }
    case v1::StreamJobsItem::kFail: {
      out.kind = v1::STREAM_JOBS_ITEM_KIND_FAIL;
      if (absl::Status s = CheckEveryField(item.fail()); !s.ok()) return s;
      absl::StatusOr<JobLease> lease = ToFailedLease(item.fail());
      if (!lease.ok()) return lease.status();
      out.lease = *std::move(lease);
      out.error = item.fail().error();
      out.retryable = item.fail().retryable();
      return out;
    }
    case v1::StreamJobsItem::kExtend: {
      out.kind = v1::STREAM_JOBS_ITEM_KIND_EXTEND;
      if (absl::Status s = CheckEveryField(item.extend()); !s.ok()) return s;
      absl::StatusOr<LeaseExtension> extension =
          ToLeaseExtension(item.extend());
      if (!extension.ok()) return extension.status();
      out.lease = std::move(extension->lease);
      out.lease_duration = extension->duration;
      return out;
    }
    case v1::StreamJobsItem::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "an item must set one of complete, fail and extend");
}

}  // namespace jobqueue
