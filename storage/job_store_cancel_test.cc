// JobStore's cancel, results and attempt history, for every store (see
// job_store_suite.h): a cancelled job never runs; a cancel during a lease
// reaches the worker at its next call and its completion changes nothing;
// completions keep their result; failed attempts are kept, the newest 20.

#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kCancelledText[] = "was cancelled";

TEST_P(JobStoreSuite, ACancelledPendingJobIsNeverClaimed) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  absl::StatusOr<Job> cancelled = store_->CancelJob(a1.id, "", Deadline());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->status, JobStatus::kCancelled);
  EXPECT_EQ(cancelled->cancel_requested_at, absl::InfinitePast());
  // The conversation goes on with its next job, and never reaches a1.
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(a2.id));
  EXPECT_EQ(Get(a1.id).status, JobStatus::kCancelled);
}

TEST_P(JobStoreSuite, ACancelRacingAClaimEitherWinsOrReachesTheWorker) {
  std::vector<Job> jobs;
  for (int i = 0; i < 40; ++i) jobs.push_back(Enqueue(absl::StrCat("c", i)));
  std::set<std::string> claimed;
  std::thread claimer([&] {
    for (int round = 0; round < 40; ++round) {
      for (const Job& job : Claim(2)) claimed.insert(job.id);
    }
  });
  for (const Job& job : jobs) {
    EXPECT_TRUE(store_->CancelJob(job.id, "", Deadline()).ok());
  }
  claimer.join();
  for (const Job& job : jobs) {
    const Job now = Get(job.id);
    if (claimed.count(job.id) > 0) {
      EXPECT_EQ(now.status, JobStatus::kProcessing);
      EXPECT_NE(now.cancel_requested_at, absl::InfinitePast());
    } else {
      EXPECT_EQ(now.status, JobStatus::kCancelled);
    }
  }
}

TEST_P(JobStoreSuite, ACancelDuringALeaseRefusesTheLateCompletion) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job leased = ClaimOne();
  ASSERT_EQ(leased.id, a1.id);
  absl::StatusOr<Job> asked = store_->CancelJob(a1.id, "", Deadline());
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->status, JobStatus::kProcessing);
  EXPECT_NE(asked->cancel_requested_at, absl::InfinitePast());
  // Still one at a time: the worker may still be running a1.
  EXPECT_THAT(Claim(10), IsEmpty());

  absl::StatusOr<Job> late = store_->CompleteJob(
      {a1.id, leased.lease_token, R"({"reply": "sent"})"}, Deadline());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.status().message(), HasSubstr(kCancelledText));
  const Job after = Get(a1.id);
  EXPECT_EQ(after.status, JobStatus::kCancelled);
  EXPECT_EQ(after.result_json, "");
  EXPECT_EQ(after.lease_token, "");
  EXPECT_EQ(ClaimOne().id, a2.id);
  // Asking again changes nothing and answers the job.
  absl::StatusOr<Job> again = store_->CancelJob(a1.id, "", Deadline());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->status, JobStatus::kCancelled);
}

TEST_P(JobStoreSuite, AHeartbeatLearnsOfTheCancel) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job leased = ClaimOne();
  ASSERT_TRUE(store_->CancelJob(a1.id, "", Deadline()).ok());
  absl::StatusOr<Job> extended = store_->ExtendLease(
      a1.id, leased.lease_token, absl::Seconds(30), Deadline());
  EXPECT_EQ(extended.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(extended.status().message(), HasSubstr(kCancelledText));
  EXPECT_EQ(Get(a1.id).status, JobStatus::kCancelled);
  EXPECT_EQ(ClaimOne().id, a2.id);
}

TEST_P(JobStoreSuite, AStatusChangeByHandLearnsOfTheCancel) {
  const Job a1 = Enqueue("a");
  const Job leased = ClaimOne();
  ASSERT_TRUE(store_->CancelJob(a1.id, "", Deadline()).ok());
  absl::StatusOr<Job> moved =
      store_->UpdateStatus({.job_id = a1.id,
                            .to = JobStatus::kPending,
                            .lease_token = leased.lease_token},
                           Deadline());
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(moved.status().message(), HasSubstr(kCancelledText));
  EXPECT_EQ(Get(a1.id).status, JobStatus::kCancelled);
  EXPECT_THAT(Claim(10), IsEmpty());
}

