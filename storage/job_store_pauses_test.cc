// Paused queues, for every store (see job_store_suite.h): the claims of each
// of the three statements skip a paused queue and serve the others;
// enqueues into it land; resuming hands its jobs out in conversation
// order; pausing is idempotent; a job processing when its queue is paused
// finishes as usual; a queue with no jobs or settings can be paused; a
// paused rate-limited queue sends claims to no token wait.

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

enum class Mode { kInOrder, kByKind, kAnyOrder };

// Claims up to 10 jobs of `queues` through the statement `mode` names.
std::vector<Job> ClaimFrom(JobStore& store, std::vector<std::string> queues,
                           Mode mode = Mode::kInOrder) {
  ClaimRequest request{.worker_id = "w", .queues = std::move(queues)};
  request.max_jobs = 10;
  if (mode == Mode::kByKind) request.content_types = {"text"};
  request.ignore_conversation_order = mode == Mode::kAnyOrder;
  absl::StatusOr<std::vector<Job>> r = store.ClaimJobs(request, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<Job>();
}

Job EnqueueIn(JobStore& store, const std::string& queue, NewJob job) {
  job.queue = queue;
  absl::StatusOr<EnqueueResult> r = store.Enqueue(job, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->job : Job();
}

QueueSettings Pause(JobStore& store, const std::string& queue,
                    const std::string& reason = "") {
  absl::StatusOr<QueueSettings> r = store.PauseQueue(queue, reason, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : QueueSettings();
}

QueueSettings Resume(JobStore& store, const std::string& queue) {
  absl::StatusOr<QueueSettings> r = store.ResumeQueue(queue, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : QueueSettings();
}

bool Paused(const QueueSettings& q) {
  return q.paused_at != absl::InfinitePast();
}

TEST_P(JobStoreSuite, APausedQueueIsSkippedWhileTheOthersAreClaimed) {
  for (Mode mode : {Mode::kInOrder, Mode::kByKind, Mode::kAnyOrder}) {
    SCOPED_TRACE(static_cast<int>(mode));
    const std::string held = absl::StrCat("held", static_cast<int>(mode));
    const std::string open = absl::StrCat("open", static_cast<int>(mode));
    EnqueueIn(*store_, held, AJob("c1"));
    EnqueueIn(*store_, held, AJob("c2"));
    const Job other = EnqueueIn(*store_, open, AJob("c1"));
    Pause(*store_, held);
    std::vector<Job> claimed = ClaimFrom(*store_, {held, open}, mode);
    EXPECT_THAT(Ids(claimed), ElementsAre(other.id));
    EXPECT_THAT(ClaimFrom(*store_, {held}, mode), IsEmpty());
    Resume(*store_, held);
    EXPECT_EQ(ClaimFrom(*store_, {held}, mode).size(), 2u);
  }
}

TEST_P(JobStoreSuite, AClaimNamingNoQueuePausesWithTheDefaultQueue) {
  Enqueue("c1");
  EnqueueIn(*store_, "elsewhere", AJob("c1"));
  Pause(*store_, "default", "provider down");
  EXPECT_THAT(Claim(10), IsEmpty()) << "no queue named means \"default\"";
  EXPECT_EQ(ClaimFrom(*store_, {"elsewhere"}).size(), 1u);
  Resume(*store_, "default");
  EXPECT_EQ(Claim(10).size(), 1u);
}

TEST_P(JobStoreSuite, EnqueuesIntoAPausedQueueLand) {
  Pause(*store_, "default");
  const Job job = Enqueue("c1");
  ASSERT_FALSE(job.id.empty());
  EXPECT_EQ(Get(job.id).status, JobStatus::kPending);
  NewJob batch = AJob("c2");
  absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>> r =
      store_->EnqueueJobs({batch, batch}, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  for (const absl::StatusOr<EnqueueResult>& one : *r) {
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_EQ(Get(one->job.id).status, JobStatus::kPending);
  }
  EXPECT_THAT(Claim(10), IsEmpty());
}

TEST_P(JobStoreSuite, AResumedQueueHandsOutItsJobsInConversationOrder) {
  // Each conversation's jobs: some enqueued before the pause (one of them
  // processing across it), the rest while paused.
  std::map<std::string, std::vector<std::string>> enqueued;
  for (const std::string channel : {"c1", "c2", "c3"}) {
    for (int i = 0; i < 2; ++i)
      enqueued[channel].push_back(Enqueue(channel).id);
  }
  const Job first = ClaimOne();
  ASSERT_FALSE(first.id.empty());
  Pause(*store_, "default");
  for (int i = 0; i < 3; ++i) {
    for (const std::string channel : {"c3", "c1", "c2"}) {
      enqueued[channel].push_back(Enqueue(channel).id);
    }
  }
  EXPECT_THAT(Claim(10), IsEmpty());
  ASSERT_TRUE(
      store_->CompleteJob(first.id, first.lease_token, Deadline()).ok());
  EXPECT_THAT(Claim(10), IsEmpty()) << "its successor waits for the resume";
  Resume(*store_, "default");
  std::map<std::string, std::vector<std::string>> handed_out =
      RunAllByConversation(20);
  handed_out[first.source_channel_id].insert(
      handed_out[first.source_channel_id].begin(), first.id);
  for (const auto& [channel, ids] : enqueued) {
    EXPECT_THAT(handed_out[channel], ElementsAreArray(ids)) << channel;
  }
}

TEST_P(JobStoreSuite, PausingAPausedQueueKeepsItsFirstPause) {
  const absl::Time before = absl::Now() - absl::Milliseconds(1);
  const QueueSettings first = Pause(*store_, "sms-out", "provider down");
  const absl::Time after = absl::Now() + absl::Milliseconds(1);
  EXPECT_EQ(first.name, "sms-out");
  EXPECT_GE(first.paused_at, before);
  EXPECT_LE(first.paused_at, after);
  EXPECT_EQ(first.pause_reason, "provider down");

  const QueueSettings again = Pause(*store_, "sms-out");
  EXPECT_EQ(again.paused_at, first.paused_at);
  EXPECT_EQ(again.pause_reason, "provider down") << "no new reason given";
  const QueueSettings reworded = Pause(*store_, "sms-out", "still down");
  EXPECT_EQ(reworded.paused_at, first.paused_at);
  EXPECT_EQ(reworded.pause_reason, "still down");
  absl::StatusOr<QueueSettings> got = store_->GetQueue("sms-out", Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->paused_at, first.paused_at);
  EXPECT_EQ(got->pause_reason, "still down");

  for (int i = 0; i < 2; ++i) {
    const QueueSettings resumed = Resume(*store_, "sms-out");
    EXPECT_FALSE(Paused(resumed));
    EXPECT_EQ(resumed.pause_reason, "");
  }
  const QueueSettings later = Pause(*store_, "sms-out");
  EXPECT_GE(later.paused_at, first.paused_at);
  EXPECT_EQ(later.pause_reason, "") << "a resume forgets the old reason";
}

TEST_P(JobStoreSuite, AJobProcessingWhenItsQueueIsPausedFinishes) {
  // Retries due at once.
  Open({.base = absl::ZeroDuration(), .max = absl::ZeroDuration()});
  const Job a = Enqueue("c1");
  const Job b = Enqueue("c2");
  const std::vector<Job> claimed = Claim(10);
  ASSERT_THAT(Ids(claimed), ElementsAre(a.id, b.id));
  Pause(*store_, "default");
  for (const Job& job : claimed) {
    ASSERT_TRUE(store_
                    ->ExtendLease(job.id, job.lease_token, absl::Seconds(30),
                                  Deadline())
                    .ok());
  }
  const Job& done = claimed[0];
  const Job& failing = claimed[1];
  absl::StatusOr<Job> completed =
      store_->CompleteJob(done.id, done.lease_token, Deadline());
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_EQ(completed->status, JobStatus::kComplete);
  // A retry due at once still waits for the resume.
  absl::StatusOr<Job> failed = store_->FailJob(
      failing.id, failing.lease_token, "downstream 503", true, Deadline());
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->status, JobStatus::kPending);
  EXPECT_THAT(Claim(10), IsEmpty());
  Resume(*store_, "default");
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(b.id));
}

TEST_P(JobStoreSuite, AQueueCanBePausedBeforeItHasJobsOrSettings) {
  absl::StatusOr<QueueSettings> fresh = store_->GetQueue("later", Deadline());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_FALSE(Paused(*fresh));
  EXPECT_TRUE(Paused(Pause(*store_, "later")));
  EnqueueIn(*store_, "later", AJob("c1"));
  EXPECT_THAT(ClaimFrom(*store_, {"later"}), IsEmpty());
  // Resuming a queue never paused changes nothing.
  EXPECT_FALSE(Paused(Resume(*store_, "never-paused")));
  Resume(*store_, "later");
  EXPECT_EQ(ClaimFrom(*store_, {"later"}).size(), 1u);
}

TEST_P(JobStoreSuite, APauseKeepsTheQueuesOtherSettings) {
  ASSERT_TRUE(
      store_
          ->SetQueueRateLimit(
              "q", RateLimit{.jobs_per_second = 0.01, .burst = 2}, Deadline())
          .ok());
  ASSERT_TRUE(
      store_->SetQueueMaxRunTime("q", absl::Seconds(60), Deadline()).ok());
  const QueueSettings paused = Pause(*store_, "q", "why");
  ASSERT_TRUE(paused.rate_limit.has_value());
  EXPECT_EQ(paused.rate_limit->burst, 2);
  EXPECT_EQ(paused.max_run_time, absl::Seconds(60));
  // Settings changed while paused keep the pause.
  absl::StatusOr<QueueSettings> unlimited =
      store_->SetQueueRateLimit("q", std::nullopt, Deadline());
  ASSERT_TRUE(unlimited.ok()) << unlimited.status();
  EXPECT_EQ(unlimited->paused_at, paused.paused_at);
  EXPECT_EQ(unlimited->pause_reason, "why");
  const QueueSettings resumed = Resume(*store_, "q");
  EXPECT_FALSE(resumed.rate_limit.has_value());
  EXPECT_EQ(resumed.max_run_time, absl::Seconds(60));
}

TEST_P(JobStoreSuite, APausedRateLimitedQueueWaitsForNoToken) {
  ASSERT_TRUE(
      store_
          ->SetQueueRateLimit(
              "q", RateLimit{.jobs_per_second = 0.01, .burst = 1}, Deadline())
          .ok());
  EnqueueIn(*store_, "q", AJob("c1"));
  EnqueueIn(*store_, "q", AJob("c2"));
  ASSERT_EQ(ClaimFrom(*store_, {"q"}).size(), 1u) << "the burst";
  absl::StatusOr<TokenWait> running = store_->NextTokenIn({"q"}, Deadline());
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_LT(running->next, absl::InfiniteDuration());
  EXPECT_TRUE(running->every_queue);
  Pause(*store_, "q");
  // A claim of it waits for the resume's notification, not a token.
  absl::StatusOr<TokenWait> paused = store_->NextTokenIn({"q"}, Deadline());
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_EQ(paused->next, absl::InfiniteDuration());
  EXPECT_FALSE(paused->every_queue);
  Resume(*store_, "q");
  absl::StatusOr<TokenWait> resumed = store_->NextTokenIn({"q"}, Deadline());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_LT(resumed->next, absl::InfiniteDuration());
}

TEST_P(JobStoreSuite, PauseRefusesABadNameOrAReasonTooLong) {
  absl::StatusOr<QueueSettings> r =
      store_->PauseQueue("-not a queue", "", Deadline());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  r = store_->PauseQueue("q", std::string(kMaxPauseReasonBytes + 1, 'x'),
                         Deadline());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  r = store_->PauseQueue("q", std::string(kMaxPauseReasonBytes, 'x'),
                         Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pause_reason.size(), kMaxPauseReasonBytes);
}

}  // namespace
}  // namespace jobqueue
