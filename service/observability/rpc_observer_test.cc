#include "service/observability/rpc_observer.h"

#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.pb.h"

namespace jobqueue {
namespace {

constexpr char kId[] = "2f6c0d6e-1b2a-4c3d-8e4f-5a6b7c8d9e0f";

TEST(MethodLabelTest, ShortForOwnMethodsQualifiedForOthersUnknownOtherwise) {
  EXPECT_EQ(MethodLabel("/jobqueue.v1.JobQueue/EnqueueJob"), "EnqueueJob");
  EXPECT_EQ(MethodLabel("/jobqueue.v1.JobQueue/ClaimJobs"), "ClaimJobs");
  EXPECT_EQ(MethodLabel("/grpc.health.v1.Health/Check"),
            "grpc.health.v1.Health/Check");
  EXPECT_EQ(MethodLabel("/jobqueue.v1.JobQueue/DropTables"), "unknown");
  EXPECT_EQ(MethodLabel("/evil\nservice/Method"), "unknown");
}

TEST(JobIdOfTest, FindsTheJobInRequestsAndResponses) {
  v1::GetJobRequest get;
  get.set_id(kId);
  EXPECT_EQ(JobIdOf(get), kId);
  v1::CompleteJobRequest complete;
  complete.set_job_id(kId);
  complete.set_lease_token("3f6c0d6e-1b2a-4c3d-8e4f-5a6b7c8d9e0f");
  EXPECT_EQ(JobIdOf(complete), kId);
  v1::EnqueueJobResponse enqueued;
  enqueued.mutable_job()->set_id(kId);
  EXPECT_EQ(JobIdOf(enqueued), kId);
}

TEST(JobIdOfTest, NothingForOtherMessagesOrMalformedIds) {
  v1::DeadLetter letter;
  letter.set_id(kId);  // a dead letter's id, not a job's
  EXPECT_EQ(JobIdOf(letter), "");
  v1::GetJobRequest forged;
  forged.set_id("x code=OK\nfake line");
  EXPECT_EQ(JobIdOf(forged), "");
}

}  // namespace
}  // namespace jobqueue