TEST_P(JobStoreSuite, AJobCancelledBeforeItsReleaseIsNotHandedOutAgain) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job leased = ClaimOne();
  ASSERT_TRUE(store_->CancelJob(a1.id, "", Deadline()).ok());
  ASSERT_TRUE(
      store_->ReleaseJobs({{a1.id, leased.lease_token}}, Deadline()).ok());
  EXPECT_EQ(Get(a1.id).status, JobStatus::kCancelled);
  EXPECT_EQ(ClaimOne().id, a2.id);
}

TEST_P(JobStoreSuite, AFailureAfterACancelIsNeitherRetriedNorDeadLettered) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job leased = ClaimOne();
  ASSERT_TRUE(store_->CancelJob(a1.id, "", Deadline()).ok());
  absl::StatusOr<Job> failed =
      store_->FailJob(a1.id, leased.lease_token, "boom", false, Deadline());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(failed.status().message(), HasSubstr(kCancelledText));
  const Job after = Get(a1.id);
  EXPECT_EQ(after.status, JobStatus::kCancelled);
  EXPECT_EQ(after.last_error, "");
  EXPECT_THAT(after.attempt_errors, IsEmpty());
  EXPECT_EQ(RecordAgain(a1.id), 1);  // the store made no dead letter
  EXPECT_EQ(ClaimOne().id, a2.id);
}

TEST_P(JobStoreSuite, ABatchOfCompletionsRefusesOnlyTheCancelledJob) {
  Enqueue("a");
  Enqueue("b");
  Enqueue("c");
  const std::vector<Job> leased = Claim(10);
  ASSERT_EQ(leased.size(), 3u);
  ASSERT_TRUE(store_->CancelJob(leased[1].id, "", Deadline()).ok());
  std::vector<JobLease> leases;
  for (const Job& job : leased) {
    leases.push_back({job.id, job.lease_token, R"({"n": 1})"});
  }
  const std::vector<absl::Status> done =
      store_->CompleteJobs(leases, Deadline());
  ASSERT_EQ(done.size(), 3u);
  EXPECT_TRUE(done[0].ok()) << done[0];
  EXPECT_EQ(done[1].code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(done[1].message(), HasSubstr(kCancelledText));
  EXPECT_TRUE(done[2].ok()) << done[2];
  EXPECT_EQ(Get(leased[0].id).status, JobStatus::kComplete);
  EXPECT_EQ(Get(leased[0].id).result_json, R"({"n": 1})");
  EXPECT_EQ(Get(leased[1].id).status, JobStatus::kCancelled);
  EXPECT_EQ(Get(leased[1].id).result_json, "");
  EXPECT_EQ(Get(leased[2].id).status, JobStatus::kComplete);
}

TEST_P(JobStoreSuite, ACancelNamesTheJobByIdempotencyKey) {
  absl::StatusOr<EnqueueResult> keyed =
      store_->Enqueue(AJob("a", "SM123"), Deadline());
  ASSERT_TRUE(keyed.ok()) << keyed.status();
  absl::StatusOr<Job> cancelled = store_->CancelJob("", "SM123", Deadline());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->id, keyed->job.id);
  EXPECT_EQ(cancelled->status, JobStatus::kCancelled);

  absl::StatusOr<Job> unknown = store_->CancelJob("", "SM999", Deadline());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("SM999"));
  const std::string missing = "0b7c3a4e-54f1-4c53-8a8e-4f1e9b2a7c11";
  absl::StatusOr<Job> no_id = store_->CancelJob(missing, "", Deadline());
  EXPECT_EQ(no_id.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_id.status().message(), HasSubstr(missing));
}

TEST_P(JobStoreSuite, AFinishedJobCannotBeCancelledAndACancelledOneStays) {
  const Job done = Enqueue("a");
  const Job leased = ClaimOne();
  ASSERT_TRUE(
      store_->CompleteJob(done.id, leased.lease_token, Deadline()).ok());
  absl::StatusOr<Job> refused = store_->CancelJob(done.id, "", Deadline());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("'complete'"));
  EXPECT_EQ(Get(done.id).status, JobStatus::kComplete);

  const Job failing = Enqueue("b", /*max_attempts=*/1);
  const Job lease = ClaimOne();
  ASSERT_TRUE(
      store_->FailJob(failing.id, lease.lease_token, "no", false, Deadline())
          .ok());
  refused = store_->CancelJob(failing.id, "", Deadline());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("'failed'"));

  const Job cancelled = Enqueue("c");
  ASSERT_TRUE(store_->CancelJob(cancelled.id, "", Deadline()).ok());
  EXPECT_EQ(store_->RetryJob(cancelled.id, Deadline()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      store_
          ->UpdateStatus({.job_id = cancelled.id, .to = JobStatus::kPending},
                         Deadline())
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_
                ->UpdateStatus(
                    {.job_id = Enqueue("d").id, .to = JobStatus::kCancelled},
                    Deadline())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Get(cancelled.id).status, JobStatus::kCancelled);
}

