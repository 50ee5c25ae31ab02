// SnoozeJob end to end, over a real gRPC server on loopback and a fresh
// PostgreSQL database: a worker told "wait" by a downstream service hands
// its conversation's head back for a while without spending an attempt;
// the conversation waits with it, and a waiting claim gets it once due.

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

class SnoozeTest : public ServerTest {
 protected:
  v1::Job MustEnqueue(const std::string& channel, int max_attempts) {
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id(channel);
    r.set_source_type(v1::SOURCE_TYPE_DM);
    r.set_max_attempts(max_attempts);
    v1::EnqueueJobResponse response;
    grpc::Status s = stub_->EnqueueJob(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job();
  }

  // Claims up to 10 jobs, waiting up to `wait` for some.
  v1::ClaimJobsResponse Claim(absl::Duration wait) {
    v1::ClaimJobsRequest r;
    r.set_worker_id("w");
    r.set_max_jobs(10);
    r.mutable_wait_timeout()->set_seconds(absl::ToInt64Seconds(wait));
    auto context = CallContext();
    context->set_deadline(
        absl::ToChronoTime(absl::Now() + wait + absl::Seconds(30)));
    v1::ClaimJobsResponse response;
    grpc::Status s = stub_->ClaimJobs(context.get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
};

TEST_F(SnoozeTest, ASnoozedHeadRunsAgainWhenDueAndItsConversationWaits) {
  // One attempt only: a snooze that spent it would fail the job for good.
  const v1::Job head = MustEnqueue("whatsapp:+15550000001", 1);
  const v1::Job next = MustEnqueue("whatsapp:+15550000001", 1);
  v1::ClaimJobsResponse first = Claim(absl::ZeroDuration());
  ASSERT_EQ(first.jobs_size(), 1);
  ASSERT_EQ(first.jobs(0).id(), head.id());

  v1::SnoozeJobRequest snooze;
  snooze.set_job_id(head.id());
  snooze.set_lease_token(first.jobs(0).lease_token());
  snooze.mutable_delay()->set_seconds(2);
  v1::Job snoozed;
  grpc::Status s = stub_->SnoozeJob(CallContext().get(), snooze, &snoozed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(snoozed.status(), v1::JOB_STATUS_PENDING);
  EXPECT_EQ(snoozed.attempts(), 0);
  EXPECT_TRUE(snoozed.lease_token().empty());
  const absl::Time due = absl::FromUnixSeconds(snoozed.run_after().seconds()) +
                         absl::Nanoseconds(snoozed.run_after().nanos());

  // The same token again: the lease is over.
  v1::Job again;
  EXPECT_EQ(stub_->SnoozeJob(CallContext().get(), snooze, &again).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  EXPECT_EQ(Claim(absl::ZeroDuration()).jobs_size(), 0)
      << "the conversation waits for its snoozed head";
  const v1::ClaimJobsResponse woken = Claim(absl::Seconds(30));
  ASSERT_EQ(woken.jobs_size(), 1);
  EXPECT_EQ(woken.jobs(0).id(), head.id()) << "not " << next.id();
  EXPECT_GE(absl::Now(), due) << "handed out while snoozed";
  EXPECT_EQ(woken.jobs(0).attempts(), 1);

  v1::CompleteJobRequest complete;
  complete.set_job_id(head.id());
  complete.set_lease_token(woken.jobs(0).lease_token());
  v1::Job done;
  ASSERT_TRUE(stub_->CompleteJob(CallContext().get(), complete, &done).ok());
  const v1::ClaimJobsResponse last = Claim(absl::ZeroDuration());
  ASSERT_EQ(last.jobs_size(), 1);
  EXPECT_EQ(last.jobs(0).id(), next.id());
}

}  // namespace
}  // namespace jobqueue
