// No lease without a worker that can take it: a claim whose caller left, a
// claim larger than the client can receive, and ids written in capitals.
// Real gRPC channels and PostgreSQL.

#include <google/protobuf/util/time_util.h>

#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/client_calls.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  *out = google::protobuf::util::TimeUtil::NanosecondsToDuration(
      absl::ToInt64Nanoseconds(d));
}

class LeaseEdgesTest : public ServerTest {
 protected:
  std::string Enqueue(const std::string& channel, size_t body_bytes = 2) {
    v1::EnqueueJobResponse response;
    grpc::Status s = stub_->EnqueueJob(
        CallContext().get(),
        EnqueueRequest(channel, std::string(body_bytes, 'x')), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job().id();
  }
};

TEST_F(LeaseEdgesTest, AClaimWhoseCallerLeftLeasesNothing) {
  v1::ClaimJobsRequest claim;
  claim.set_worker_id("gone");
  SetDuration(absl::Seconds(20), claim.mutable_wait_timeout());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(25)));
  v1::ClaimJobsResponse response;
  std::thread waiting([&] { stub_->ClaimJobs(&context, claim, &response); });
  absl::SleepFor(absl::Milliseconds(500));
  context.TryCancel();
  waiting.join();
  absl::SleepFor(absl::Milliseconds(300));

  const std::string id = Enqueue("c");
  absl::SleepFor(absl::Milliseconds(500));  // the abandoned wait wakes up
  EXPECT_EQ(SqlInt(absl::StrCat("SELECT count(*) FROM jobs WHERE id = '", id,
                                "' AND status = 'pending' AND attempts = 0")),
            1)
      << "the job was leased to a caller that had left";
}

TEST_F(LeaseEdgesTest, AClaimFillsItsResponseOnlyUpToWhatTheClientReceives) {
  constexpr int kJobs = 20;
  for (int i = 0; i < kJobs; ++i) {
    Enqueue(absl::StrCat("c", i), 250 * 1024);
  }
  v1::ClaimJobsRequest claim;
  claim.set_worker_id("w");
  claim.set_max_jobs(kJobs);
  v1::ClaimJobsResponse response;
  grpc::Status s =
      stub_->ClaimJobs(CallContext(absl::Seconds(20)).get(), claim, &response);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_GT(response.jobs_size(), 0);
  EXPECT_LT(response.jobs_size(), kJobs);
  EXPECT_LE(response.ByteSizeLong(), 4u * 1024 * 1024);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'processing'"),
            response.jobs_size());
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'pending'"
                   " AND attempts = 0"),
            kJobs - response.jobs_size());
}

TEST_F(LeaseEdgesTest, IdsInCapitalsAreTheSameIds) {
  Enqueue("a");
  Enqueue("b");
  v1::ClaimJobsRequest claim;
  claim.set_worker_id("w");
  claim.set_max_jobs(2);
  v1::ClaimJobsResponse claimed;
  ASSERT_TRUE(stub_->ClaimJobs(CallContext().get(), claim, &claimed).ok());
  ASSERT_EQ(claimed.jobs_size(), 2);
  v1::CompleteJobsRequest complete;
  for (const v1::Job& job : claimed.jobs()) {
    v1::CompleteJobRequest* entry = complete.add_jobs();
    entry->set_job_id(absl::AsciiStrToUpper(job.id()));
    entry->set_lease_token(absl::AsciiStrToUpper(job.lease_token()));
  }
  v1::CompleteJobsResponse results;
  ASSERT_TRUE(
      stub_->CompleteJobs(CallContext().get(), complete, &results).ok());
  for (const v1::CompleteJobResult& result : results.results()) {
    EXPECT_EQ(result.code(), 0) << result.message();
    EXPECT_EQ(result.job_id(), absl::AsciiStrToLower(result.job_id()));
  }
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'complete'"), 2);

  v1::GetJobRequest get;
  get.set_id(absl::AsciiStrToUpper(claimed.jobs(0).id()));
  v1::Job job;
  ASSERT_TRUE(stub_->GetJob(CallContext().get(), get, &job).ok());
  EXPECT_EQ(job.id(), claimed.jobs(0).id());
}

// A lease that has run out is refused by every call that presents it, even
// while no maintenance has returned the job to pending: past its expiry,
// another worker may already hold the job.
TEST_F(LeaseEdgesTest, AnExpiredLeaseIsRefusedBeforeItIsRescued) {
  Enqueue("c");
  v1::ClaimJobsRequest claim;
  claim.set_worker_id("slow");
  v1::ClaimJobsResponse claimed;
  ASSERT_TRUE(stub_->ClaimJobs(CallContext().get(), claim, &claimed).ok());
  ASSERT_EQ(claimed.jobs_size(), 1);
  const v1::Job& job = claimed.jobs(0);
  SqlInt(
      "UPDATE jobs SET lease_expires_at = now() - interval '1 second'"
      " RETURNING 1");

  auto expect_refused = [&](const grpc::Status& s, const char* call) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << call << ": " << s.error_message();
    EXPECT_NE(s.error_message().find("expired"), std::string::npos)
        << call << ": " << s.error_message();
  };
  v1::Job out;
  v1::ExtendLeaseRequest extend;
  extend.set_job_id(job.id());
  extend.set_lease_token(job.lease_token());
  expect_refused(stub_->ExtendLease(CallContext().get(), extend, &out),
                 "ExtendLease");
  v1::CompleteJobRequest complete;
  complete.set_job_id(job.id());
  complete.set_lease_token(job.lease_token());
  expect_refused(stub_->CompleteJob(CallContext().get(), complete, &out),
                 "CompleteJob");
  v1::FailJobRequest fail;
  fail.set_job_id(job.id());
  fail.set_lease_token(job.lease_token());
  fail.set_error("too late");
  expect_refused(stub_->FailJob(CallContext().get(), fail, &out), "FailJob");
  v1::CompleteJobsRequest batch;
  *batch.add_jobs() = complete;
  v1::CompleteJobsResponse results;
  ASSERT_TRUE(stub_->CompleteJobs(CallContext().get(), batch, &results).ok());
  ASSERT_EQ(results.results_size(), 1);
  EXPECT_EQ(results.results(0).code(), grpc::StatusCode::FAILED_PRECONDITION)
      << results.results(0).message();
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'processing'"
                   " AND last_error IS NULL"),
            1)
      << "a call on an expired lease changed the job";
}

}  // namespace
}  // namespace jobqueue
