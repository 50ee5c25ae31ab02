#include "service/handlers/job_queue_service.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "service/checks/request_checks.h"
#include "service/handlers/dead_letter_jobs.h"
#include "service/handlers/stream_jobs.h"
#include "service/mapping/job_mapping.h"
#include "service/mapping/page_token.h"
#include "service/mapping/status_convert.h"

namespace jobqueue {
namespace {

// Time left to answer after a wait ends at the call's deadline.
constexpr absl::Duration kAnswerMargin = absl::Milliseconds(200);

// One id's answer of ReplayDeadLetters: OK when the dead letter has its
// job, FAILED_PRECONDITION with the recorded error when it could not be
// replayed, else the store's error.
void ToReplayResult(const std::string& id,
                    const absl::StatusOr<DeadLetterReplayResult>& result,
                    v1::ReplayDeadLetterResult* out) {
  out->set_dead_letter_id(id);
  if (!result.ok()) {
    out->set_code(static_cast<int>(result.status().code()));
    out->set_message(std::string(result.status().message()));
    return;
  }
  if (result->replay.job_id.empty()) {
    out->set_code(static_cast<int>(absl::StatusCode::kFailedPrecondition));
    out->set_message(result->replay.error);
  }
  out->set_replayed_now(result->tried_now);
  ToProto(result->replay, out->mutable_replay());
}

}  // namespace

JobQueueService::JobQueueService(JobStore* store, JobNotifier* notifier,
                                 Options options)
    : store_(store),
      options_(std::move(options)),
      claim_waiter_(store, notifier, options_.claim_recheck) {}

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
  RETURN_IF_ERROR(CheckEveryField(*request));
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
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(job, ToNewJob(*request, options_.max_payload_bytes));
  ASSIGN_OR_RETURN(result, store_->Enqueue(job, Deadline(*context)));
  ToProto(result.job, response->mutable_job());
  response->set_created(result.created);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::EnqueueJobs(grpc::ServerContext* context,
                                          const v1::EnqueueJobsRequest* request,
                                          v1::EnqueueJobsResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(jobs, ToNewJobs(*request, options_.max_payload_bytes));
  ASSIGN_OR_RETURN(results, store_->EnqueueJobs(jobs, Deadline(*context)));
  for (const absl::StatusOr<EnqueueResult>& result : results) {
    v1::EnqueueJobResult* out = response->add_results();
    out->set_code(static_cast<int>(result.status().code()));
    out->set_message(std::string(result.status().message()));
    if (!result.ok()) continue;
    ToProto(result->job, out->mutable_job());
    out->set_created(result->created);
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::GetJob(grpc::ServerContext* context,
                                     const v1::GetJobRequest* request,
                                     v1::Job* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(id, ToUuid("id", request->id()));
  ASSIGN_OR_RETURN(job, store_->GetJob(id, Deadline(*context)));
  ToProto(job, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::UpdateStatus(
    grpc::ServerContext* context, const v1::UpdateStatusRequest* request,
    v1::Job* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(change, ToStatusChange(*request));
  ASSIGN_OR_RETURN(job, store_->UpdateStatus(change, Deadline(*context)));
  ToProto(job, response);
  // A move to processing leased the job to this caller.
  response->set_lease_token(job.lease_token);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ListJobs(grpc::ServerContext* context,
                                       const v1::ListJobsRequest* request,
                                       v1::ListJobsResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
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
    ToProto(job, response->add_jobs());
  }
  if (page.next.has_value()) {
    response->set_next_page_token(EncodePageToken(*page.next, fingerprint));
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::RecordDeadLetter(
    grpc::ServerContext* context, const v1::RecordDeadLetterRequest* request,
    v1::DeadLetter* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(letter,
                   ToNewDeadLetter(*request, options_.max_payload_bytes));
  ASSIGN_OR_RETURN(stored,
                   store_->RecordDeadLetter(letter, Deadline(*context)));
  ToProto(stored, response);
  return grpc::Status::OK;
}

absl::StatusOr<size_t> JobQueueService::Respond(
    grpc::ServerContext& context, const std::vector<Job>& jobs,
    v1::ClaimJobsResponse* response) {
  size_t bytes = 0;
  size_t next = 0;
  for (; next < jobs.size(); ++next) {
    const Job& job = jobs[next];
    v1::Job out;
    ToProto(job, &out);
    if (!out.payload_error().empty()) {
      FailUndeliverable(*store_, job, out.payload_error(), Deadline(context));
      continue;
    }
    out.set_lease_token(job.lease_token);
    // The job's bytes plus its field tag and length.
    const size_t size = out.ByteSizeLong() + 8;
    if (response->jobs_size() > 0 &&
        bytes + size > options_.max_claim_response_bytes) {
      break;
    }
    bytes += size;
    *response->add_jobs() = std::move(out);
  }
  const bool cancelled = context.IsCancelled();
  std::vector<JobLease> unsent;
  if (cancelled) {
    for (const v1::Job& job : response->jobs()) {
      unsent.push_back({job.id(), job.lease_token()});
    }
    response->clear_jobs();
  }
  for (size_t i = next; i < jobs.size(); ++i) {
    unsent.push_back({jobs[i].id, jobs[i].lease_token});
  }
  // A failed hand-back leaves those leases to lapse and be rescued.
  if (!unsent.empty())
    store_->ReleaseJobs(unsent, Deadline(context)).IgnoreError();
  if (cancelled) return absl::CancelledError("the caller left");
  return static_cast<size_t>(response->jobs_size());
}

grpc::Status JobQueueService::ClaimJobs(grpc::ServerContext* context,
                                        const v1::ClaimJobsRequest* request,
                                        v1::ClaimJobsResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(claim, ToClaimRequest(*request));
  ASSIGN_OR_RETURN(wait, ClaimWait(*request));
  const absl::Time start = absl::Now();
  const absl::Time wait_until =
      std::min(start + wait, Deadline(*context) - kAnswerMargin);
  ASSIGN_OR_RETURN(
      jobs, claim_waiter_.ClaimOrWait(
                claim, {.until = wait_until,
                        .deadline = Deadline(*context),
                        .stop = [context] { return context->IsCancelled(); }}));
  ASSIGN_OR_RETURN(sent, Respond(*context, jobs, response));
  if (options_.on_claim) options_.on_claim(absl::Now() - start, sent);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ExtendLease(grpc::ServerContext* context,
                                          const v1::ExtendLeaseRequest* request,
                                          v1::Job* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(extension, ToLeaseExtension(*request));
  ASSIGN_OR_RETURN(job, store_->ExtendLease(
                            extension.lease.job_id, extension.lease.lease_token,
                            extension.duration, Deadline(*context)));
  ToProto(job, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::CompleteJob(grpc::ServerContext* context,
                                          const v1::CompleteJobRequest* request,
                                          v1::Job* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(lease, ToJobLease(*request));
  ASSIGN_OR_RETURN(job, store_->CompleteJob(lease, Deadline(*context)));
  ToProto(job, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::CompleteJobs(
    grpc::ServerContext* context, const v1::CompleteJobsRequest* request,
    v1::CompleteJobsResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
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
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(lease, ToFailedLease(*request));
  ASSIGN_OR_RETURN(
      job, store_->FailJob(lease.job_id, lease.lease_token, request->error(),
                           request->retryable(), Deadline(*context)));
  ToProto(job, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::SnoozeJob(grpc::ServerContext* context,
                                        const v1::SnoozeJobRequest* request,
                                        v1::Job* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(snooze, ToSnooze(*request));
  ASSIGN_OR_RETURN(
      job, store_->SnoozeJob(snooze.lease.job_id, snooze.lease.lease_token,
                             snooze.delay, Deadline(*context)));
  ToProto(job, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::RetryJob(grpc::ServerContext* context,
                                       const v1::RetryJobRequest* request,
                                       v1::Job* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(id, ToUuid("job_id", request->job_id()));
  ASSIGN_OR_RETURN(job, store_->RetryJob(id, Deadline(*context)));
  ToProto(job, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::CancelJob(grpc::ServerContext* context,
                                        const v1::CancelJobRequest* request,
                                        v1::Job* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(ref, ToJobRef(*request));
  ASSIGN_OR_RETURN(
      job, store_->CancelJob(ref.id, ref.idempotency_key, Deadline(*context)));
  ToProto(job, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::SetQueueRateLimit(
    grpc::ServerContext* context, const v1::SetQueueRateLimitRequest* request,
    v1::Queue* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(change, ToQueueRateLimit(*request));
  ASSIGN_OR_RETURN(queue, store_->SetQueueRateLimit(change.queue, change.limit,
                                                    Deadline(*context)));
  ToProto(queue, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::SetQueueMaxRunTime(
    grpc::ServerContext* context, const v1::SetQueueMaxRunTimeRequest* request,
    v1::Queue* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(change, ToQueueMaxRunTime(*request));
  ASSIGN_OR_RETURN(queue,
                   store_->SetQueueMaxRunTime(change.queue, change.max_run_time,
                                              Deadline(*context)));
  ToProto(queue, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::GetQueue(grpc::ServerContext* context,
                                       const v1::GetQueueRequest* request,
                                       v1::Queue* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(name, ToQueueName(*request));
  ASSIGN_OR_RETURN(queue, store_->GetQueue(name, Deadline(*context)));
  ToProto(queue, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::PauseQueue(grpc::ServerContext* context,
                                         const v1::PauseQueueRequest* request,
                                         v1::Queue* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(pause, ToQueuePause(*request));
  ASSIGN_OR_RETURN(
      queue, store_->PauseQueue(pause.queue, pause.reason, Deadline(*context)));
  ToProto(queue, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ResumeQueue(grpc::ServerContext* context,
                                          const v1::ResumeQueueRequest* request,
                                          v1::Queue* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(name, ToQueueName(*request));
  ASSIGN_OR_RETURN(queue, store_->ResumeQueue(name, Deadline(*context)));
  ToProto(queue, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ListDeadLetters(
    grpc::ServerContext* context, const v1::ListDeadLettersRequest* request,
    v1::ListDeadLettersResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(filter, ToDeadLetterFilter(*request));
  ASSIGN_OR_RETURN(page_size,
                   PageSize(request->page_size(), kMaxDeadLetterPageSize));
  const std::string fingerprint = DeadLetterFilterFingerprint(filter);
  std::optional<DeadLetterCursor> after;
  if (!request->page_token().empty()) {
    ASSIGN_OR_RETURN(
        cursor, DecodeDeadLetterPageToken(request->page_token(), fingerprint));
    after = std::move(cursor);
  }
  ASSIGN_OR_RETURN(page, store_->ListDeadLetters(filter, after, page_size,
                                                 Deadline(*context)));
  for (const DeadLetter& letter : page.dead_letters) {
    ToProto(letter, response->add_dead_letters());
  }
  if (page.next.has_value()) {
    response->set_next_page_token(
        EncodeDeadLetterPageToken(*page.next, fingerprint));
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ReplayDeadLetters(
    grpc::ServerContext* context, const v1::ReplayDeadLettersRequest* request,
    v1::ReplayDeadLettersResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(replay, ToDeadLetterReplay(*request));
  const size_t max_payload_bytes = options_.max_payload_bytes;
  const std::vector<absl::StatusOr<DeadLetterReplayResult>> results =
      store_->ReplayDeadLetters(
          replay.ids, replay.requested_by,
          [max_payload_bytes](const DeadLetter& letter) {
            return DeadLetterJob(letter, max_payload_bytes);
          },
          Deadline(*context));
  for (size_t i = 0; i < replay.ids.size(); ++i) {
    ToReplayResult(replay.ids[i], results[i], response->add_results());
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::RetryJobs(grpc::ServerContext* context,
                                        const v1::RetryJobsRequest* request,
                                        v1::RetryJobsResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(jobs, ToBulkRetry(*request));
  ASSIGN_OR_RETURN(result, store_->RetryJobs(jobs, Deadline(*context)));
  response->set_retried(result.retried);
  response->set_more(result.more);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::CancelJobs(grpc::ServerContext* context,
                                         const v1::CancelJobsRequest* request,
                                         v1::CancelJobsResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(jobs, ToBulkCancel(*request));
  ASSIGN_OR_RETURN(result, store_->CancelJobs(jobs, Deadline(*context)));
  response->set_cancelled(result.cancelled);
  response->set_cancel_requested(result.cancel_requested);
  response->set_more(result.more);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::GetUser(grpc::ServerContext* context,
                                      const v1::GetUserRequest* request,
                                      v1::User* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(phone, ToUserPhone(*request));
  ASSIGN_OR_RETURN(user, store_->GetUser(phone, Deadline(*context)));
  ToProto(user, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ListUsers(grpc::ServerContext* context,
                                        const v1::ListUsersRequest* request,
                                        v1::ListUsersResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(filter, ToUserFilter(*request));
  ASSIGN_OR_RETURN(page_size, PageSize(request->page_size()));
  const std::string fingerprint = UserFilterFingerprint(filter);
  std::optional<UserCursor> after;
  if (!request->page_token().empty()) {
    ASSIGN_OR_RETURN(cursor,
                     DecodeUserPageToken(request->page_token(), fingerprint));
    after = std::move(cursor);
  }
  ASSIGN_OR_RETURN(
      page, store_->ListUsers(filter, after, page_size, Deadline(*context)));
  for (const User& user : page.users) {
    ToProto(user, response->add_users());
  }
  if (page.next.has_value()) {
    response->set_next_page_token(EncodeUserPageToken(*page.next, fingerprint));
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::CreateSchedule(
    grpc::ServerContext* context, const v1::CreateScheduleRequest* request,
    v1::Schedule* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(spec, ToScheduleSpec(*request, options_.max_payload_bytes));
  ASSIGN_OR_RETURN(result, store_->CreateSchedule(spec, Deadline(*context)));
  ToProto(result.schedule, response);
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ListSchedules(
    grpc::ServerContext* context, const v1::ListSchedulesRequest* request,
    v1::ListSchedulesResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(page_size, PageSize(request->page_size()));
  std::string after;
  if (!request->page_token().empty()) {
    ASSIGN_OR_RETURN(name, DecodeSchedulePageToken(request->page_token()));
    after = std::move(name);
  }
  ASSIGN_OR_RETURN(page,
                   store_->ListSchedules(after, page_size, Deadline(*context)));
  for (const Schedule& schedule : page.schedules) {
    ToProto(schedule, response->add_schedules());
  }
  if (page.next_after.has_value()) {
    response->set_next_page_token(EncodeSchedulePageToken(*page.next_after));
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::DeleteSchedule(
    grpc::ServerContext* context, const v1::DeleteScheduleRequest* request,
    v1::DeleteScheduleResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(name, ToScheduleName(*request));
  RETURN_IF_ERROR(store_->DeleteSchedule(name, Deadline(*context)));
  return grpc::Status::OK;
}

grpc::Status JobQueueService::GetQueueStats(
    grpc::ServerContext* context, const v1::GetQueueStatsRequest* request,
    v1::GetQueueStatsResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(query, ToQueueStatsQuery(*request));
  ASSIGN_OR_RETURN(stats, store_->GetQueueStats(query.queue, query.minutes,
                                                Deadline(*context)));
  for (const QueueStatistics& queue : stats) {
    ToProto(queue, response->add_queues());
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::ListConversations(
    grpc::ServerContext* context, const v1::ListConversationsRequest* request,
    v1::ListConversationsResponse* response) {
  RETURN_IF_ERROR(CheckEveryField(*request));
  ASSIGN_OR_RETURN(queue, ToConversationsQueue(*request));
  ASSIGN_OR_RETURN(page_size, PageSize(request->page_size()));
  std::optional<ConversationCursor> after;
  if (!request->page_token().empty()) {
    ASSIGN_OR_RETURN(cursor,
                     DecodeConversationPageToken(request->page_token(), queue));
    after = std::move(cursor);
  }
  ASSIGN_OR_RETURN(page, store_->ListConversations(queue, after, page_size,
                                                   Deadline(*context)));
  for (const WaitingConversation& conversation : page.conversations) {
    ToProto(conversation, response->add_conversations());
  }
  if (page.next.has_value()) {
    response->set_next_page_token(
        EncodeConversationPageToken(*page.next, queue));
  }
  return grpc::Status::OK;
}

grpc::Status JobQueueService::StreamJobs(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::StreamJobsResponse, v1::StreamJobsRequest>*
        stream) {
  return ServeJobStream(
      *context, *stream, store_, &claim_waiter_,
      {.max_response_bytes = options_.max_claim_response_bytes,
       .default_deadline = options_.default_deadline,
       .claim_recheck = options_.claim_recheck,
       .on_push = options_.on_stream_push});
}

}  // namespace jobqueue
