// Scheduled jobs end to end: a real gRPC server (its promoter running as in
// production) and channel on loopback over a fresh, migrated PostgreSQL
// database.

#include <grpcpp/grpcpp.h>

#include <iostream>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/mapping/job_mapping.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

// docs/api.md: pending within --schedule_interval (250 ms) of being due,
// plus one promotion round and the claim's wake-up; the slack is for a
// loaded machine under a sanitizer.
const absl::Duration kLateness = absl::Milliseconds(250) + absl::Seconds(2);

class ScheduledJobsTest : public ServerTest {
 protected:
  v1::EnqueueJobRequest AJob(const std::string& channel) {
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id(channel);
    r.set_source_type(v1::SOURCE_TYPE_DM);
    return r;
  }
  v1::Job MustEnqueue(const v1::EnqueueJobRequest& r) {
    v1::EnqueueJobResponse response;
    grpc::Status s = stub_->EnqueueJob(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job();
  }
  // Claims up to 10 jobs, waiting up to `wait` for one.
  v1::ClaimJobsResponse Claim(absl::Duration wait = absl::ZeroDuration()) {
    v1::ClaimJobsRequest r;
    r.set_worker_id("w");
    r.set_max_jobs(10);
    r.mutable_wait_timeout()->set_seconds(absl::ToInt64Seconds(wait));
    v1::ClaimJobsResponse response;
    grpc::Status s = stub_->ClaimJobs(
        CallContext(wait + absl::Seconds(10)).get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
  void Complete(const v1::Job& job) {
    v1::CompleteJobRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(job.lease_token());
    v1::Job response;
    grpc::Status s = stub_->CompleteJob(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
};

TEST_F(ScheduledJobsTest, AWaitingClaimGetsADelayedJobOnceItIsDue) {
  v1::EnqueueJobRequest r = AJob("whatsapp:+15551234567");
  r.mutable_delay()->set_seconds(1);
  const v1::Job job = MustEnqueue(r);
  ASSERT_EQ(job.status(), v1::JOB_STATUS_SCHEDULED);
  const absl::Time due = FromTimestamp(job.run_after());
  const absl::Time created = FromTimestamp(job.created_at());
  EXPECT_GE(due, created + absl::Seconds(1));
  EXPECT_LT(due, created + absl::Seconds(2));
  const v1::ClaimJobsResponse response = Claim(absl::Seconds(20));
  const absl::Time returned = absl::Now();
  ASSERT_EQ(response.jobs_size(), 1);
  EXPECT_EQ(response.jobs(0).id(), job.id());
  EXPECT_GE(returned, due) << "handed out before it was due";
  EXPECT_LE(returned - due, kLateness);
  std::cout << "claimed " << absl::FormatDuration(returned - due)
            << " after it was due\n";
}

TEST_F(ScheduledJobsTest, ABatchReminderHoldsUpNoReplyAndCanRunNow) {
  const std::string channel = "whatsapp:+15557654321";
  v1::EnqueueJobsRequest batch;
  *batch.add_jobs() = AJob(channel);
  *batch.add_jobs() = AJob(channel);
  *batch.add_jobs() = AJob(channel);
  ToTimestamp(absl::Now() + absl::Hours(24),
              batch.mutable_jobs(1)->mutable_run_at());
  v1::EnqueueJobsResponse enqueued;
  grpc::Status s = stub_->EnqueueJobs(CallContext().get(), batch, &enqueued);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(enqueued.results_size(), 3);
  const v1::Job reminder = enqueued.results(1).job();
  EXPECT_EQ(reminder.status(), v1::JOB_STATUS_SCHEDULED);

  v1::ListJobsRequest list;
  list.set_status(v1::JOB_STATUS_SCHEDULED);
  v1::ListJobsResponse listed;
  s = stub_->ListJobs(CallContext().get(), list, &listed);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(listed.jobs_size(), 1);
  EXPECT_EQ(listed.jobs(0).id(), reminder.id());

  // Today's replies run one after the other; tomorrow's reminder waits
  // outside the line.
  v1::ClaimJobsResponse claimed = Claim();
  ASSERT_EQ(claimed.jobs_size(), 1);
  EXPECT_EQ(claimed.jobs(0).id(), enqueued.results(0).job().id());
  Complete(claimed.jobs(0));
  claimed = Claim();
  ASSERT_EQ(claimed.jobs_size(), 1);
  EXPECT_EQ(claimed.jobs(0).id(), enqueued.results(2).job().id());

  // It cannot be claimed by hand; "run it now" puts it at the end.
  v1::UpdateStatusRequest update;
  update.set_id(reminder.id());
  update.set_status(v1::JOB_STATUS_PROCESSING);
  v1::Job updated;
  s = stub_->UpdateStatus(CallContext().get(), update, &updated);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  update.set_status(v1::JOB_STATUS_PENDING);
  s = stub_->UpdateStatus(CallContext().get(), update, &updated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(updated.status(), v1::JOB_STATUS_PENDING);
  EXPECT_TRUE(Claim().jobs().empty()) << "behind the reply still running";
  Complete(claimed.jobs(0));
  claimed = Claim();
  ASSERT_EQ(claimed.jobs_size(), 1);
  EXPECT_EQ(claimed.jobs(0).id(), reminder.id());
}

}  // namespace
}  // namespace jobqueue
