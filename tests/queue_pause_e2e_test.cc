// Pausing a queue end to end: two servers over one PostgreSQL database, as
// two replicas, over real gRPC channels. A pause through server A holds the
// queue on server B at once (its other queues are served), enqueues still
// land, and a claim waiting on B gets the queue's jobs soon after
// ResumeQueue through A, then the rest in conversation order.
//
// Waiting claims here look again on their own only once a minute
// (claim_recheck), so only the resume's notification can wake the claim
// before its 30 s wait runs out: the bound of 5 s is generous for a busy
// machine and still fails when the resume notifies no one.

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <thread>
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
using ::testing::IsEmpty;

constexpr absl::Duration kRecheck = absl::Seconds(60);
constexpr absl::Duration kWait = absl::Seconds(30);
constexpr absl::Duration kWokenWithin = absl::Seconds(5);

class QueuePauseTest : public PgTest {
 protected:
  // Server A and server B, each with a stub.
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<std::unique_ptr<InProcessServer>> server =
          InProcessServer::Start(
              {.database_url = url(), .claim_recheck = kRecheck});
      ASSERT_TRUE(server.ok()) << server.status();
      stubs_.push_back((*server)->NewStub());
      servers_.push_back(*std::move(server));
    }
  }

  // The jobs' ids, per conversation, in enqueue order.
  std::map<std::string, std::vector<std::string>> Enqueue(
      v1::JobQueue::Stub& stub, const std::string& queue,
      const std::vector<std::string>& channels) {
    v1::EnqueueJobsRequest r;
    for (const std::string& channel : channels) {
      v1::EnqueueJobRequest* job = r.add_jobs();
      job->set_user_phone("+15551234567");
      job->set_source_channel_id(channel);
      job->set_source_type(v1::SOURCE_TYPE_DM);
      job->set_queue(queue);
    }
    v1::EnqueueJobsResponse response;
    grpc::Status s = stub.EnqueueJobs(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, std::vector<std::string>> ids;
    for (const v1::EnqueueJobResult& result : response.results()) {
      ids[result.job().source_channel_id()].push_back(result.job().id());
    }
    return ids;
  }

  // Claims up to 10 jobs of `queues` through `stub`, waiting up to `wait`.
  static std::vector<v1::Job> Claim(v1::JobQueue::Stub& stub,
                                    const std::vector<std::string>& queues,
                                    absl::Duration wait) {
    v1::ClaimJobsRequest r;
    r.set_worker_id("w");
    r.set_max_jobs(10);
    for (const std::string& queue : queues) r.add_queues(queue);
    r.mutable_wait_timeout()->set_seconds(absl::ToInt64Seconds(wait));
    v1::ClaimJobsResponse response;
    grpc::Status s = stub.ClaimJobs(CallContext(wait + absl::Seconds(10)).get(),
                                    r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.jobs().begin(), response.jobs().end()};
  }

  static void Complete(v1::JobQueue::Stub& stub,
                       const std::vector<v1::Job>& jobs) {
    for (const v1::Job& job : jobs) {
      v1::CompleteJobRequest r;
      r.set_job_id(job.id());
      r.set_lease_token(job.lease_token());
      v1::Job done;
      grpc::Status s = stub.CompleteJob(CallContext().get(), r, &done);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
  }

  std::vector<std::unique_ptr<InProcessServer>> servers_;
  std::vector<std::unique_ptr<v1::JobQueue::Stub>> stubs_;
};

TEST_F(QueuePauseTest, APauseOnOneServerHoldsTheQueueOnTheOther) {
  v1::JobQueue::Stub& a = *stubs_[0];
  v1::JobQueue::Stub& b = *stubs_[1];
  v1::PauseQueueRequest pause;
  pause.set_queue("sms-out");
  pause.set_reason("provider returns 503");
  v1::Queue paused;
  grpc::Status s = a.PauseQueue(CallContext().get(), pause, &paused);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(paused.has_paused_at());

  v1::GetQueueRequest get;
  get.set_name("sms-out");
  v1::Queue seen;
  s = b.GetQueue(CallContext().get(), get, &seen);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(seen.paused_at().seconds(), paused.paused_at().seconds());
  EXPECT_EQ(seen.pause_reason(), "provider returns 503");

  // Enqueues land; the other queue's job is claimed, the paused one's not.
  std::map<std::string, std::vector<std::string>> enqueued =
      Enqueue(a, "sms-out", {"c1", "c2", "c1", "c2", "c1"});
  ASSERT_EQ(enqueued.size(), 2u);
  Enqueue(a, "other", {"c1"});
  const std::vector<v1::Job> first =
      Claim(b, {"sms-out", "other"}, absl::ZeroDuration());
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].queue(), "other");
  Complete(b, first);
  EXPECT_THAT(Claim(b, {"sms-out"}, absl::Seconds(1)), IsEmpty());

  // A claim waiting on B, woken by the resume through A.
  std::vector<v1::Job> woken;
  absl::Time returned;
  std::thread waiting([&] {
    woken = Claim(b, {"sms-out"}, kWait);
    returned = absl::Now();
  });
  absl::SleepFor(absl::Seconds(1));  // the claim is waiting now
  v1::ResumeQueueRequest resume;
  resume.set_queue("sms-out");
  v1::Queue resumed;
  s = a.ResumeQueue(CallContext().get(), resume, &resumed);
  const absl::Time resumed_at = absl::Now();
  waiting.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(resumed.has_paused_at());
  EXPECT_EQ(resumed.pause_reason(), "");
  EXPECT_EQ(woken.size(), 2u) << "each conversation's head";
  EXPECT_LT(returned - resumed_at, kWokenWithin)
      << "the claim returned " << absl::FormatDuration(returned - resumed_at)
      << " after the resume: no notification woke it";

  // Every job, conversation by conversation, in enqueue order.
  std::map<std::string, std::vector<std::string>> handed_out;
  std::vector<v1::Job> batch = woken;
  for (int i = 0; i < 10 && !batch.empty(); ++i) {
    for (const v1::Job& job : batch) {
      handed_out[job.source_channel_id()].push_back(job.id());
    }
    Complete(b, batch);
    batch = Claim(b, {"sms-out"}, absl::ZeroDuration());
  }
  for (const auto& [channel, ids] : enqueued) {
    EXPECT_THAT(handed_out[channel], ElementsAreArray(ids)) << channel;
  }
}

}  // namespace
}  // namespace jobqueue
