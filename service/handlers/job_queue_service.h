// The JobQueue gRPC handlers: each checks its whole request before touching
// storage (service/checks/request_checks.h: first CheckEveryField, the rules
// every field of every request follows, then the RPC's own), calls the
// JobStore, and maps the result. Holds no state
// between calls, so any number of replicas can serve one database. The bearer
// token is not checked here: JobQueueServer registers the service behind
// AuthenticatedService, which checks every method.
//
//   PgJobStore store({.url = url});
//   JobQueueService service(&store, &notifier, {.max_payload_bytes = 1024});

#ifndef JOBQUEUE_SERVICE_HANDLERS_JOB_QUEUE_SERVICE_H_
#define JOBQUEUE_SERVICE_HANDLERS_JOB_QUEUE_SERVICE_H_

#include <cstddef>
#include <functional>
#include <vector>

#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/handlers/claim_waiter.h"
#include "storage/job_notifier.h"
#include "storage/job_store.h"

namespace jobqueue {

class JobQueueService final : public v1::JobQueue::Service {
 public:
  struct Options {
    // Largest payload, measured as JSON text.
    size_t max_payload_bytes = 256 * 1024;
    // Bounds a call that came without a deadline.
    absl::Duration default_deadline = absl::Seconds(30);
    // Most bytes of jobs one ClaimJobs response carries, under gRPC's
    // default 4 MiB receive limit of clients; further claimed jobs are
    // handed back at once. A response always carries at least one job.
    size_t max_claim_response_bytes = 3584 * 1024;
    // When set, called after each successful ClaimJobs with the time spent
    // claiming and waiting, and the number of jobs leased.
    std::function<void(absl::Duration waited, size_t jobs)> on_claim;
    // A waiting claim looks again at least this often, for what comes
    // without a notification (a retry whose backoff ended).
    absl::Duration claim_recheck = absl::Seconds(1);
    // When set, called with the number of jobs each StreamJobs push leased.
    std::function<void(size_t jobs)> on_stream_push;
  };

  // `store` and `notifier` must outlive the service. Without a notifier,
  // ClaimJobs never waits (and StreamJobs looks for jobs every
  // claim_recheck).
  JobQueueService(JobStore* store, JobNotifier* notifier, Options options);

  grpc::Status CreateUser(grpc::ServerContext* context,
                          const v1::CreateUserRequest* request,
                          v1::CreateUserResponse* response) override;
  grpc::Status EnqueueJob(grpc::ServerContext* context,
                          const v1::EnqueueJobRequest* request,
                          v1::EnqueueJobResponse* response) override;
  grpc::Status EnqueueJobs(grpc::ServerContext* context,
                           const v1::EnqueueJobsRequest* request,
                           v1::EnqueueJobsResponse* response) override;
  grpc::Status GetJob(grpc::ServerContext* context,
                      const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status UpdateStatus(grpc::ServerContext* context,
                            const v1::UpdateStatusRequest* request,
                            v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context,
                        const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status RecordDeadLetter(grpc::ServerContext* context,
                                const v1::RecordDeadLetterRequest* request,
                                v1::DeadLetter* response) override;
  grpc::Status ClaimJobs(grpc::ServerContext* context,
                         const v1::ClaimJobsRequest* request,
                         v1::ClaimJobsResponse* response) override;
  grpc::Status ExtendLease(grpc::ServerContext* context,
                           const v1::ExtendLeaseRequest* request,
                           v1::Job* response) override;
  grpc::Status CompleteJob(grpc::ServerContext* context,
                           const v1::CompleteJobRequest* request,
                           v1::Job* response) override;
  grpc::Status CompleteJobs(grpc::ServerContext* context,
                            const v1::CompleteJobsRequest* request,
                            v1::CompleteJobsResponse* response) override;
  grpc::Status FailJob(grpc::ServerContext* context,
                       const v1::FailJobRequest* request,
                       v1::Job* response) override;
  grpc::Status SnoozeJob(grpc::ServerContext* context,
                         const v1::SnoozeJobRequest* request,
                         v1::Job* response) override;
  grpc::Status RetryJob(grpc::ServerContext* context,
                        const v1::RetryJobRequest* request,
                        v1::Job* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context,
                         const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status GetUser(grpc::ServerContext* context,
                       const v1::GetUserRequest* request,
                       v1::User* response) override;
  grpc::Status ListUsers(grpc::ServerContext* context,
                         const v1::ListUsersRequest* request,
                         v1::ListUsersResponse* response) override;
  grpc::Status CreateSchedule(grpc::ServerContext* context,
                              const v1::CreateScheduleRequest* request,
                              v1::Schedule* response) override;
  grpc::Status ListSchedules(grpc::ServerContext* context,
                             const v1::ListSchedulesRequest* request,
                             v1::ListSchedulesResponse* response) override;
  grpc::Status DeleteSchedule(grpc::ServerContext* context,
                              const v1::DeleteScheduleRequest* request,
                              v1::DeleteScheduleResponse* response) override;
  grpc::Status SetQueueRateLimit(grpc::ServerContext* context,
                                 const v1::SetQueueRateLimitRequest* request,
                                 v1::Queue* response) override;
  grpc::Status SetQueueMaxRunTime(grpc::ServerContext* context,
                                  const v1::SetQueueMaxRunTimeRequest* request,
                                  v1::Queue* response) override;
  grpc::Status GetQueue(grpc::ServerContext* context,
                        const v1::GetQueueRequest* request,
                        v1::Queue* response) override;
  grpc::Status PauseQueue(grpc::ServerContext* context,
                          const v1::PauseQueueRequest* request,
                          v1::Queue* response) override;
  grpc::Status ResumeQueue(grpc::ServerContext* context,
                           const v1::ResumeQueueRequest* request,
                           v1::Queue* response) override;
  grpc::Status ListDeadLetters(grpc::ServerContext* context,
                               const v1::ListDeadLettersRequest* request,
                               v1::ListDeadLettersResponse* response) override;
  grpc::Status ReplayDeadLetters(
      grpc::ServerContext* context, const v1::ReplayDeadLettersRequest* request,
      v1::ReplayDeadLettersResponse* response) override;
  grpc::Status GetQueueStats(grpc::ServerContext* context,
                             const v1::GetQueueStatsRequest* request,
                             v1::GetQueueStatsResponse* response) override;
  grpc::Status ListConversations(
      grpc::ServerContext* context, const v1::ListConversationsRequest* request,
      v1::ListConversationsResponse* response) override;
  grpc::Status RetryJobs(grpc::ServerContext* context,
                         const v1::RetryJobsRequest* request,
                         v1::RetryJobsResponse* response) override;
  grpc::Status CancelJobs(grpc::ServerContext* context,
                          const v1::CancelJobsRequest* request,
                          v1::CancelJobsResponse* response) override;
  grpc::Status StreamJobs(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::StreamJobsResponse, v1::StreamJobsRequest>*
          stream) override;

 private:
  // The call's deadline, or now + default_deadline when it has none.
  absl::Time Deadline(const grpc::ServerContext& context) const;
  // Puts `jobs` in `response` up to the byte budget and hands back the rest,
  // or all of them when the caller is gone; fails for good a job whose
  // payload no client could be given; returns how many it sent.
  absl::StatusOr<size_t> Respond(grpc::ServerContext& context,
                                 const std::vector<Job>& jobs,
                                 v1::ClaimJobsResponse* response);

  JobStore* const store_;
  const Options options_;
  ClaimWaiter claim_waiter_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_HANDLERS_JOB_QUEUE_SERVICE_H_
