// GetQueueStats and ListConversations end to end: two servers over one
// PostgreSQL database (A runs maintenance, which folds the counters'
// deltas; B does not), over real gRPC channels. Work done through either,
// and an operator's plain SQL, shows in B's statistics as a count of the
// jobs says, with the claims, completions and failures in the current
// minutes; B lists the waiting conversations, the longest-waiting first,
// with each head's reason and the jobs behind it, one page at a time.

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/in_process_server.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;

class QueueStatsE2eTest : public PgTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    for (absl::Duration maintenance :
         {absl::Milliseconds(100), absl::ZeroDuration()}) {
      absl::StatusOr<std::unique_ptr<InProcessServer>> server =
          InProcessServer::Start(
              {.database_url = url(), .maintenance_interval = maintenance});
      ASSERT_TRUE(server.ok()) << server.status();
      stubs_.push_back((*server)->NewStub());
      servers_.push_back(*std::move(server));
    }
  }

  void Enqueue(v1::JobQueue::Stub& stub, const std::string& channel, int n) {
    v1::EnqueueJobsRequest r;
    for (int i = 0; i < n; ++i) {
      v1::EnqueueJobRequest* job = r.add_jobs();
      job->set_user_phone("+15551234567");
      job->set_source_channel_id(channel);
      job->set_source_type(v1::SOURCE_TYPE_DM);
      job->set_queue("e2e");
    }
    v1::EnqueueJobsResponse response;
    grpc::Status s = stub.EnqueueJobs(CallContext().get(), r, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  std::vector<v1::Job> Claim(v1::JobQueue::Stub& stub, int n) {
    v1::ClaimJobsRequest r;
    r.set_worker_id("worker-7");
    r.add_queues("e2e");
    r.set_max_jobs(n);
    r.mutable_lease_duration()->set_seconds(60);
    v1::ClaimJobsResponse response;
    grpc::Status s = stub.ClaimJobs(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.jobs().begin(), response.jobs().end()};
  }

  v1::QueueStats Stats(v1::JobQueue::Stub& stub) {
    v1::GetQueueStatsRequest r;
    r.set_queue("e2e");
    v1::GetQueueStatsResponse response;
    grpc::Status s = stub.GetQueueStats(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.queues_size(), 1);
    return response.queues_size() == 1 ? response.queues(0) : v1::QueueStats();
  }

  std::vector<std::unique_ptr<InProcessServer>> servers_;
  std::vector<std::unique_ptr<v1::JobQueue::Stub>> stubs_;
};

TEST_F(QueueStatsE2eTest, StatsCountWhatEveryReplicaAndPlainSqlDid) {
  v1::JobQueue::Stub& a = *stubs_[0];
  v1::JobQueue::Stub& b = *stubs_[1];
  Enqueue(a, "c1", 4);
  Enqueue(b, "c2", 3);
  Enqueue(a, "c3", 1);
  // Three heads claimed through B: c1's completed, c2's failed for good,
  // c3's left running.
  std::map<std::string, v1::Job> heads;
  for (const v1::Job& job : Claim(b, 3)) heads[job.source_channel_id()] = job;
  ASSERT_EQ(heads.size(), 3u);
  v1::CompleteJobRequest complete;
  complete.set_job_id(heads["c1"].id());
  complete.set_lease_token(heads["c1"].lease_token());
  v1::Job out;
  ASSERT_TRUE(a.CompleteJob(CallContext().get(), complete, &out).ok());
  v1::FailJobRequest fail;
  fail.set_job_id(heads["c2"].id());
  fail.set_lease_token(heads["c2"].lease_token());
  fail.set_error("bad number");
  fail.set_retryable(false);
  ASSERT_TRUE(a.FailJob(CallContext().get(), fail, &out).ok());
  // An operator's SQL: two jobs inserted, one cancelled by hand.
  Sql("INSERT INTO jobs (source_channel_id, source_type, user_phone, payload,"
      " queue) VALUES ('sql', 'dm', '+15551234567', '{}', 'e2e'),"
      " ('sql', 'dm', '+15551234567', '{}', 'e2e')");
  Sql("UPDATE jobs SET status = 'cancelled' WHERE id = (SELECT id FROM jobs"
      " WHERE source_channel_id = 'sql' ORDER BY position DESC LIMIT 1)");

  // B folds nothing; A may have folded some: the sum is the same.
  const v1::QueueStats stats = Stats(b);
  auto truth = [&](const std::string& status) {
    return SqlInt(
        "SELECT count(*) FROM jobs WHERE queue = 'e2e' AND status = '" +
        status + "'");
  };
  EXPECT_EQ(stats.queue(), "e2e");
  EXPECT_EQ(stats.pending(), truth("pending"));
  EXPECT_EQ(stats.pending(), 3 + 2 + 1);
  EXPECT_EQ(stats.processing(), 1);
  EXPECT_EQ(stats.complete(), 1);
  EXPECT_EQ(stats.failed(), 1);
  EXPECT_EQ(stats.cancelled(), 1);
  EXPECT_GT(stats.oldest_pending_age().seconds() * 1000000000LL +
                stats.oldest_pending_age().nanos(),
            0);
  ASSERT_EQ(stats.minutes_size(), 15);
  int64_t claimed = 0, completed = 0, failed = 0;
  for (const v1::QueueMinute& m : stats.minutes()) {
    claimed += m.claimed();
    completed += m.completed();
    failed += m.failed();
  }
  EXPECT_EQ(claimed, 3);
  EXPECT_EQ(completed, 1);
  EXPECT_EQ(failed, 1);
  EXPECT_FALSE(stats.paused());

  // Once A's maintenance folded everything, the same answer.
  for (int i = 0; i < 100 && SqlInt("SELECT count(*) FROM queue_count_deltas");
       ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(SqlInt("SELECT count(*) FROM queue_count_deltas"), 0);
  const v1::QueueStats folded = Stats(b);
  EXPECT_EQ(folded.pending(), stats.pending());
  EXPECT_EQ(folded.complete(), 1);
  EXPECT_EQ(folded.minutes(14).claimed() + folded.minutes(13).claimed(), 3);
}

TEST_F(QueueStatsE2eTest, ConversationsShowBlockedHeadsOnePageAtATime) {
  v1::JobQueue::Stub& a = *stubs_[0];
  v1::JobQueue::Stub& b = *stubs_[1];
  Enqueue(a, "c1", 3);
  Enqueue(a, "c2", 1);
  Enqueue(a, "c3", 2);
  std::vector<v1::Job> claimed = Claim(a, 1);
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_EQ(claimed[0].source_channel_id(), "c1");

  v1::ListConversationsRequest r;
  r.set_queue("e2e");
  r.set_page_size(2);
  std::vector<v1::Conversation> seen;
  for (int page = 0; page < 5; ++page) {
    v1::ListConversationsResponse response;
    grpc::Status s = b.ListConversations(CallContext().get(), r, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    seen.insert(seen.end(), response.conversations().begin(),
                response.conversations().end());
    if (response.next_page_token().empty()) break;
    r.set_page_token(response.next_page_token());
  }
  std::vector<std::string> channels;
  for (const v1::Conversation& c : seen) {
    channels.push_back(c.source_channel_id());
  }
  EXPECT_THAT(channels, ElementsAre("c1", "c2", "c3"));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].head().id(), claimed[0].id());
  EXPECT_EQ(seen[0].head_wait(), v1::HEAD_WAIT_PROCESSING);
  EXPECT_EQ(seen[0].head().worker_id(), "worker-7");
  EXPECT_TRUE(seen[0].head().has_lease_expires_at());
  EXPECT_EQ(seen[0].jobs_behind(), 2);
  EXPECT_EQ(seen[1].head_wait(), v1::HEAD_WAIT_READY);
  EXPECT_EQ(seen[1].jobs_behind(), 0);
  EXPECT_EQ(seen[2].jobs_behind(), 1);

  v1::PauseQueueRequest pause;
  pause.set_queue("e2e");
  v1::Queue queue;
  ASSERT_TRUE(a.PauseQueue(CallContext().get(), pause, &queue).ok());
  r.clear_page_token();
  r.set_page_size(10);
  v1::ListConversationsResponse paused;
  ASSERT_TRUE(b.ListConversations(CallContext().get(), r, &paused).ok());
  ASSERT_EQ(paused.conversations_size(), 3);
  EXPECT_EQ(paused.conversations(0).head_wait(), v1::HEAD_WAIT_PROCESSING);
  EXPECT_EQ(paused.conversations(1).head_wait(), v1::HEAD_WAIT_QUEUE_PAUSED);
  EXPECT_TRUE(Stats(b).paused());
}

}  // namespace
}  // namespace jobqueue
