// The JobQueue gRPC service: validates each request, calls the JobStore,
// and maps the result. Holds no state between calls, so any number of
// replicas can serve one database.
//
//   PgJobStore store({.url = url});
//   JobQueueService service(&store, {.max_payload_bytes = 256 * 1024});
//   builder.RegisterService(&service);

#ifndef JOBQUEUE_SERVICE_JOB_QUEUE_SERVICE_H_
#define JOBQUEUE_SERVICE_JOB_QUEUE_SERVICE_H_

#include <cstddef>
#include <string>

#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/bearer_token_check.h"
#include "storage/job_store.h"

namespace jobqueue {

class JobQueueService final : public v1::JobQueue::Service {
 public:
  struct Options {
    // Largest payload, measured as JSON text.
    size_t max_payload_bytes = 256 * 1024;
    // When not empty, every call needs "authorization: Bearer <token>".
    std::string auth_token;
    // Bounds a call that came without a deadline.
    absl::Duration default_deadline = absl::Seconds(30);
  };

  // `store` must outlive the service.
  JobQueueService(JobStore* store, Options options);

  grpc::Status CreateUser(grpc::ServerContext* context,
                          const v1::CreateUserRequest* request,
                          v1::CreateUserResponse* response) override;
  grpc::Status EnqueueJob(grpc::ServerContext* context,
                          const v1::EnqueueJobRequest* request,
                          v1::EnqueueJobResponse* response) override;
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

 private:
  // The call's deadline, or now + default_deadline when it has none.
  absl::Time Deadline(const grpc::ServerContext& context) const;

  JobStore* const store_;
  const Options options_;
  const BearerTokenCheck auth_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_JOB_QUEUE_SERVICE_H_
