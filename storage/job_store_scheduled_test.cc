// Scheduled jobs, for every store (see job_store_suite.h): a job due later
// is not claimable, is in no conversation until PromoteScheduled moves it
// to pending once due, and then waits behind the jobs enqueued before it
// came due; an unordered one never waits; two promoters never move a job
// twice.

#include <algorithm>
#include <map>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr absl::Duration kSoon = absl::Milliseconds(50);

Job EnqueueLater(JobStore& store, NewJob job, absl::Duration delay) {
  job.delay = delay;
  absl::StatusOr<EnqueueResult> r = store.Enqueue(job, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->job : Job();
}

// Sleeps until `job` is due by the clock the stores share with the test.
void WaitUntilDue(const Job& job) {
  const absl::Duration left =
      job.run_after - absl::Now() + absl::Milliseconds(5);
  ASSERT_LT(left, absl::Seconds(10));
  if (left > absl::ZeroDuration()) absl::SleepFor(left);
}

int Promote(JobStore& store, int max_jobs = 100) {
  absl::StatusOr<int> n = store.PromoteScheduled(max_jobs, Deadline());
  EXPECT_TRUE(n.ok()) << n.status();
  return n.ok() ? *n : -1;
}

std::vector<Job> ClaimAny(JobStore& store) {
  absl::StatusOr<std::vector<Job>> r = store.ClaimJobs(
      {.worker_id = "w", .max_jobs = 10, .ignore_conversation_order = true},
      Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<Job>();
}

// Claims `n` jobs one at a time in conversation order, completing each;
// returns their ids in claim order.
std::vector<std::string> RunOneByOne(JobStore& store, int n) {
  std::vector<std::string> order;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<std::vector<Job>> got =
        store.ClaimJobs({.worker_id = "w", .max_jobs = 1}, Deadline());
    if (!got.ok() || got->size() != 1) {
      ADD_FAILURE() << "claim " << i << ": "
                    << (got.ok() ? "no job" : got.status().ToString());
      break;
    }
    const Job& j = (*got)[0];
    order.push_back(j.id);
    EXPECT_TRUE(store.CompleteJob(j.id, j.lease_token, Deadline()).ok());
  }
  return order;
}

TEST_P(JobStoreSuite, AJobDueLaterIsScheduledAndNeverClaimedBeforeItIsDue) {
  const absl::Time before = absl::Now();
  const Job job = EnqueueLater(*store_, AJob("c"), absl::Hours(1));
  EXPECT_EQ(job.status, JobStatus::kScheduled);
  EXPECT_GE(job.run_after, before + absl::Hours(1));
  EXPECT_LE(job.run_after, absl::Now() + absl::Hours(1));
  EXPECT_THAT(Claim(), IsEmpty());
  EXPECT_THAT(ClaimAny(*store_), IsEmpty());
  EXPECT_EQ(Promote(*store_), 0) << "not due";
  EXPECT_EQ(Get(job.id).status, JobStatus::kScheduled);
}

// Enqueues `at` with a run_at just ahead. A call that returned after that
// time may have stored it already due (a slow machine): such a job is
// cancelled and the next try aims further ahead.
Job EnqueueAtSoon(JobStore& store, NewJob at) {
  for (absl::Duration ahead : {kSoon, 10 * kSoon, 100 * kSoon}) {
    at.run_at = absl::Now() + ahead;
    absl::StatusOr<EnqueueResult> r = store.Enqueue(at, Deadline());
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return Job();
    }
    if (absl::Now() < at.run_at) {
      EXPECT_EQ(r->job.status, JobStatus::kScheduled);
      EXPECT_EQ(r->job.run_after,
                absl::FromUnixMicros(absl::ToUnixMicros(at.run_at)));
      return r->job;
    }
    EXPECT_TRUE(store.CancelJob(r->job.id, "", Deadline()).ok());
  }
  ADD_FAILURE() << "every enqueue took longer than its run_at was ahead";
  return Job();
}

TEST_P(JobStoreSuite, ADueJobIsClaimableOncePromoted) {
  const Job job = EnqueueAtSoon(*store_, AJob("c"));
  ASSERT_EQ(job.status, JobStatus::kScheduled);
  ASSERT_NO_FATAL_FAILURE(WaitUntilDue(job));
  EXPECT_THAT(Claim(), IsEmpty()) << "due, but not promoted yet";
  EXPECT_EQ(Promote(*store_), 1);
  EXPECT_EQ(Promote(*store_), 0);
  const Job claimed = ClaimOne();
  EXPECT_EQ(claimed.id, job.id);
  EXPECT_EQ(claimed.status, JobStatus::kProcessing);
  EXPECT_EQ(claimed.run_after, job.run_after);
}

TEST_P(JobStoreSuite, ARunAtInThePastMeansNow) {
  NewJob past = AJob("c");
  past.run_at = absl::Now() - absl::Hours(1);
  absl::StatusOr<EnqueueResult> r = store_->Enqueue(past, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->job.status, JobStatus::kPending);
  EXPECT_GE(r->job.run_after, r->job.created_at);
  EXPECT_EQ(ClaimOne().id, r->job.id);
}

