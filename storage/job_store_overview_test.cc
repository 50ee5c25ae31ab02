// Queue statistics and waiting conversations, for every store (see
// job_store_suite.h): counts by queue and status after claims, completions
// and failures; the minutes' claims, completions and failures; a queue's
// pause and rate limit; the conversations with pending jobs, the
// longest-waiting first, each head's reason for not running, the jobs
// behind it, keyset pages and the queue filter.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

Job EnqueueTo(JobStore& store, const std::string& queue,
              const std::string& channel) {
  NewJob job{.user_phone = "+15551234567",
             .source_channel_id = channel,
             .source_type = "dm",
             .payload_json = "{\"text\": \"hi\"}",
             .content_type = "text"};
  job.queue = queue;
  absl::StatusOr<EnqueueResult> r = store.Enqueue(job, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->job : Job();
}

std::vector<Job> ClaimOf(JobStore& store, const std::string& queue,
                         int max_jobs) {
  ClaimRequest request{.worker_id = "w", .queues = {queue}};
  request.max_jobs = max_jobs;
  absl::StatusOr<std::vector<Job>> r = store.ClaimJobs(request, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<Job>();
}

std::vector<QueueStatistics> Stats(JobStore& store, const std::string& queue,
                                   int minutes = 15) {
  absl::StatusOr<std::vector<QueueStatistics>> r =
      store.GetQueueStats(queue, minutes, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<QueueStatistics>();
}

ConversationPage Conversations(
    JobStore& store, const std::string& queue, int limit = 50,
    const std::optional<ConversationCursor>& after = std::nullopt) {
  absl::StatusOr<ConversationPage> r =
      store.ListConversations(queue, after, limit, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ConversationPage();
}

std::vector<std::string> Channels(const ConversationPage& page) {
  std::vector<std::string> channels;
  for (const WaitingConversation& c : page.conversations) {
    channels.push_back(c.source_channel_id);
  }
  return channels;
}

TEST_P(JobStoreSuite, QueueStatsCountEveryStatusAndTheMinutesMoves) {
  EnqueueTo(*store_, "qa", "c1");
  EnqueueTo(*store_, "qa", "c2");
  EnqueueTo(*store_, "qa", "c3");
  EnqueueTo(*store_, "qb", "c1");
  std::vector<Job> claimed = ClaimOf(*store_, "qa", 2);
  ASSERT_THAT(claimed, SizeIs(2));
  ASSERT_TRUE(
      store_->CompleteJob(claimed[0].id, claimed[0].lease_token, Deadline())
          .ok());
  ASSERT_TRUE(store_
                  ->FailJob(claimed[1].id, claimed[1].lease_token, "broken",
                            /*retryable=*/false, Deadline())
                  .ok());

  std::vector<QueueStatistics> all = Stats(*store_, "", 15);
  ASSERT_THAT(all, SizeIs(2));
  const QueueStatistics& qa = all[0];
  EXPECT_EQ(qa.settings.name, "qa");
  EXPECT_EQ(qa.pending, 1);
  EXPECT_EQ(qa.processing, 0);
  EXPECT_EQ(qa.complete, 1);
  EXPECT_EQ(qa.failed, 1);
  EXPECT_EQ(qa.scheduled + qa.cancelled, 0);
  EXPECT_GT(qa.oldest_pending_age, absl::ZeroDuration());
  EXPECT_LT(qa.oldest_pending_age, absl::Minutes(1));
  ASSERT_THAT(qa.minutes, SizeIs(15));
  int64_t claims = 0, completions = 0, failures = 0;
  for (const MinuteCounts& m : qa.minutes) {
    claims += m.claimed;
    completions += m.completed;
    failures += m.failed;
  }
  EXPECT_EQ(claims, 2);
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(qa.minutes[1].start - qa.minutes[0].start, absl::Minutes(1));
  EXPECT_LE(qa.minutes.back().start, absl::Now());
  EXPECT_GT(qa.minutes.back().start, absl::Now() - absl::Minutes(1));
  EXPECT_EQ(all[1].settings.name, "qb");
  EXPECT_EQ(all[1].pending, 1);
}

TEST_P(JobStoreSuite, QueueStatsOfOneQueueShowItsPauseAndRateLimit) {
  EnqueueTo(*store_, "qa", "c1");
  EnqueueTo(*store_, "other", "c1");
  ASSERT_TRUE(store_->PauseQueue("qa", "vendor down", Deadline()).ok());
  ASSERT_TRUE(
      store_->SetQueueRateLimit("qa", RateLimit{2, 3}, Deadline()).ok());
  std::vector<QueueStatistics> one = Stats(*store_, "qa", 1);
  ASSERT_THAT(one, SizeIs(1));
  EXPECT_EQ(one[0].pending, 1);
  EXPECT_NE(one[0].settings.paused_at, absl::InfinitePast());
  EXPECT_EQ(one[0].settings.pause_reason, "vendor down");
  ASSERT_TRUE(one[0].settings.rate_limit.has_value());
  EXPECT_EQ(one[0].settings.rate_limit->burst, 3);
  EXPECT_EQ(one[0].tokens, 3);
  EXPECT_THAT(one[0].minutes, SizeIs(1));

  // A queue with no jobs and no settings answers zeros.
  std::vector<QueueStatistics> none = Stats(*store_, "nothing", 5);
  ASSERT_THAT(none, SizeIs(1));
  EXPECT_EQ(none[0].pending + none[0].complete, 0);
  EXPECT_EQ(none[0].oldest_pending_age, absl::ZeroDuration());
  EXPECT_FALSE(none[0].settings.rate_limit.has_value());
}

TEST_P(JobStoreSuite, ConversationsListTheLongestWaitingFirstWithTheirHeads) {
  const Job first = EnqueueTo(*store_, "q", "c1");
  EnqueueTo(*store_, "q", "c1");
  EnqueueTo(*store_, "q", "c1");
  absl::SleepFor(absl::Milliseconds(5));
  const Job second = EnqueueTo(*store_, "q", "c2");
  EnqueueTo(*store_, "r", "c3");
  // c1's head runs; c2's waits for a worker.
  ASSERT_THAT(Ids(ClaimOf(*store_, "q", 1)), ElementsAre(first.id));

  ConversationPage page = Conversations(*store_, "q");
  ASSERT_THAT(Channels(page), ElementsAre("c1", "c2"));
  const WaitingConversation& c1 = page.conversations[0];
  EXPECT_EQ(c1.queue, "q");
  ASSERT_TRUE(c1.head.has_value());
  EXPECT_EQ(c1.head->id, first.id);
  EXPECT_EQ(c1.wait, HeadWait::kProcessing);
  EXPECT_EQ(c1.head->worker_id, "w");
  EXPECT_GT(c1.head->lease_expires_at, absl::Now());
  EXPECT_EQ(c1.jobs_behind, 2);
  const WaitingConversation& c2 = page.conversations[1];
  EXPECT_EQ(c2.head->id, second.id);
  EXPECT_EQ(c2.wait, HeadWait::kReady);
  EXPECT_EQ(c2.jobs_behind, 0);
  EXPECT_FALSE(page.next.has_value());

  // Every queue, and the other queue alone.
  EXPECT_THAT(Channels(Conversations(*store_, "")),
              ElementsAre("c1", "c2", "c3"));
  EXPECT_THAT(Channels(Conversations(*store_, "r")), ElementsAre("c3"));
  EXPECT_THAT(Conversations(*store_, "none").conversations, IsEmpty());

  // Keyset pages of one.
  ConversationPage p1 = Conversations(*store_, "", 1);
  ASSERT_TRUE(p1.next.has_value());
  ConversationPage p2 = Conversations(*store_, "", 1, p1.next);
  ConversationPage p3 = Conversations(*store_, "", 1, p2.next);
  EXPECT_THAT(Channels(p1), ElementsAre("c1"));
  EXPECT_THAT(Channels(p2), ElementsAre("c2"));
  EXPECT_THAT(Channels(p3), ElementsAre("c3"));
  ASSERT_TRUE(p3.next.has_value());
  EXPECT_THAT(Conversations(*store_, "", 1, p3.next).conversations, IsEmpty());

  // A paused queue holds a due head.
  ASSERT_TRUE(store_->PauseQueue("q", "", Deadline()).ok());
  EXPECT_EQ(Conversations(*store_, "q").conversations[1].wait,
            HeadWait::kQueuePaused);
}

TEST_P(JobStoreSuite, ConversationsSayBackoffSnoozeAndRateLimit) {
  EnqueueTo(*store_, "q", "retry");
  EnqueueTo(*store_, "q", "snooze");
  EnqueueTo(*store_, "q", "spender");
  EnqueueTo(*store_, "q", "limited");
  std::vector<Job> claimed = ClaimOf(*store_, "q", 2);
  ASSERT_THAT(claimed, SizeIs(2));
  // Backoff of an hour (the suite's store).
  ASSERT_TRUE(store_
                  ->FailJob(claimed[0].id, claimed[0].lease_token, "flaky",
                            /*retryable=*/true, Deadline())
                  .ok());
  ASSERT_TRUE(store_
                  ->SnoozeJob(claimed[1].id, claimed[1].lease_token,
                              absl::Hours(1), Deadline())
                  .ok());
  // One token, spent by the next claim (spender's head).
  ASSERT_TRUE(
      store_->SetQueueRateLimit("q", RateLimit{0.001, 1}, Deadline()).ok());
  ASSERT_THAT(ClaimOf(*store_, "q", 1), SizeIs(1));

  std::map<std::string, HeadWait> waits;
  for (const WaitingConversation& c :
       Conversations(*store_, "q").conversations) {
    waits[c.source_channel_id] = c.wait;
  }
  EXPECT_EQ(waits["retry"], HeadWait::kBackoff);
  EXPECT_EQ(waits["snooze"], HeadWait::kNotDue);
  EXPECT_EQ(waits["limited"], HeadWait::kRateLimited);
}

}  // namespace
}  // namespace jobqueue
