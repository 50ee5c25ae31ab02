#include "service/job_queue_service.h"

#include <algorithm>
#include <chrono>
#include <initializer_list>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "service/job_mapping.h"
#include "service/page_token.h"
#include "service/status_convert.h"
#include "service/struct_json.h"
#include "service/validation.h"

namespace jobqueue {
namespace {

constexpr size_t kMaxIdentifierBytes = 255;
constexpr size_t kMaxChannelBytes = 512;
constexpr size_t kMaxNameBytes = 256;
constexpr size_t kMaxReasonBytes = 4096;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr int kDefaultMaxAttempts = 5;
constexpr int kMaxMaxAttempts = 100;
constexpr int kMaxClaimBatch = 100;
constexpr int kMaxCompleteBatch = 1000;
constexpr absl::Duration kDefaultLease = absl::Seconds(30);
constexpr absl::Duration kMinLease = absl::Seconds(1);
constexpr absl::Duration kMaxLease = absl::Hours(1);
constexpr absl::Duration kMaxWait = absl::Seconds(60);
// Time left to answer after a wait ends at the call's deadline.
constexpr absl::Duration kAnswerMargin = absl::Milliseconds(200);
// A waiting claim looks again at least this often, for retries whose
// backoff ends without any notification.
constexpr absl::Duration kRecheck = absl::Seconds(1);

// Evaluates an absl::Status expression; returns it as a grpc::Status when it
// is not OK.
#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    if (absl::Status _s = (expr); !_s.ok()) { \
      return ToGrpcStatus(_s);                \
    }                                         \
  } while (0)

// Assigns the value of an absl::StatusOr expression to `lhs`, or returns its
// error as a grpc::Status.
#define ASSIGN_OR_RETURN(lhs, expr)                           \
  auto lhs##_or = (expr);                                     \
  if (!lhs##_or.ok()) return ToGrpcStatus(lhs##_or.status()); \
  auto lhs = std::move(*lhs##_or)

absl::Status CheckPayloadSize(const std::string& json, size_t limit) {
  if (json.size() <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "payload is ", json.size(), " bytes as JSON; the limit is ", limit));
}

// The first error among `checks`, all of which are cheap to evaluate.
absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckRange(absl::string_view field, int value, int min, int max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " must be between ", min, " and ", max, ", got ", value));
}

// A google.protobuf.Duration field: `fallback` when unset, else within
// [min, max].
absl::StatusOr<absl::Duration> DurationField(
    absl::string_view field, bool set, const google::protobuf::Duration& d,
    absl::Duration fallback, absl::Duration min, absl::Duration max) {
  if (!set) return fallback;
  const absl::Duration value =
      absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " must be between ", absl::FormatDuration(min), " and ",
        absl::FormatDuration(max), ", got ", absl::FormatDuration(value)));
  }
  return value;
}

absl::StatusOr<ClaimRequest> ToClaimRequest(const v1::ClaimJobsRequest& r) {
  ClaimRequest claim{
      .worker_id = r.worker_id(),
      .max_jobs = r.max_jobs() == 0 ? 1 : r.max_jobs(),
      .ignore_conversation_order = r.ignore_conversation_order()};
  absl::StatusOr<absl::Duration> lease =
      DurationField("lease_duration", r.has_lease_duration(),
                    r.lease_duration(), kDefaultLease, kMinLease, kMaxLease);
  if (absl::Status s = FirstError({
          CheckRequired("worker_id", claim.worker_id, kMaxIdentifierBytes),
          CheckRange("max_jobs", r.max_jobs(), 0, kMaxClaimBatch),
          lease.status(),
      });
      !s.ok()) {
    return s;
  }
  claim.lease = *lease;
  if (r.source_type() != v1::SOURCE_TYPE_UNSPECIFIED) {
    absl::StatusOr<std::string> type =
        SourceTypeColumn("source_type", r.source_type());
    if (!type.ok()) return type.status();
    claim.source_type = *type;
  }
  return claim;
}

