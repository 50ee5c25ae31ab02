// Cancel, job results and attempt history end to end: a real gRPC server
// and channel on loopback over a fresh, migrated PostgreSQL database.

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

class CancelResultsTest : public ServerTest {
 protected:
  InProcessServer::Options ServerOptions() override {
    return {.database_url = url(),
            .maintenance_interval = absl::Milliseconds(20),
            .retry_backoff = {.base = absl::Milliseconds(1),
                              .max = absl::Milliseconds(1)}};
  }

  v1::Job Enqueue(const std::string& key) {
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id("whatsapp:+15551234567");
    r.set_source_type(v1::SOURCE_TYPE_DM);
    r.set_idempotency_key(key);
    v1::EnqueueJobResponse response;
    grpc::Status s = stub_->EnqueueJob(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job();
  }

  // The jobs one claim of worker "w" got.
  v1::ClaimJobsResponse Claim(int lease_seconds = 30) {
    v1::ClaimJobsRequest r;
    r.set_worker_id("w");
    r.set_max_jobs(10);
    r.mutable_lease_duration()->set_seconds(lease_seconds);
    v1::ClaimJobsResponse response;
    grpc::Status s = stub_->ClaimJobs(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  v1::Job Get(const std::string& id) {
    v1::GetJobRequest r;
    r.set_id(id);
    v1::Job job;
    grpc::Status s = stub_->GetJob(CallContext().get(), r, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return job;
  }
};

TEST_F(CancelResultsTest, ACancelDuringALeaseRefusesTheLateCompletion) {
  const v1::Job first = Enqueue("SM-first");
  const v1::Job second = Enqueue("SM-second");
  v1::ClaimJobsResponse claimed = Claim();
  ASSERT_EQ(claimed.jobs_size(), 1);
  ASSERT_EQ(claimed.jobs(0).id(), first.id());

  v1::CancelJobRequest cancel;
  cancel.set_idempotency_key("SM-first");
  v1::Job asked;
  grpc::Status s = stub_->CancelJob(CallContext().get(), cancel, &asked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(asked.status(), v1::JOB_STATUS_PROCESSING);
  EXPECT_TRUE(asked.has_cancel_requested_at());
  // The worker may still be running it: its conversation waits.
  EXPECT_EQ(Claim().jobs_size(), 0);

  v1::CompleteJobRequest complete;
  complete.set_job_id(first.id());
  complete.set_lease_token(claimed.jobs(0).lease_token());
  (*complete.mutable_result()->mutable_fields())["reply"].set_string_value(
      "sent");
  v1::Job completed;
  s = stub_->CompleteJob(CallContext().get(), complete, &completed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("was cancelled"), std::string::npos)
      << s.error_message();

  const v1::Job after = Get(first.id());
  EXPECT_EQ(after.status(), v1::JOB_STATUS_CANCELLED);
  EXPECT_FALSE(after.has_result());
  EXPECT_TRUE(after.lease_token().empty());
  claimed = Claim();
  ASSERT_EQ(claimed.jobs_size(), 1);
  EXPECT_EQ(claimed.jobs(0).id(), second.id());

  v1::ListJobsRequest list;
  list.set_status(v1::JOB_STATUS_CANCELLED);
  v1::ListJobsResponse listed;
  s = stub_->ListJobs(CallContext().get(), list, &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(listed.jobs_size(), 1);
  EXPECT_EQ(listed.jobs(0).id(), first.id());
}

TEST_F(CancelResultsTest, GetJobShowsTheResultAndEveryFailedAttempt) {
  const v1::Job job = Enqueue("SM-history");
  // Attempt 1 fails by the worker's word.
  v1::ClaimJobsResponse claimed = Claim();
  ASSERT_EQ(claimed.jobs_size(), 1);
  v1::FailJobRequest fail;
  fail.set_job_id(job.id());
  fail.set_lease_token(claimed.jobs(0).lease_token());
  fail.set_error("rate limited");
  fail.set_retryable(true);
  v1::Job failed;
  grpc::Status s = stub_->FailJob(CallContext().get(), fail, &failed);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Attempt 2 lapses: maintenance rescues it.
  absl::SleepFor(absl::Milliseconds(20));  // past the 1 ms backoff
  claimed = Claim(/*lease_seconds=*/1);
  ASSERT_EQ(claimed.jobs_size(), 1);
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (Get(job.id()).status() != v1::JOB_STATUS_PENDING &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
  }

  // Attempt 3 completes with a result.
  absl::SleepFor(absl::Milliseconds(20));
  claimed = Claim();
  ASSERT_EQ(claimed.jobs_size(), 1);
  v1::CompleteJobRequest complete;
  complete.set_job_id(job.id());
  complete.set_lease_token(claimed.jobs(0).lease_token());
  (*complete.mutable_result()->mutable_fields())["reply"].set_string_value(
      "done");
  v1::Job completed;
  s = stub_->CompleteJob(CallContext().get(), complete, &completed);
  ASSERT_TRUE(s.ok()) << s.error_message();

  const v1::Job after = Get(job.id());
  EXPECT_EQ(after.status(), v1::JOB_STATUS_COMPLETE);
  EXPECT_EQ(after.result().fields().at("reply").string_value(), "done");
  ASSERT_EQ(after.attempt_errors_size(), 2);
  EXPECT_EQ(after.attempt_errors(0).attempt(), 1);
  EXPECT_EQ(after.attempt_errors(0).error(), "rate limited");
  EXPECT_EQ(after.attempt_errors(0).worker_id(), "w");
  EXPECT_EQ(after.attempt_errors(1).attempt(), 2);
  EXPECT_EQ(after.attempt_errors(1).error(), "lease expired (worker w)");
  EXPECT_EQ(after.attempt_errors(1).worker_id(), "w");
  EXPECT_LE(after.attempt_errors(0).failed_at().seconds(),
            after.attempt_errors(1).failed_at().seconds());
}

}  // namespace
}  // namespace jobqueue
