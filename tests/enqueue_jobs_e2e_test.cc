// EnqueueJobs end to end: a real gRPC server and channel on loopback over a
// fresh, migrated PostgreSQL database.

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

class EnqueueJobsTest : public ServerTest {
 protected:
  static void Add(v1::EnqueueJobsRequest& request, const std::string& channel,
                  const std::string& key = "") {
    v1::EnqueueJobRequest* job = request.add_jobs();
    job->set_user_phone("+15551234567");
    job->set_source_channel_id(channel);
    job->set_source_type(v1::SOURCE_TYPE_DM);
    job->set_idempotency_key(key);
    (*job->mutable_payload()->mutable_fields())["n"].set_number_value(
        request.jobs_size());
  }

  grpc::Status Call(const v1::EnqueueJobsRequest& request,
                    v1::EnqueueJobsResponse* response) {
    return stub_->EnqueueJobs(CallContext().get(), request, response);
  }

  // Claims every job one at a time, completing each: the ids in the order
  // they were handed out.
  std::vector<std::string> DrainInOrder() {
    std::vector<std::string> ids;
    for (int round = 0; round < 2000; ++round) {
      v1::ClaimJobsRequest claim;
      claim.set_worker_id("w");
      claim.set_max_jobs(1);
      v1::ClaimJobsResponse claimed;
      grpc::Status s = stub_->ClaimJobs(CallContext().get(), claim, &claimed);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok() || claimed.jobs().empty()) break;
      const v1::Job& job = claimed.jobs(0);
      ids.push_back(job.id());
      v1::CompleteJobRequest done;
      done.set_job_id(job.id());
      done.set_lease_token(job.lease_token());
      v1::Job completed;
      EXPECT_TRUE(
          stub_->CompleteJob(CallContext().get(), done, &completed).ok());
    }
    return ids;
  }
};

TEST_F(EnqueueJobsTest, AThousandJobsAnswerInOrderAndRunInBatchOrder) {
  v1::EnqueueJobsRequest request;
  for (int i = 0; i < 1000; ++i) Add(request, "whatsapp:+15551234567");
  v1::EnqueueJobsResponse response;
  grpc::Status s = Call(request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.results_size(), 1000);
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const v1::EnqueueJobResult& r = response.results(i);
    EXPECT_EQ(r.code(), 0) << r.message();
    EXPECT_TRUE(r.created());
    EXPECT_EQ(r.job().payload().fields().at("n").number_value(), i + 1);
    ids.push_back(r.job().id());
  }
  EXPECT_EQ(DrainInOrder(), ids);
}

TEST_F(EnqueueJobsTest, ARepeatedKeyAnswersWithTheSameJob) {
  v1::EnqueueJobsRequest request;
  Add(request, "a", "SM1");
  Add(request, "b", "SM1");
  Add(request, "a", "SM2");
  v1::EnqueueJobsResponse first;
  ASSERT_TRUE(Call(request, &first).ok());
  ASSERT_EQ(first.results_size(), 3);
  EXPECT_TRUE(first.results(0).created());
  EXPECT_FALSE(first.results(1).created());
  EXPECT_EQ(first.results(1).job().id(), first.results(0).job().id());
  EXPECT_EQ(first.results(1).job().source_channel_id(), "a");
  EXPECT_TRUE(first.results(2).created());

  // The same request again (a producer's retry) creates nothing.
  v1::EnqueueJobsResponse again;
  ASSERT_TRUE(Call(request, &again).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(again.results(i).created()) << i;
    EXPECT_EQ(again.results(i).job().id(), first.results(i).job().id()) << i;
  }
  EXPECT_EQ(db_->Rows("jobs"), 2);
}

TEST_F(EnqueueJobsTest, AMalformedJobNamesItselfAndStoresNothing) {
  v1::EnqueueJobsRequest request;
  Add(request, "a");
  Add(request, "b");
  Add(request, "c");
  request.mutable_jobs(2)->set_user_phone("12");
  v1::EnqueueJobsResponse response;
  grpc::Status s = Call(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("jobs[2].user_phone", 0), 0u)
      << s.error_message();

  request.mutable_jobs(2)->set_user_phone("+15551234567");
  (*request.mutable_jobs(1)->mutable_payload()->mutable_fields())["t"]
      .set_string_value(std::string("a\0b", 3));
  s = Call(request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("jobs[1].payload"), std::string::npos)
      << s.error_message();

  v1::EnqueueJobsRequest empty;
  s = Call(empty, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("between 1 and 1000"), std::string::npos)
      << s.error_message();

  v1::EnqueueJobsRequest too_many;
  for (int i = 0; i < 1001; ++i) Add(too_many, "a");
  s = Call(too_many, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(db_->Rows("jobs"), 0);
  EXPECT_EQ(db_->Rows("users"), 0);
}

}  // namespace
}  // namespace jobqueue