absl::StatusOr<NewJob> ToNewJob(const v1::EnqueueJobRequest& request,
                                size_t max_payload_bytes) {
  absl::StatusOr<std::string> source_type =
      SourceTypeColumn("source_type", request.source_type());
  absl::StatusOr<std::string> content_type =
      ContentTypeColumn("content_type", request.content_type());
  absl::StatusOr<std::string> payload =
      StructToJson("payload", request.payload());
  if (!payload.ok()) return payload.status();
  NewJob job{.user_phone = request.user_phone(),
             .user_first_name = request.user_first_name(),
             .source_channel_id = request.source_channel_id(),
             .payload_json = *std::move(payload),
             .idempotency_key = request.idempotency_key()};
  if (absl::Status s = FirstError({
          CheckE164("user_phone", job.user_phone),
          CheckMaxLength("user_first_name", job.user_first_name, kMaxNameBytes),
          CheckRequired("source_channel_id", job.source_channel_id,
                        kMaxChannelBytes),
          source_type.status(),
          content_type.status(),
          CheckPayloadSize(job.payload_json, max_payload_bytes),
          CheckMaxLength("idempotency_key", job.idempotency_key,
                         kMaxIdentifierBytes),
          CheckRange("max_attempts", request.max_attempts(), 0,
                     kMaxMaxAttempts),
      });
      !s.ok()) {
    return s;
  }
  job.source_type = *std::move(source_type);
  job.content_type = *std::move(content_type);
  job.max_attempts = request.max_attempts() == 0 ? kDefaultMaxAttempts
                                                 : request.max_attempts();
  return job;
}

absl::StatusOr<JobFilter> ToFilter(const v1::ListJobsRequest& request) {
  JobFilter filter;
  if (!request.user_id().empty()) {
    if (absl::Status s = CheckE164("user_id", request.user_id()); !s.ok())
      return s;
    filter.user_id = request.user_id();
  }
  if (request.status() != v1::JOB_STATUS_UNSPECIFIED) {
    absl::StatusOr<std::string> s = StatusColumn("status", request.status());
    if (!s.ok()) return s.status();
    filter.status = *s;
  }
  if (request.source_type() != v1::SOURCE_TYPE_UNSPECIFIED) {
    absl::StatusOr<std::string> s =
        SourceTypeColumn("source_type", request.source_type());
    if (!s.ok()) return s.status();
    filter.source_type = *s;
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

absl::StatusOr<int> PageSize(int requested) {
  if (requested == 0) return kDefaultPageSize;
  if (requested < 0 || requested > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be between 1 and ", kMaxPageSize,
                     " (0 means ", kDefaultPageSize, "), got ", requested));
  }
  return requested;
}

}  // namespace

JobQueueService::JobQueueService(JobStore* store, JobNotifier* notifier,
                                 Options options)
    : store_(store),
      notifier_(notifier),
      options_(std::move(options)),
      auth_(options_.auth_token) {}

absl::Time JobQueueService::Deadline(const grpc::ServerContext& context) const {
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return absl::Now() + options_.default_deadline;
  }
  return absl::FromChrono(deadline);
}

