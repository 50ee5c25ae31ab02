// Run-time limits end to end, over a real gRPC server on loopback and a
// fresh PostgreSQL database: a worker that keeps heartbeating a job past
// its max_run_time is told to stop, the attempt fails by the job's policy,
// and its conversation moves on.

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

using ::testing::HasSubstr;

class RunTimeLimitTest : public ServerTest {
 protected:
  InProcessServer::Options ServerOptions() override {
    return {.database_url = url(),
            .maintenance_interval = absl::Milliseconds(100)};
  }

  v1::Job MustEnqueue(const std::string& channel, int64_t max_run_seconds) {
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id(channel);
    r.set_source_type(v1::SOURCE_TYPE_DM);
    r.set_max_attempts(1);
    if (max_run_seconds > 0) {
      r.mutable_max_run_time()->set_seconds(max_run_seconds);
    }
    v1::EnqueueJobResponse response;
    grpc::Status s = stub_->EnqueueJob(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job();
  }

  v1::ClaimJobsResponse Claim(absl::Duration wait) {
    v1::ClaimJobsRequest r;
    r.set_worker_id("w");
    r.mutable_lease_duration()->set_seconds(30);
    r.mutable_wait_timeout()->set_seconds(absl::ToInt64Seconds(wait));
    auto context = CallContext(wait + absl::Seconds(30));
    v1::ClaimJobsResponse response;
    grpc::Status s = stub_->ClaimJobs(context.get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
};

TEST_F(RunTimeLimitTest,
       AWorkerStillHeartbeatingIsStoppedAndTheConversationMovesOn) {
  const v1::Job slow = MustEnqueue("whatsapp:+15550000009", 1);
  const v1::Job next = MustEnqueue("whatsapp:+15550000009", 0);
  EXPECT_EQ(slow.max_run_time().seconds(), 1);
  const v1::ClaimJobsResponse first = Claim(absl::ZeroDuration());
  ASSERT_EQ(first.jobs_size(), 1);
  const v1::Job& leased = first.jobs(0);
  ASSERT_EQ(leased.id(), slow.id());
  ASSERT_TRUE(leased.has_run_deadline());
  const absl::Time run_deadline =
      absl::FromUnixSeconds(leased.run_deadline().seconds()) +
      absl::Nanoseconds(leased.run_deadline().nanos());
  EXPECT_EQ(leased.lease_expires_at().seconds(),
            leased.run_deadline().seconds())
      << "a 30 s lease ends at the 1 s limit";

  // The worker heartbeats every 200 ms, asking for 30 s each time.
  grpc::Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i) {
    v1::ExtendLeaseRequest extend;
    extend.set_job_id(slow.id());
    extend.set_lease_token(leased.lease_token());
    extend.mutable_lease_duration()->set_seconds(30);
    v1::Job extended;
    refused = stub_->ExtendLease(CallContext().get(), extend, &extended);
    if (refused.ok()) {
      EXPECT_LE(extended.lease_expires_at().seconds(),
                leased.run_deadline().seconds());
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("run-time limit"));
  EXPECT_GE(absl::Now(), run_deadline);

  // Out of attempts: it fails for good, and the next job of its
  // conversation is handed out.
  const v1::ClaimJobsResponse after = Claim(absl::Seconds(20));
  ASSERT_EQ(after.jobs_size(), 1);
  EXPECT_EQ(after.jobs(0).id(), next.id());
  EXPECT_FALSE(after.jobs(0).has_run_deadline()) << "no limit of its own";
  v1::GetJobRequest get;
  get.set_id(slow.id());
  v1::Job failed;
  ASSERT_TRUE(stub_->GetJob(CallContext().get(), get, &failed).ok());
  EXPECT_EQ(failed.status(), v1::JOB_STATUS_FAILED);
  EXPECT_THAT(failed.last_error(), HasSubstr("run-time limit reached"));
  ASSERT_EQ(failed.attempt_errors_size(), 1);
  EXPECT_THAT(failed.attempt_errors(0).error(), HasSubstr("run-time limit"));
}

}  // namespace
}  // namespace jobqueue
