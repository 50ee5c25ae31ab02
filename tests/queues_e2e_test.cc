// Named queues, unordered jobs and content-type claims end to end: a real
// gRPC server and channel on loopback over a fresh, migrated PostgreSQL
// database.

#include <grpcpp/grpcpp.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

class QueuesTest : public ServerTest {
 protected:
  grpc::Status Enqueue(const std::string& queue, const std::string& channel,
                       bool unordered, v1::Job* job,
                       v1::ContentType type = v1::CONTENT_TYPE_TEXT) {
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id(channel);
    r.set_source_type(v1::SOURCE_TYPE_DM);
    r.set_queue(queue);
    r.set_unordered(unordered);
    r.set_content_type(type);
    v1::EnqueueJobResponse response;
    grpc::Status s = stub_->EnqueueJob(CallContext().get(), r, &response);
    *job = response.job();
    return s;
  }

  v1::Job MustEnqueue(const std::string& queue, const std::string& channel,
                      bool unordered = false) {
    v1::Job job;
    grpc::Status s = Enqueue(queue, channel, unordered, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return job;
  }

  grpc::Status Claim(const std::vector<std::string>& queues,
                     v1::ClaimJobsResponse* response) {
    v1::ClaimJobsRequest r;
    r.set_worker_id("w");
    r.set_max_jobs(10);
    for (const std::string& q : queues) r.add_queues(q);
    return stub_->ClaimJobs(CallContext().get(), r, response);
  }

  std::set<std::string> ClaimedIds(const std::vector<std::string>& queues) {
    v1::ClaimJobsResponse response;
    grpc::Status s = Claim(queues, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::set<std::string> ids;
    for (const v1::Job& job : response.jobs()) ids.insert(job.id());
    return ids;
  }
};

TEST_F(QueuesTest, AWorkerGetsOnlyTheQueuesItNames) {
  const v1::Job reply = MustEnqueue("replies", "whatsapp:+15551234567");
  const v1::Job media = MustEnqueue("media", "whatsapp:+15551234567");
  const v1::Job plain = MustEnqueue("", "whatsapp:+15551234567");
  EXPECT_EQ(reply.queue(), "replies");
  EXPECT_EQ(plain.queue(), "default");
  EXPECT_FALSE(reply.unordered());

  EXPECT_EQ(ClaimedIds({"replies"}), std::set<std::string>{reply.id()});
  // No queues named: the default queue only.
  EXPECT_EQ(ClaimedIds({}), std::set<std::string>{plain.id()});
  // The media job of the same channel is not held up by the reply, which
  // is still processing.
  EXPECT_EQ(ClaimedIds({"media", "replies"}),
            std::set<std::string>{media.id()});
}

TEST_F(QueuesTest, AnUnorderedJobRunsBesideItsConversationsHead) {
  const v1::Job head = MustEnqueue("", "c");
  const v1::Job next = MustEnqueue("", "c");
  const v1::Job reminder = MustEnqueue("", "c", /*unordered=*/true);
  EXPECT_TRUE(reminder.unordered());
  EXPECT_EQ(ClaimedIds({"default"}),
            (std::set<std::string>{head.id(), reminder.id()}));
  v1::GetJobRequest get;
  get.set_id(next.id());
  v1::Job stored;
  ASSERT_TRUE(stub_->GetJob(CallContext().get(), get, &stored).ok());
  EXPECT_EQ(stored.status(), v1::JOB_STATUS_PENDING) << "waits for its head";
}

TEST_F(QueuesTest, AHigherPriorityIsHandedOutFirst) {
  v1::EnqueueJobRequest r;
  r.set_user_phone("+15551234567");
  r.set_source_channel_id("later");
  r.set_source_type(v1::SOURCE_TYPE_DM);
  v1::EnqueueJobResponse low;
  ASSERT_TRUE(stub_->EnqueueJob(CallContext().get(), r, &low).ok());
  r.set_source_channel_id("urgent");
  r.set_priority(9);
  v1::EnqueueJobResponse high;
  ASSERT_TRUE(stub_->EnqueueJob(CallContext().get(), r, &high).ok());
  EXPECT_EQ(high.job().priority(), 9);
  v1::ClaimJobsRequest claim;
  claim.set_worker_id("w");
  v1::ClaimJobsResponse first;
  ASSERT_TRUE(stub_->ClaimJobs(CallContext().get(), claim, &first).ok());
  ASSERT_EQ(first.jobs_size(), 1);
  EXPECT_EQ(first.jobs(0).id(), high.job().id());

  r.set_priority(10);
  grpc::Status s = stub_->EnqueueJob(CallContext().get(), r, &high);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "priority must be between 0 and 9, got 10");
}

TEST_F(QueuesTest, AContentTypeClaimGetsOnlyThoseTypes) {
  auto enqueue = [&](const std::string& channel, v1::ContentType type) {
    v1::Job job;
    grpc::Status s = Enqueue("", channel, false, &job, type);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return job;
  };
  const v1::Job voice = enqueue("c1", v1::CONTENT_TYPE_AUDIO);
  enqueue("c1", v1::CONTENT_TYPE_TEXT);
  enqueue("c2", v1::CONTENT_TYPE_TEXT);
  enqueue("c2", v1::CONTENT_TYPE_AUDIO);  // waits for its text head
  enqueue("c2", v1::CONTENT_TYPE_IMAGE);
  EXPECT_EQ(voice.content_type(), v1::CONTENT_TYPE_AUDIO);

  v1::ClaimJobsRequest r;
  r.set_worker_id("transcriber");
  r.set_max_jobs(10);
  v1::ClaimJobsResponse response;
  for (const auto& [types, error] :
       std::vector<std::pair<std::vector<int>, std::string>>{
           {{v1::CONTENT_TYPE_AUDIO, v1::CONTENT_TYPE_AUDIO},
            "content_types[1] repeats CONTENT_TYPE_AUDIO"},
           {{v1::CONTENT_TYPE_UNSPECIFIED},
            "content_types[0] must not be CONTENT_TYPE_UNSPECIFIED"},
           {{v1::CONTENT_TYPE_IMAGE, 42},
            "content_types[1] has an unknown value 42; use one of "}}) {
    r.clear_content_types();
    for (int type : types)
      r.add_content_types(static_cast<v1::ContentType>(type));
    grpc::Status s = stub_->ClaimJobs(CallContext().get(), r, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message().rfind(error, 0), 0u) << s.error_message();
  }
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'processing'"), 0);

  r.clear_content_types();
  r.add_content_types(v1::CONTENT_TYPE_AUDIO);
  grpc::Status s = stub_->ClaimJobs(CallContext().get(), r, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.jobs_size(), 1);
  EXPECT_EQ(response.jobs(0).id(), voice.id());
  EXPECT_EQ(response.jobs(0).content_type(), v1::CONTENT_TYPE_AUDIO);
}

TEST_F(QueuesTest, BadQueueNamesAreRefusedNamingTheField) {
  v1::Job job;
  grpc::Status s = Enqueue("has space", "c", false, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("queue must be", 0), 0u)
      << s.error_message();
  s = Enqueue(std::string(65, 'q'), "c", false, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::ClaimJobsResponse response;
  s = Claim({"a", "-b"}, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("queues[1] must be", 0), 0u)
      << s.error_message();
  s = Claim({"a", "a"}, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "queues[1] repeats a");
  s = Claim(std::vector<std::string>(17, "a"), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(db_->Rows("jobs"), 0);
}

}  // namespace
}  // namespace jobqueue