grpc::Status JobQueueService::CreateUser(grpc::ServerContext* context,
                                         const v1::CreateUserRequest* request,
                                         v1::CreateUserResponse* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  RETURN_IF_ERROR(CheckE164("phone_number", request->phone_number()));
  RETURN_IF_ERROR(
      CheckMaxLength("first_name", request->first_name(), kMaxNameBytes));
  ASSIGN_OR_RETURN(
      result, store_->UpsertUser(request->phone_number(), request->first_name(),
                                 Deadline(*context)));
  ToProto(result.user, response->mutable_user());
  response->set_created(result.created);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::EnqueueJob(grpc::ServerContext* context,
                                         const v1::EnqueueJobRequest* request,
                                         v1::EnqueueJobResponse* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  ASSIGN_OR_RETURN(job, ToNewJob(*request, options_.max_payload_bytes));
  ASSIGN_OR_RETURN(result, store_->Enqueue(job, Deadline(*context)));
  RETURN_IF_ERROR(ToProto(result.job, response->mutable_job()));
  response->set_created(result.created);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::GetJob(grpc::ServerContext* context,
                                     const v1::GetJobRequest* request,
                                     v1::Job* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  RETURN_IF_ERROR(CheckUuid("id", request->id()));
  ASSIGN_OR_RETURN(job, store_->GetJob(request->id(), Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

grpc::Status JobQueueService::UpdateStatus(
    grpc::ServerContext* context, const v1::UpdateStatusRequest* request,
    v1::Job* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  RETURN_IF_ERROR(CheckUuid("id", request->id()));
  ASSIGN_OR_RETURN(status, StatusColumn("status", request->status()));
  std::string expected;
  if (request->expected_status() != v1::JOB_STATUS_UNSPECIFIED) {
    ASSIGN_OR_RETURN(
        e, StatusColumn("expected_status", request->expected_status()));
    expected = std::move(e);
  }
  if (!request->lease_token().empty()) {
    RETURN_IF_ERROR(CheckUuid("lease_token", request->lease_token()));
  }
  ASSIGN_OR_RETURN(
      job, store_->UpdateStatus(request->id(), status, expected,
                                request->lease_token(), Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

grpc::Status JobQueueService::ListJobs(grpc::ServerContext* context,
                                       const v1::ListJobsRequest* request,
                                       v1::ListJobsResponse* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  ASSIGN_OR_RETURN(filter, ToFilter(*request));
  ASSIGN_OR_RETURN(page_size, PageSize(request->page_size()));
  const std::string fingerprint = FilterFingerprint(filter);
  std::optional<JobCursor> after;
  if (!request->page_token().empty()) {
    ASSIGN_OR_RETURN(cursor,
                     DecodePageToken(request->page_token(), fingerprint));
    after = std::move(cursor);
  }
  ASSIGN_OR_RETURN(
      page, store_->ListJobs(filter, after, page_size, Deadline(*context)));
  for (const Job& job : page.jobs) {
    RETURN_IF_ERROR(ToProto(job, response->add_jobs()));
  }
  if (page.next.has_value()) {
    response->set_next_page_token(EncodePageToken(*page.next, fingerprint));
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::RecordDeadLetter(
    grpc::ServerContext* context, const v1::RecordDeadLetterRequest* request,
    v1::DeadLetter* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  RETURN_IF_ERROR(
      CheckRequired("source", request->source(), kMaxIdentifierBytes));
  RETURN_IF_ERROR(CheckMaxLength("delivery_id", request->delivery_id(),
                                 kMaxIdentifierBytes));
  RETURN_IF_ERROR(CheckRequired("reason", request->reason(), kMaxReasonBytes));
  ASSIGN_OR_RETURN(raw_payload,
                   StructToJson("raw_payload", request->raw_payload()));
  NewDeadLetter letter{.source = request->source(),
                       .delivery_id = request->delivery_id(),
                       .reason = request->reason(),
                       .raw_payload_json = std::move(raw_payload)};
  RETURN_IF_ERROR(
      CheckPayloadSize(letter.raw_payload_json, options_.max_payload_bytes));
  ASSIGN_OR_RETURN(stored,
                   store_->RecordDeadLetter(letter, Deadline(*context)));
  return ToGrpcStatus(ToProto(stored, response));
}

absl::StatusOr<std::vector<Job>> JobQueueService::ClaimOrWait(
    grpc::ServerContext& context, const ClaimRequest& request,
    absl::Time wait_until) {
  while (true) {
    const uint64_t seen = notifier_ != nullptr ? notifier_->generation() : 0;
    absl::StatusOr<std::vector<Job>> jobs =
        store_->ClaimJobs(request, Deadline(context));
    if (!jobs.ok() || !jobs->empty() || notifier_ == nullptr) return jobs;
    const absl::Time next = std::min(wait_until, absl::Now() + kRecheck);
    if (absl::Now() >= wait_until || context.IsCancelled()) return jobs;
    if (!notifier_->WaitForChange(seen, next) && absl::Now() < next) {
      return jobs;  // the notifier closed: the server is stopping
    }
  }
}

grpc::Status JobQueueService::ClaimJobs(grpc::ServerContext* context,
                                        const v1::ClaimJobsRequest* request,
                                        v1::ClaimJobsResponse* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  ASSIGN_OR_RETURN(claim, ToClaimRequest(*request));
  ASSIGN_OR_RETURN(wait,
                   DurationField("wait_timeout", request->has_wait_timeout(),
                                 request->wait_timeout(), absl::ZeroDuration(),
                                 absl::ZeroDuration(), kMaxWait));
  const absl::Time start = absl::Now();
  const absl::Time wait_until =
      std::min(start + wait, Deadline(*context) - kAnswerMargin);
  ASSIGN_OR_RETURN(jobs, ClaimOrWait(*context, claim, wait_until));
  if (options_.on_claim) options_.on_claim(absl::Now() - start, jobs.size());
  for (const Job& job : jobs) {
    v1::Job* out = response->add_jobs();
    RETURN_IF_ERROR(ToProto(job, out));
    out->set_lease_token(job.lease_token);
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ExtendLease(grpc::ServerContext* context,
                                          const v1::ExtendLeaseRequest* request,
                                          v1::Job* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  RETURN_IF_ERROR(CheckUuid("job_id", request->job_id()));
  RETURN_IF_ERROR(CheckUuid("lease_token", request->lease_token()));
  ASSIGN_OR_RETURN(
      lease, DurationField("lease_duration", request->has_lease_duration(),
                           request->lease_duration(), kDefaultLease, kMinLease,
                           kMaxLease));
  ASSIGN_OR_RETURN(
      job, store_->ExtendLease(request->job_id(), request->lease_token(), lease,
                               Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

grpc::Status JobQueueService::CompleteJob(grpc::ServerContext* context,
                                          const v1::CompleteJobRequest* request,
                                          v1::Job* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  RETURN_IF_ERROR(CheckUuid("job_id", request->job_id()));
  RETURN_IF_ERROR(CheckUuid("lease_token", request->lease_token()));
  ASSIGN_OR_RETURN(
      job, store_->CompleteJob(request->job_id(), request->lease_token(),
                               Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

grpc::Status JobQueueService::CompleteJobs(
    grpc::ServerContext* context, const v1::CompleteJobsRequest* request,
    v1::CompleteJobsResponse* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  RETURN_IF_ERROR(
      CheckRange("number of jobs", request->jobs_size(), 1, kMaxCompleteBatch));
  std::vector<JobLease> leases;
  absl::flat_hash_map<std::string, int> first_index;
  for (int i = 0; i < request->jobs_size(); ++i) {
    const v1::CompleteJobRequest& job = request->jobs(i);
    const std::string entry = absl::StrCat("jobs[", i, "]");
    RETURN_IF_ERROR(CheckUuid(absl::StrCat(entry, ".job_id"), job.job_id()));
    RETURN_IF_ERROR(
        CheckUuid(absl::StrCat(entry, ".lease_token"), job.lease_token()));
    if (auto [it, added] = first_index.emplace(job.job_id(), i); !added) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat(entry, ".job_id repeats jobs[", it->second, "]")));
    }
    leases.push_back({job.job_id(), job.lease_token()});
  }
  const std::vector<absl::Status> done =
      store_->CompleteJobs(leases, Deadline(*context));
  for (size_t i = 0; i < leases.size(); ++i) {
    v1::CompleteJobResult* result = response->add_results();
    result->set_job_id(leases[i].job_id);
    result->set_code(static_cast<int>(done[i].code()));
    result->set_message(std::string(done[i].message()));
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::FailJob(grpc::ServerContext* context,
                                      const v1::FailJobRequest* request,
                                      v1::Job* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  RETURN_IF_ERROR(CheckUuid("job_id", request->job_id()));
  RETURN_IF_ERROR(CheckUuid("lease_token", request->lease_token()));
  RETURN_IF_ERROR(CheckRequired("error", request->error(), kMaxReasonBytes));
  ASSIGN_OR_RETURN(job,
                   store_->FailJob(request->job_id(), request->lease_token(),
                                   request->error(), request->retryable(),
                                   Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

grpc::Status JobQueueService::RetryJob(grpc::ServerContext* context,
                                       const v1::RetryJobRequest* request,
                                       v1::Job* response) {
  RETURN_IF_ERROR(auth_.Check(*context));
  RETURN_IF_ERROR(CheckUuid("job_id", request->job_id()));
  ASSIGN_OR_RETURN(job,
                   store_->RetryJob(request->job_id(), Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

}  // namespace jobqueue