TEST_P(JobStoreSuite, AScheduledJobHoldsNothingUpAndRunsAfterWhatWasQueued) {
  const Job first = Enqueue("busy");
  const Job tomorrow = EnqueueLater(*store_, AJob("busy"), absl::Hours(24));
  const Job reminder = EnqueueLater(*store_, AJob("busy"), kSoon);
  const Job second = Enqueue("busy");
  // Nothing scheduled waits in the conversation: its jobs run one by one.
  Job head = ClaimOne();
  ASSERT_EQ(head.id, first.id);
  ASSERT_TRUE(store_->CompleteJob(head.id, head.lease_token, Deadline()).ok());
  head = ClaimOne();
  ASSERT_EQ(head.id, second.id);
  // Due while `second` runs: it joins the end of the line.
  ASSERT_NO_FATAL_FAILURE(WaitUntilDue(reminder));
  ASSERT_EQ(Promote(*store_), 1);
  const Job third = Enqueue("busy");
  EXPECT_THAT(Claim(), IsEmpty()) << "`second` is processing";
  ASSERT_TRUE(store_->CompleteJob(head.id, head.lease_token, Deadline()).ok());
  head = ClaimOne();
  EXPECT_EQ(head.id, reminder.id);
  ASSERT_TRUE(store_->CompleteJob(head.id, head.lease_token, Deadline()).ok());
  EXPECT_THAT(Ids(Claim()), ElementsAre(third.id));
  EXPECT_EQ(Get(tomorrow.id).status, JobStatus::kScheduled);
}

TEST_P(JobStoreSuite, AScheduledJobDueBeforeALaterEnqueueRunsFirst) {
  const Job first = Enqueue("c");
  const Job reminder = EnqueueLater(*store_, AJob("c"), kSoon);
  ASSERT_NO_FATAL_FAILURE(WaitUntilDue(reminder));
  ASSERT_EQ(Promote(*store_), 1);
  const Job later = Enqueue("c");
  EXPECT_THAT(RunOneByOne(*store_, 3),
              ElementsAre(first.id, reminder.id, later.id));
}

TEST_P(JobStoreSuite, AnUnorderedScheduledJobNeverWaits) {
  const Job head = Enqueue("c");
  NewJob unordered = AJob("c");
  unordered.ordered = false;
  const Job u = EnqueueLater(*store_, unordered, kSoon);
  EXPECT_EQ(u.status, JobStatus::kScheduled);
  ASSERT_EQ(ClaimOne().id, head.id);
  ASSERT_NO_FATAL_FAILURE(WaitUntilDue(u));
  ASSERT_EQ(Promote(*store_), 1);
  EXPECT_THAT(Ids(Claim()), ElementsAre(u.id)) << "while `head` runs";
}

TEST_P(JobStoreSuite, ABatchSchedulesItsItemsApart) {
  std::vector<NewJob> jobs = {AJob("c"), AJob("c"), AJob("c")};
  jobs[1].delay = absl::Hours(1);
  absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>> r =
      store_->EnqueueJobs(jobs, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 3u);
  for (const auto& one : *r) ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ((*r)[0]->job.status, JobStatus::kPending);
  EXPECT_EQ((*r)[1]->job.status, JobStatus::kScheduled);
  EXPECT_EQ((*r)[2]->job.status, JobStatus::kPending);
  const Job a = ClaimOne();
  EXPECT_EQ(a.id, (*r)[0]->job.id);
  ASSERT_TRUE(store_->CompleteJob(a.id, a.lease_token, Deadline()).ok());
  EXPECT_THAT(Ids(Claim()), ElementsAre((*r)[2]->job.id));
}

// Rounds enough for PostgreSQL to plan the promoter once for any batch
// (after five runs on a connection), over conversations that exist and new
// ones: each promoted job goes after what was queued, earliest due first.
TEST_P(JobStoreSuite, PromotedRoundsKeepEveryConversationsOrder) {
  std::map<std::string, std::vector<std::string>> expected;
  for (int round = 0; round < 8; ++round) {
    std::map<std::string, std::vector<Job>> later;
    for (int c = 0; c < 4; ++c) {
      const std::string channel = absl::StrCat("p", c, "-", round % 2);
      if ((c + round) % 2 == 0) {
        expected[channel].push_back(Enqueue(channel).id);
      }
      // Enqueued first, due last.
      later[channel].push_back(
          EnqueueLater(*store_, AJob(channel), kSoon + absl::Milliseconds(30)));
      later[channel].push_back(EnqueueLater(*store_, AJob(channel), kSoon));
    }
    absl::Time due = absl::InfinitePast();
    for (auto& [channel, jobs] : later) {
      std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
        return std::tie(a.run_after, a.id) < std::tie(b.run_after, b.id);
      });
      for (const Job& job : jobs) expected[channel].push_back(job.id);
      due = std::max(due, jobs.back().run_after);
    }
    Job last;
    last.run_after = due;
    ASSERT_NO_FATAL_FAILURE(WaitUntilDue(last));
    ASSERT_EQ(Promote(*store_), 8) << "round " << round;
  }
  EXPECT_EQ(RunAllByConversation(200), expected);
}