TEST_P(JobStoreSuite, ALapsedLeaseOfACancelledJobEndsCancelled) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job leased = ClaimOne(absl::Milliseconds(1));
  ASSERT_EQ(leased.id, a1.id);
  ASSERT_TRUE(store_->CancelJob(a1.id, "", Deadline()).ok());
  absl::SleepFor(absl::Milliseconds(50));
  absl::StatusOr<MaintenanceReport> report =
      store_->RunMaintenance(absl::ZeroDuration(), 100, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->cancelled, 1);
  EXPECT_EQ(report->rescued, 0);
  EXPECT_EQ(report->dead_lettered, 0);
  const Job after = Get(a1.id);
  EXPECT_EQ(after.status, JobStatus::kCancelled);
  ASSERT_EQ(after.attempt_errors.size(), 1u);
  EXPECT_EQ(after.attempt_errors[0].error, "lease expired (worker w)");
  EXPECT_EQ(ClaimOne().id, a2.id);
}

TEST_P(JobStoreSuite, ACompletionKeepsItsResult) {
  const Job with = Enqueue("a");
  const Job without = Enqueue("b");
  const std::vector<Job> leased = Claim(10);
  ASSERT_EQ(leased.size(), 2u);
  ASSERT_TRUE(store_
                  ->CompleteJob({with.id, leased[0].lease_token,
                                 R"({"reply": "hi", "tokens": 12})"},
                                Deadline())
                  .ok());
  ASSERT_TRUE(
      store_->CompleteJob(without.id, leased[1].lease_token, Deadline()).ok());
  EXPECT_EQ(Get(with.id).result_json, R"({"reply": "hi", "tokens": 12})");
  EXPECT_EQ(Get(without.id).result_json, "");
  absl::StatusOr<JobPage> page = store_->ListJobs(
      {.status = JobStatus::kComplete}, std::nullopt, 10, Deadline());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->jobs.size(), 2u);
}

TEST_P(JobStoreSuite, AttemptHistoryKeepsTheNewestTwentyFailures) {
  Open({.base = absl::Milliseconds(1), .max = absl::Milliseconds(1)});
  const Job job = Enqueue("a", /*max_attempts=*/30);
  const absl::Time start = absl::Now();
  for (int i = 1; i <= 22; ++i) {
    absl::SleepFor(absl::Milliseconds(5));  // past the 1 ms backoff
    const Job leased = ClaimOne();
    ASSERT_EQ(leased.id, job.id) << "attempt " << i;
    ASSERT_TRUE(store_
                    ->FailJob(job.id, leased.lease_token,
                              absl::StrCat("error ", i), true, Deadline())
                    .ok());
  }
  absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(ClaimOne(absl::Milliseconds(1)).id, job.id);
  absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(
      store_->RunMaintenance(absl::ZeroDuration(), 100, Deadline()).ok());

  const Job after = Get(job.id);
  ASSERT_EQ(after.attempt_errors.size(),
            static_cast<size_t>(kMaxAttemptErrors));
  // Attempts 1 to 3 dropped; 4 to 22 failed by the worker, 23 lapsed.
  EXPECT_EQ(after.attempt_errors.front().attempt, 4);
  EXPECT_EQ(after.attempt_errors.front().error, "error 4");
  EXPECT_EQ(after.attempt_errors[18].error, "error 22");
  EXPECT_EQ(after.attempt_errors.back().attempt, 23);
  EXPECT_EQ(after.attempt_errors.back().error, "lease expired (worker w)");
  EXPECT_EQ(after.last_error, "lease expired (worker w)");
  for (size_t i = 0; i < after.attempt_errors.size(); ++i) {
    const AttemptError& e = after.attempt_errors[i];
    EXPECT_EQ(e.worker_id, "w");
    EXPECT_GE(e.failed_at, start - absl::Seconds(1));
    EXPECT_LE(e.failed_at, absl::Now() + absl::Seconds(1));
    if (i > 0) {
      EXPECT_GE(e.failed_at, after.attempt_errors[i - 1].failed_at);
    }
  }
}

}  // namespace
}  // namespace jobqueue
