#include "service/job_queue_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "service/job_mapping.h"
#include "service/page_token.h"
#include "service/request_checks.h"
#include "service/status_convert.h"
#include "service/validation.h"

namespace jobqueue {
namespace {

// Time left to answer after a wait ends at the call's deadline.
constexpr absl::Duration kAnswerMargin = absl::Milliseconds(200);
// A waiting claim looks again at least this often, for retries whose
// backoff ends without any notification.
constexpr absl::Duration kRecheck = absl::Seconds(1);

}  // namespace

JobQueueService::JobQueueService(JobStore* store, JobNotifier* notifier,
                                 Options options)
    : store_(store), notifier_(notifier), options_(std::move(options)) {}

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
  RETURN_IF_ERROR(CheckCreateUser(*request));
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
  ASSIGN_OR_RETURN(job, ToNewJob(*request, options_.max_payload_bytes));
  ASSIGN_OR_RETURN(result, store_->Enqueue(job, Deadline(*context)));
  RETURN_IF_ERROR(ToProto(result.job, response->mutable_job()));
  response->set_created(result.created);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::GetJob(grpc::ServerContext* context,
                                     const v1::GetJobRequest* request,
                                     v1::Job* response) {
  RETURN_IF_ERROR(CheckUuid("id", request->id()));
  ASSIGN_OR_RETURN(job, store_->GetJob(request->id(), Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

grpc::Status JobQueueService::UpdateStatus(
    grpc::ServerContext* context, const v1::UpdateStatusRequest* request,
    v1::Job* response) {
  ASSIGN_OR_RETURN(change, ToStatusChange(*request));
  ASSIGN_OR_RETURN(job, store_->UpdateStatus(change, Deadline(*context)));
  RETURN_IF_ERROR(ToProto(job, response));
  // A move to processing leased the job to this caller.
  response->set_lease_token(job.lease_token);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ListJobs(grpc::ServerContext* context,
                                       const v1::ListJobsRequest* request,
                                       v1::ListJobsResponse* response) {
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
  ASSIGN_OR_RETURN(letter,
                   ToNewDeadLetter(*request, options_.max_payload_bytes));
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
  ASSIGN_OR_RETURN(claim, ToClaimRequest(*request));
  ASSIGN_OR_RETURN(wait, ClaimWait(*request));
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
  ASSIGN_OR_RETURN(lease, ToLeaseExtension(*request));
  ASSIGN_OR_RETURN(
      job, store_->ExtendLease(request->job_id(), request->lease_token(), lease,
                               Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

grpc::Status JobQueueService::CompleteJob(grpc::ServerContext* context,
                                          const v1::CompleteJobRequest* request,
                                          v1::Job* response) {
  ASSIGN_OR_RETURN(lease, ToJobLease(*request));
  ASSIGN_OR_RETURN(job, store_->CompleteJob(lease.job_id, lease.lease_token,
                                            Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

grpc::Status JobQueueService::CompleteJobs(
    grpc::ServerContext* context, const v1::CompleteJobsRequest* request,
    v1::CompleteJobsResponse* response) {
  ASSIGN_OR_RETURN(leases, ToJobLeases(*request));
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
  RETURN_IF_ERROR(CheckFailJob(*request));
  ASSIGN_OR_RETURN(job,
                   store_->FailJob(request->job_id(), request->lease_token(),
                                   request->error(), request->retryable(),
                                   Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

grpc::Status JobQueueService::RetryJob(grpc::ServerContext* context,
                                       const v1::RetryJobRequest* request,
                                       v1::Job* response) {
  RETURN_IF_ERROR(CheckUuid("job_id", request->job_id()));
  ASSIGN_OR_RETURN(job,
                   store_->RetryJob(request->job_id(), Deadline(*context)));
  return ToGrpcStatus(ToProto(job, response));
}

}  // namespace jobqueue
