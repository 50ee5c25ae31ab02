// SnoozeJob, for every store (see job_store_suite.h): a leased job handed
// back for a while without spending an attempt. It keeps its place in its
// conversation, so the conversation waits with it.

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_P(JobStoreSuite, ASnoozedJobKeepsItsAttemptAndWaitsItsDelay) {
  const Job job = Enqueue("c", /*max_attempts=*/1);
  const Job leased = ClaimOne();
  ASSERT_EQ(leased.id, job.id);
  const absl::Time before = absl::Now();
  absl::StatusOr<Job> snoozed =
      store_->SnoozeJob(job.id, leased.lease_token, absl::Hours(1), Deadline());
  ASSERT_TRUE(snoozed.ok()) << snoozed.status();
  EXPECT_EQ(snoozed->status, JobStatus::kPending);
  EXPECT_EQ(snoozed->attempts, 0) << "a snooze spends no attempt";
  EXPECT_TRUE(snoozed->lease_token.empty());
  EXPECT_GE(snoozed->run_after, before + absl::Minutes(59));
  EXPECT_THAT(Claim(), IsEmpty()) << "snoozed for an hour";
  // The old lease is over: it can neither complete nor snooze again.
  EXPECT_EQ(store_->CompleteJob(job.id, leased.lease_token, Deadline())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_
                ->SnoozeJob(job.id, leased.lease_token, absl::ZeroDuration(),
                            Deadline())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Get(job.id).run_after, snoozed->run_after) << "nothing changed";
}

TEST_P(JobStoreSuite, SnoozingAJobWithOneAttemptNeverFailsIt) {
  const Job job = Enqueue("c", /*max_attempts=*/1);
  for (int i = 0; i < 3; ++i) {
    const Job leased = ClaimOne();
    ASSERT_EQ(leased.id, job.id) << "round " << i;
    EXPECT_EQ(leased.attempts, 1);
    ASSERT_TRUE(store_
                    ->SnoozeJob(job.id, leased.lease_token,
                                absl::ZeroDuration(), Deadline())
                    .ok());
  }
  EXPECT_EQ(Get(job.id).status, JobStatus::kPending);
}

TEST_P(JobStoreSuite, ASnoozedHeadHoldsItsConversation) {
  const Job head = Enqueue("c");
  const Job next = Enqueue("c");
  const Job other = Enqueue("d");
  const std::vector<Job> leased = Claim(1);
  ASSERT_THAT(Ids(leased), ElementsAre(head.id));
  ASSERT_TRUE(store_
                  ->SnoozeJob(head.id, leased[0].lease_token, absl::Hours(1),
                              Deadline())
                  .ok());
  EXPECT_THAT(Ids(Claim()), ElementsAre(other.id))
      << "the conversation waits for its snoozed head";
  EXPECT_EQ(Get(next.id).status, JobStatus::kPending);
}

TEST_P(JobStoreSuite, ASnoozeOfACancelledJobIsRefusedAndCancelsIt) {
  const Job job = Enqueue("c");
  const Job next = Enqueue("c");
  const Job leased = ClaimOne();
  ASSERT_EQ(leased.id, job.id);
  ASSERT_TRUE(store_->CancelJob(job.id, "", Deadline()).ok());
  absl::StatusOr<Job> snoozed = store_->SnoozeJob(
      job.id, leased.lease_token, absl::ZeroDuration(), Deadline());
  EXPECT_EQ(snoozed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(snoozed.status().message()),
              ::testing::HasSubstr("cancel"));
  EXPECT_EQ(Get(job.id).status, JobStatus::kCancelled);
  EXPECT_THAT(Ids(Claim()), ElementsAre(next.id))
      << "the conversation moves on; the cancelled job never runs again";
}

TEST_P(JobStoreSuite, AZeroSnoozeIsDueAtOnce) {
  const Job job = Enqueue("c");
  const Job leased = ClaimOne();
  ASSERT_EQ(leased.id, job.id);
  ASSERT_TRUE(store_
                  ->SnoozeJob(job.id, leased.lease_token, absl::ZeroDuration(),
                              Deadline())
                  .ok());
  EXPECT_THAT(Ids(Claim()), ElementsAre(job.id));
}

TEST_P(JobStoreSuite, ADueSnoozedHeadRunsBeforeTheJobsBehindIt) {
  const Job head = Enqueue("c");
  const Job next = Enqueue("c");
  std::vector<Job> leased = Claim(1);
  ASSERT_THAT(Ids(leased), ElementsAre(head.id));
  ASSERT_TRUE(store_
                  ->SnoozeJob(head.id, leased[0].lease_token,
                              absl::Milliseconds(300), Deadline())
                  .ok());
  EXPECT_THAT(Claim(), IsEmpty()) << "not due yet, and it holds `next`";
  std::vector<Job> claimed;
  for (int i = 0; i < 200 && claimed.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    claimed = Claim();
  }
  ASSERT_THAT(Ids(claimed), ElementsAre(head.id));
  EXPECT_EQ(claimed[0].attempts, 1);
  EXPECT_THAT(Claim(), IsEmpty()) << "`next` waits for its head still";
  ASSERT_TRUE(
      store_->CompleteJob(head.id, claimed[0].lease_token, Deadline()).ok());
  EXPECT_THAT(Ids(Claim()), ElementsAre(next.id));
}

}  // namespace
}  // namespace jobqueue