TEST_P(JobStoreSuite, ARepeatedKeyReturnsTheScheduledJobUnchanged) {
  const Job job = EnqueueLater(*store_, AJob("c", "k1"), absl::Hours(1));
  absl::StatusOr<EnqueueResult> again =
      store_->Enqueue(AJob("c", "k1"), Deadline());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.status, JobStatus::kScheduled);
  EXPECT_EQ(again->job.run_after, job.run_after);
  EXPECT_THAT(Claim(), IsEmpty());
}

TEST_P(JobStoreSuite, RunningAScheduledJobNowPutsItAtTheEnd) {
  const Job first = Enqueue("c");
  const Job job = EnqueueLater(*store_, AJob("c"), absl::Hours(1));
  const Job second = Enqueue("c");
  absl::StatusOr<Job> refused = store_->UpdateStatus(
      {.job_id = job.id, .to = JobStatus::kProcessing}, Deadline());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("cannot move from 'scheduled'"));
  absl::StatusOr<Job> now = store_->UpdateStatus(
      {.job_id = job.id, .to = JobStatus::kPending}, Deadline());
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->status, JobStatus::kPending);
  EXPECT_LE(now->run_after, absl::Now());
  EXPECT_THAT(RunOneByOne(*store_, 3),
              ElementsAre(first.id, second.id, job.id));
}

TEST_P(JobStoreSuite, ListJobsFindsScheduledJobs) {
  Enqueue("c");
  const Job job = EnqueueLater(*store_, AJob("c"), absl::Hours(1));
  absl::StatusOr<JobPage> page = store_->ListJobs(
      {.status = JobStatus::kScheduled}, std::nullopt, 10, Deadline());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(page->jobs), ElementsAre(job.id));
}

TEST_P(JobStoreSuite, TwoPromotersNeverMoveAJobTwice) {
  constexpr int kJobs = 120;
  std::vector<NewJob> jobs;
  for (int i = 0; i < kJobs; ++i) {
    NewJob job = AJob(absl::StrCat("c", i % 7));
    job.ordered = i % 5 != 0;
    job.delay = kSoon;
    jobs.push_back(job);
  }
  absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>> r =
      store_->EnqueueJobs(jobs, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  Job last;
  for (const auto& one : *r) {
    ASSERT_TRUE(one.ok()) << one.status();
    last = one->job;
  }
  ASSERT_NO_FATAL_FAILURE(WaitUntilDue(last));
  int moved[2] = {0, 0};
  std::vector<std::thread> promoters;
  for (int t = 0; t < 2; ++t) {
    promoters.emplace_back([&, t] {
      // Bounded: every round of either moves at least one job.
      for (int round = 0; round < kJobs; ++round) {
        absl::StatusOr<int> n = store_->PromoteScheduled(7, Deadline());
        if (!n.ok() || *n == 0) break;
        moved[t] += *n;
      }
    });
  }
  for (std::thread& p : promoters) p.join();
  // A round that met the other's locked rows may have stopped early.
  int rest = 0;
  for (int n = Promote(*store_); n > 0; n = Promote(*store_)) rest += n;
  EXPECT_EQ(moved[0] + moved[1] + rest, kJobs);
  absl::StatusOr<JobPage> pending = store_->ListJobs(
      {.status = JobStatus::kPending}, std::nullopt, 1000, Deadline());
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->jobs.size(), static_cast<size_t>(kJobs));
  // Every job is claimed once: the unordered ones and each conversation's
  // head now, the rest one by one as heads complete.
  int claimed = 0;
  for (int round = 0; round < kJobs && claimed < kJobs; ++round) {
    std::vector<Job> got = Claim(100);
    if (got.empty()) break;
    for (const Job& j : got) {
      ++claimed;
      ASSERT_TRUE(store_->CompleteJob(j.id, j.lease_token, Deadline()).ok());
    }
  }
  EXPECT_EQ(claimed, kJobs);
}

}  // namespace
}  // namespace jobqueue

namespace jobqueue {
namespace {

TEST_P(JobStoreSuite, ACancelledScheduledJobIsNeverPromoted) {
  const Job job = EnqueueLater(*store_, AJob("c"), kSoon);
  ASSERT_EQ(job.status, JobStatus::kScheduled);
  absl::StatusOr<Job> cancelled = store_->CancelJob(job.id, "", Deadline());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->status, JobStatus::kCancelled);
  ASSERT_NO_FATAL_FAILURE(WaitUntilDue(job));
  EXPECT_EQ(Promote(*store_), 0);
  EXPECT_THAT(ClaimAny(*store_), IsEmpty());
  EXPECT_EQ(Get(job.id).status, JobStatus::kCancelled);
}

}  // namespace
}  // namespace jobqueue
