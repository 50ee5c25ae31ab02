// RetryJobs and CancelJobs end to end, as an operator's console uses them:
// a real server over real gRPC and PostgreSQL. Workers fail a burst of
// jobs; a dry run counts them and changes nothing; calls of 100 retry them
// all, each saying whether more are left, and leave another sender's failed
// jobs alone; the workers then get every conversation's jobs in their
// order. A bulk cancel cancels pending jobs at once and the worker holding
// a processing one hears it at its next call.

#include <grpcpp/grpcpp.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/in_process_server.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr char kSender[] = "+15551234567";
constexpr char kOtherSender[] = "+15559876543";

class BulkActionsTest : public PgTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    absl::StatusOr<std::unique_ptr<InProcessServer>> server =
        InProcessServer::Start({.database_url = url()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = server_->NewStub();
  }

  // `per_channel` jobs of `sender` in each of `channels`, enqueued round
  // robin; their ids per channel in enqueue order.
  std::map<std::string, std::vector<std::string>> Enqueue(
      const std::string& sender, const std::vector<std::string>& channels,
      int per_channel) {
    v1::EnqueueJobsRequest r;
    for (int i = 0; i < per_channel; ++i) {
      for (const std::string& channel : channels) {
        v1::EnqueueJobRequest* job = r.add_jobs();
        job->set_user_phone(sender);
        job->set_source_channel_id(channel);
        job->set_source_type(v1::SOURCE_TYPE_DM);
      }
    }
    v1::EnqueueJobsResponse response;
    grpc::Status s = stub_->EnqueueJobs(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, std::vector<std::string>> ids;
    for (const v1::EnqueueJobResult& result : response.results()) {
      ids[result.job().source_channel_id()].push_back(result.job().id());
    }
    return ids;
  }

  std::vector<v1::Job> Claim() {
    v1::ClaimJobsRequest r;
    r.set_worker_id("w");
    r.set_max_jobs(100);
    v1::ClaimJobsResponse response;
    grpc::Status s = stub_->ClaimJobs(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.jobs().begin(), response.jobs().end()};
  }

  // Workers fail every job claims hand out, for good, until none is left.
  void FailEverything() {
    for (int round = 0; round < 200; ++round) {
      const std::vector<v1::Job> jobs = Claim();
      if (jobs.empty()) return;
      for (const v1::Job& job : jobs) {
        v1::FailJobRequest r;
        r.set_job_id(job.id());
        r.set_lease_token(job.lease_token());
        r.set_error("provider returns 503");
        v1::Job failed;
        grpc::Status s = stub_->FailJob(CallContext().get(), r, &failed);
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
    }
    FAIL() << "jobs were still claimable after 200 rounds";
  }

  // Workers complete every job claims hand out until none is left; the ids
  // per channel in claim order.
  std::map<std::string, std::vector<std::string>> RunEverything() {
    std::map<std::string, std::vector<std::string>> handed_out;
    for (int round = 0; round < 200; ++round) {
      const std::vector<v1::Job> jobs = Claim();
      if (jobs.empty()) break;
      for (const v1::Job& job : jobs) {
        handed_out[job.source_channel_id()].push_back(job.id());
        v1::CompleteJobRequest r;
        r.set_job_id(job.id());
        r.set_lease_token(job.lease_token());
        v1::Job done;
        grpc::Status s = stub_->CompleteJob(CallContext().get(), r, &done);
        EXPECT_TRUE(s.ok()) << s.error_message();
      }
    }
    return handed_out;
  }

  int64_t Failed(const std::string& sender) {
    return SqlInt(absl::StrCat(
        "SELECT count(*) FROM jobs WHERE status = 'failed' AND user_id = '",
        sender, "'"));
  }

  std::unique_ptr<InProcessServer> server_;
  std::unique_ptr<v1::JobQueue::Stub> stub_;
};

TEST_F(BulkActionsTest, FailedJobsAreRetriedInBoundedCallsAndRunInOrder) {
  const std::vector<std::string> channels = {"c1", "c2", "c3", "c4", "c5"};
  std::map<std::string, std::vector<std::string>> enqueued =
      Enqueue(kSender, channels, 60);
  Enqueue(kOtherSender, {"c1"}, 5);
  ASSERT_NO_FATAL_FAILURE(FailEverything());
  ASSERT_EQ(Failed(kSender), 300);
  ASSERT_EQ(Failed(kOtherSender), 5);

  // The console's confirmation: a dry run counts and changes nothing.
  v1::RetryJobsRequest retry;
  retry.set_user_id(kSender);
  retry.set_dry_run(true);
  v1::RetryJobsResponse answer;
  grpc::Status s = stub_->RetryJobs(CallContext().get(), retry, &answer);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(answer.retried(), 100);
  EXPECT_TRUE(answer.more());
  EXPECT_EQ(Failed(kSender), 300);

  // Then the action: calls of 100 (the default) while more are left.
  retry.set_dry_run(false);
  std::vector<int> retried;
  for (bool more = true; more && retried.size() < 10;) {
    const absl::Time start = absl::Now();
    s = stub_->RetryJobs(CallContext().get(), retry, &answer);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::cout << "RetryJobs of " << answer.retried() << " jobs took "
              << absl::FormatDuration(absl::Now() - start) << "\n";
    retried.push_back(answer.retried());
    more = answer.more();
  }
  EXPECT_THAT(retried, ElementsAreArray({100, 100, 100}));
  EXPECT_EQ(Failed(kSender), 0);
  EXPECT_EQ(Failed(kOtherSender), 5) << "another sender's jobs were retried";

  // Each conversation's jobs run in their order.
  std::map<std::string, std::vector<std::string>> handed_out = RunEverything();
  for (const auto& [channel, ids] : enqueued) {
    EXPECT_THAT(handed_out[channel], ElementsAreArray(ids)) << channel;
  }
}

TEST_F(BulkActionsTest, ACancelReachesPendingJobsAndTheWorkerOfAProcessingOne) {
  Enqueue(kSender, {"c1", "c2"}, 3);
  const std::vector<v1::Job> leased = Claim();  // the two heads
  ASSERT_EQ(leased.size(), 2u);
  Enqueue(kOtherSender, {"c1"}, 1);

  v1::CancelJobsRequest cancel;
  cancel.set_user_id(kSender);
  cancel.set_source_channel_id("c1");
  v1::CancelJobsResponse answer;
  grpc::Status s = stub_->CancelJobs(CallContext().get(), cancel, &answer);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(answer.cancelled(), 2);
  EXPECT_EQ(answer.cancel_requested(), 1);
  EXPECT_FALSE(answer.more());

  for (const v1::Job& job : leased) {
    v1::CompleteJobRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(job.lease_token());
    v1::Job done;
    s = stub_->CompleteJob(CallContext().get(), r, &done);
    if (job.source_channel_id() == "c1") {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
      EXPECT_THAT(s.error_message(), HasSubstr("cancelled"));
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
  }
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'cancelled'"), 3);
  // What is left runs: c2's other two jobs and the other sender's.
  std::map<std::string, std::vector<std::string>> handed_out = RunEverything();
  EXPECT_EQ(handed_out["c2"].size(), 2u);
  EXPECT_EQ(handed_out["c1"].size(), 1u);
}

}  // namespace
}  // namespace jobqueue
