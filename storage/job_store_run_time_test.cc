// Run-time limits, for every store (see job_store_suite.h): one attempt of
// a job with a limit (its own, else its queue's) ends by the claim's time
// plus the limit whatever the heartbeats, and then counts as failed: back
// to pending after a backoff while attempts are left, else failed with a
// dead letter, so its conversation moves on.

#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::Duration kLimit = absl::Seconds(1);

Job EnqueueLimited(JobStore& store, NewJob job, absl::Duration limit,
                   int max_attempts) {
  job.max_run_time = limit;
  job.max_attempts = max_attempts;
  absl::StatusOr<EnqueueResult> r = store.Enqueue(job, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->job : Job();
}

// Heartbeats `leased` every 100 ms until one is refused (at most 10 s);
// returns the refusal.
absl::Status HeartbeatUntilRefused(JobStore& store, const Job& leased) {
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<Job> extended = store.ExtendLease(
        leased.id, leased.lease_token, absl::Seconds(30), Deadline());
    if (!extended.ok()) return extended.status();
    EXPECT_LE(extended->lease_expires_at, leased.run_deadline)
        << "a heartbeat extended the lease past the run-time limit";
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::OkStatus();
}

TEST_P(JobStoreSuite, ALeaseNeverReachesPastTheRunTimeLimit) {
  const absl::Time before = absl::Now();
  const Job job = EnqueueLimited(*store_, AJob("c"), kLimit, 2);
  EXPECT_EQ(Get(job.id).max_run_time, kLimit);
  const Job leased = ClaimOne(absl::Seconds(30));
  ASSERT_EQ(leased.id, job.id);
  EXPECT_GE(leased.run_deadline, before + kLimit);
  EXPECT_LE(leased.run_deadline, absl::Now() + kLimit);
  EXPECT_EQ(leased.lease_expires_at, leased.run_deadline)
      << "a 30 s lease of a job limited to 1 s";
}

TEST_P(JobStoreSuite, ARunTimeLimitEndsTheAttemptWhileTheWorkerHeartbeats) {
  const Job job = EnqueueLimited(*store_, AJob("c"), kLimit, 2);
  const Job next = Enqueue("c");
  const Job leased = ClaimOne(absl::Seconds(30));
  ASSERT_EQ(leased.id, job.id);
  const absl::Status refused = HeartbeatUntilRefused(*store_, leased);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("run-time limit"));
  EXPECT_GE(absl::Now(), leased.run_deadline);
  EXPECT_EQ(store_->CompleteJob(job.id, leased.lease_token, Deadline())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition)
      << "a completion past the limit changes nothing";

  absl::StatusOr<MaintenanceReport> report =
      store_->RunMaintenance(absl::ZeroDuration(), 0, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rescued, 1);
  const Job after = Get(job.id);
  EXPECT_EQ(after.status, JobStatus::kPending);
  EXPECT_THAT(after.last_error, HasSubstr("run-time limit reached"));
  ASSERT_EQ(after.attempt_errors.size(), 1u);
  EXPECT_THAT(after.attempt_errors[0].error, HasSubstr("run-time limit"));
  EXPECT_GT(after.run_after, absl::Now() + absl::Minutes(10))
      << "retried after the backoff (an hour in this suite), as a failure";
  EXPECT_THAT(Claim(), IsEmpty()) << "its conversation waits for the retry";
  EXPECT_EQ(Get(next.id).status, JobStatus::kPending);
}

// Maintenance may take the job back before the worker's next heartbeat:
// the refusal still says the run-time limit ended the attempt (and a lease
// that merely lapsed does not).
TEST_P(JobStoreSuite, AHeartbeatAfterMaintenanceTookTheJobBackSaysWhy) {
  const Job job = EnqueueLimited(*store_, AJob("c"), kLimit, 2);
  std::vector<Job> leased = {ClaimOne(absl::Seconds(30))};
  const Job plain = Enqueue("d");
  leased.push_back(ClaimOne(absl::Milliseconds(500)));
  ASSERT_EQ(leased[0].id, job.id);
  ASSERT_EQ(leased[1].id, plain.id);
  absl::SleepFor(leased[0].run_deadline - absl::Now() + absl::Milliseconds(50));
  absl::StatusOr<MaintenanceReport> report =
      store_->RunMaintenance(absl::ZeroDuration(), 0, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rescued, 2);
  for (const Job& held : leased) {
    const absl::Status refused =
        store_
            ->ExtendLease(held.id, held.lease_token, absl::Seconds(30),
                          Deadline())
            .status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
    if (held.id == job.id) {
      EXPECT_THAT(std::string(refused.message()),
                  HasSubstr("run-time limit reached"));
    } else {
      EXPECT_THAT(std::string(refused.message()),
                  Not(HasSubstr("run-time limit")));
    }
  }
}

TEST_P(JobStoreSuite,
       AJobOutOfAttemptsAtItsLimitFailsAndItsConversationMovesOn) {
  const Job job = EnqueueLimited(*store_, AJob("c"), kLimit, 1);
  const Job next = Enqueue("c");
  const Job leased = ClaimOne(absl::Seconds(30));
  ASSERT_EQ(leased.id, job.id);
  EXPECT_FALSE(HeartbeatUntilRefused(*store_, leased).ok());
  absl::StatusOr<MaintenanceReport> report =
      store_->RunMaintenance(absl::ZeroDuration(), 0, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->dead_lettered, 1);
  EXPECT_EQ(Get(job.id).status, JobStatus::kFailed);
  EXPECT_THAT(Ids(Claim()), ElementsAre(next.id));
}

TEST_P(JobStoreSuite, AQueuesDefaultLimitAppliesToJobsWithoutOne) {
  absl::StatusOr<QueueSettings> set =
      store_->SetQueueMaxRunTime("default", absl::Seconds(5), Deadline());
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->max_run_time, absl::Seconds(5));
  absl::StatusOr<QueueSettings> got = store_->GetQueue("default", Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->max_run_time, absl::Seconds(5));

  const Job plain = Enqueue("a");
  const Job own = EnqueueLimited(*store_, AJob("b"), absl::Seconds(2), 5);
  const absl::Time before = absl::Now();
  std::vector<Job> leased = Claim(10, absl::Seconds(60));
  ASSERT_EQ(leased.size(), 2u);
  for (const Job& j : leased) {
    const absl::Duration limit =
        j.id == own.id ? absl::Seconds(2) : absl::Seconds(5);
    EXPECT_GE(j.run_deadline, before + limit) << j.id;
    EXPECT_LE(j.run_deadline, absl::Now() + limit) << j.id;
    EXPECT_EQ(j.lease_expires_at, j.run_deadline) << j.id;
  }
  EXPECT_EQ(Get(plain.id).max_run_time, absl::ZeroDuration());

  // Removed: later claims take no limit.
  ASSERT_TRUE(
      store_->SetQueueMaxRunTime("default", absl::ZeroDuration(), Deadline())
          .ok());
  const Job later = Enqueue("d");
  const Job again = ClaimOne(absl::Seconds(30));
  ASSERT_EQ(again.id, later.id);
  EXPECT_EQ(again.run_deadline, absl::InfiniteFuture());
}

}  // namespace
}  // namespace jobqueue
