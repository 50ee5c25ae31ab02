// JobStore's work cycle, for every store (see job_store_suite.h): claims in
// conversation order, leases and their tokens, failures with backoff and
// dead letters, releases, retries, status changes and maintenance.

#include <map>
#include <mutex>
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

// A lease token no claim handed out.
constexpr char kForeignToken[] = "0b7c3a4e-54f1-4c53-8a8e-4f1e9b2a7c11";

absl::StatusCode Code(const absl::Status& s) { return s.code(); }

TEST_P(JobStoreSuite, AClaimLeasesTheOldestJobToTheWorker) {
  const Job first = Enqueue("a");
  Enqueue("b");
  const absl::Time before = absl::Now();
  const Job job = ClaimOne(absl::Seconds(30));
  EXPECT_EQ(job.id, first.id);
  EXPECT_EQ(job.status, JobStatus::kProcessing);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(job.worker_id, "w");
  EXPECT_EQ(job.lease_token.size(), 36u);
  EXPECT_GT(job.lease_expires_at, before + absl::Seconds(25));
  EXPECT_LT(job.lease_expires_at, absl::Now() + absl::Seconds(35));
  EXPECT_EQ(Get(job.id).lease_token, job.lease_token);
}

TEST_P(JobStoreSuite, OneJobInFlightPerConversationInArrivalOrder) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job b1 = Enqueue("b");
  const std::vector<Job> first = Claim(10);
  EXPECT_THAT(Ids(first), ElementsAre(a1.id, b1.id));
  EXPECT_THAT(Claim(10), IsEmpty());
  ASSERT_TRUE(
      store_->CompleteJob(a1.id, first[0].lease_token, Deadline()).ok());
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(a2.id));
}

TEST_P(JobStoreSuite, AConversationReadyAgainGoesToTheBackOfTheLine) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job b1 = Enqueue("b");
  const Job claimed = ClaimOne();
  ASSERT_EQ(claimed.id, a1.id);
  ASSERT_TRUE(store_->CompleteJob(a1.id, claimed.lease_token, Deadline()).ok());
  EXPECT_EQ(ClaimOne().id, b1.id);
  EXPECT_EQ(ClaimOne().id, a2.id);
}

TEST_P(JobStoreSuite, AClaimLimitedToASourceTypeTakesOnlyHeadsOfThatType) {
  Enqueue("a");  // a dm heads conversation a
  NewJob group = AJob("a");
  group.source_type = "group";
  ASSERT_TRUE(store_->Enqueue(group, Deadline()).ok());
  group.source_channel_id = "b";
  auto b = store_->Enqueue(group, Deadline());
  ASSERT_TRUE(b.ok()) << b.status();
  auto r = store_->ClaimJobs(
      {.worker_id = "w", .max_jobs = 10, .source_type = "group"}, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Ids(*r), ElementsAre(b->job.id));
}

TEST_P(JobStoreSuite, IgnoringConversationOrderClaimsAnyDueJobOldestFirst) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job b1 = Enqueue("b");
  auto r = store_->ClaimJobs(
      {.worker_id = "w", .max_jobs = 2, .ignore_conversation_order = true},
      Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Ids(*r), ElementsAre(a1.id, a2.id));
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(b1.id));
}

TEST_P(JobStoreSuite, MaxJobsBoundsAClaim) {
  for (const char* c : {"a", "b", "c"}) Enqueue(c);
  EXPECT_EQ(Claim(2).size(), 2u);
  EXPECT_EQ(Claim(2).size(), 1u);
}

TEST_P(JobStoreSuite, CompleteEndsTheLeaseAndTheErrorOnce) {
  Open({.base = absl::Milliseconds(1), .max = absl::Milliseconds(1)});
  const Job job = Enqueue("a");
  const Job first = ClaimOne();
  ASSERT_TRUE(
      store_->FailJob(job.id, first.lease_token, "flaky", true, Deadline())
          .ok());
  absl::SleepFor(absl::Milliseconds(50));
  const Job second = ClaimOne();
  auto done = store_->CompleteJob(job.id, second.lease_token, Deadline());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, JobStatus::kComplete);
  EXPECT_EQ(done->attempts, 2);
  EXPECT_EQ(done->lease_token, "");
  EXPECT_EQ(done->last_error, "");
  EXPECT_EQ(done->worker_id, "w");
  EXPECT_EQ(Get(job.id).status, JobStatus::kComplete);

  auto again = store_->CompleteJob(job.id, second.lease_token, Deadline());
  EXPECT_EQ(Code(again.status()), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("it is 'complete'"));
}

TEST_P(JobStoreSuite, AForeignTokenChangesNothing) {
  const Job job = Enqueue("a");
  const Job leased = ClaimOne();
  for (const absl::Status& s :
       {store_->ExtendLease(job.id, kForeignToken, absl::Hours(1), Deadline())
            .status(),
        store_->CompleteJob(job.id, kForeignToken, Deadline()).status(),
        store_->FailJob(job.id, kForeignToken, "x", false, Deadline())
            .status()}) {
    EXPECT_EQ(Code(s), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(s.message(), HasSubstr("not leased with this lease_token"));
  }
  const Job now = Get(job.id);
  EXPECT_EQ(now.status, JobStatus::kProcessing);
  EXPECT_EQ(now.lease_token, leased.lease_token);
  EXPECT_EQ(now.lease_expires_at, leased.lease_expires_at);

  const std::string unknown = "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab";
  EXPECT_EQ(
      Code(store_->CompleteJob(unknown, kForeignToken, Deadline()).status()),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(
      Code(store_->CompleteJob(job.id, "not-a-token", Deadline()).status()),
      absl::StatusCode::kInvalidArgument);
}

TEST_P(JobStoreSuite, AnExpiredLeaseIsRefusedAsExpired) {
  const Job job = Enqueue("a");
  const Job leased = ClaimOne(absl::Milliseconds(1));
  absl::SleepFor(absl::Milliseconds(50));
  for (const absl::Status& s :
       {store_
            ->ExtendLease(job.id, leased.lease_token, absl::Hours(1),
                          Deadline())
            .status(),
        store_->CompleteJob(job.id, leased.lease_token, Deadline()).status(),
        store_->FailJob(job.id, leased.lease_token, "x", true, Deadline())
            .status()}) {
    EXPECT_EQ(Code(s), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(s.message(), HasSubstr("lease has expired"));
  }
  EXPECT_EQ(Get(job.id).status, JobStatus::kProcessing);
}

TEST_P(JobStoreSuite, ExtendLeaseMovesTheExpiryOnly) {
  const Job job = Enqueue("a");
  const Job leased = ClaimOne(absl::Seconds(30));
  auto r = store_->ExtendLease(job.id, leased.lease_token, absl::Hours(1),
                               Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->lease_expires_at, absl::Now() + absl::Minutes(59));
  EXPECT_EQ(r->lease_token, leased.lease_token);
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(r->status, JobStatus::kProcessing);
}

TEST_P(JobStoreSuite, CompleteJobsAnswersEachLeaseInOrder) {
  const Job a = Enqueue("a");
  const Job b = Enqueue("b");
  const Job c = Enqueue("c");
  const std::vector<Job> leased = Claim(3);
  ASSERT_EQ(leased.size(), 3u);
  const std::vector<absl::Status> statuses = store_->CompleteJobs(
      {{a.id, leased[0].lease_token},
       {b.id, kForeignToken},
       {c.id, leased[2].lease_token},
       {"7d3f2f0c-2b9e-4a55-9c1e-0123456789ab", kForeignToken}},
      Deadline());
  ASSERT_EQ(statuses.size(), 4u);
  EXPECT_TRUE(statuses[0].ok()) << statuses[0];
  EXPECT_EQ(Code(statuses[1]), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(statuses[2].ok()) << statuses[2];
  EXPECT_EQ(Code(statuses[3]), absl::StatusCode::kNotFound);
  EXPECT_EQ(Get(a.id).status, JobStatus::kComplete);
  EXPECT_EQ(Get(b.id).status, JobStatus::kProcessing);
  EXPECT_EQ(Get(c.id).status, JobStatus::kComplete);
}

TEST_P(JobStoreSuite, ARetryableFailureWaitsItsBackoffThenRunsAgain) {
  Open({.base = absl::Seconds(1), .max = absl::Seconds(1)});
  const Job job = Enqueue("a");
  const Job leased = ClaimOne();
  const absl::Time before = absl::Now();
  auto failed =
      store_->FailJob(job.id, leased.lease_token, "boom", true, Deadline());
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->status, JobStatus::kPending);
  EXPECT_EQ(failed->attempts, 1);
  EXPECT_EQ(failed->last_error, "boom");
  EXPECT_EQ(failed->lease_token, "");
  EXPECT_GE(failed->run_after, before + absl::Milliseconds(450));
  EXPECT_LE(failed->run_after, absl::Now() + absl::Milliseconds(1050));

  EXPECT_THAT(Claim(10), IsEmpty());
  auto any = store_->ClaimJobs(
      {.worker_id = "w", .max_jobs = 10, .ignore_conversation_order = true},
      Deadline());
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_THAT(*any, IsEmpty());

  absl::SleepFor(failed->run_after - absl::Now() + absl::Milliseconds(100));
  const Job again = ClaimOne();
  EXPECT_EQ(again.id, job.id);
  EXPECT_EQ(again.attempts, 2);
}

TEST_P(JobStoreSuite, ABackoffHoldsItsConversationOnly) {
  const Job a1 = Enqueue("a");
  Enqueue("a");
  const Job b1 = Enqueue("b");
  const Job leased = ClaimOne();
  ASSERT_EQ(leased.id, a1.id);
  ASSERT_TRUE(
      store_->FailJob(a1.id, leased.lease_token, "later", true, Deadline())
          .ok());
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(b1.id));
}

TEST_P(JobStoreSuite, AFinalFailureDeadLettersTheJobAndFreesItsConversation) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job leased = ClaimOne();
  auto failed = store_->FailJob(a1.id, leased.lease_token, "bad input", false,
                                Deadline());
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->status, JobStatus::kFailed);
  EXPECT_EQ(failed->last_error, "bad input");
  EXPECT_EQ(failed->lease_token, "");
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(a2.id));

  // The copy is there: recording it again counts a second attempt.
  EXPECT_EQ(RecordAgain(a1.id), 2);
}

TEST_P(JobStoreSuite, TheLastAttemptFailsForGood) {
  const Job job = Enqueue("a", /*max_attempts=*/1);
  const Job leased = ClaimOne();
  auto failed =
      store_->FailJob(job.id, leased.lease_token, "boom", true, Deadline());
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->status, JobStatus::kFailed);
}

// The dead letter's reason may not be empty, so neither may a final error.
TEST_P(JobStoreSuite, AFinalFailureWithoutAnErrorChangesNothing) {
  const Job job = Enqueue("a");
  const Job leased = ClaimOne();
  EXPECT_EQ(
      Code(store_->FailJob(job.id, leased.lease_token, "", false, Deadline())
               .status()),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Get(job.id).lease_token, leased.lease_token);
}

TEST_P(JobStoreSuite, ReleasedJobsArePendingAgainWithoutTheAttempt) {
  const Job job = Enqueue("a");
  const Job leased = ClaimOne();
  ASSERT_TRUE(store_->ReleaseJobs({{job.id, kForeignToken}}, Deadline()).ok());
  EXPECT_EQ(Get(job.id).status, JobStatus::kProcessing);
  ASSERT_TRUE(
      store_->ReleaseJobs({{job.id, leased.lease_token}}, Deadline()).ok());
  const Job released = Get(job.id);
  EXPECT_EQ(released.status, JobStatus::kPending);
  EXPECT_EQ(released.attempts, 0);
  EXPECT_EQ(released.lease_token, "");
  EXPECT_EQ(ClaimOne().attempts, 1);
}

TEST_P(JobStoreSuite, RetryJobRunsAFailedJobAgainAtTheEndOfItsConversation) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  const Job leased = ClaimOne();
  ASSERT_TRUE(
      store_->FailJob(a1.id, leased.lease_token, "bad", false, Deadline())
          .ok());
  EXPECT_EQ(Code(store_->RetryJob(a2.id, Deadline()).status()),
            absl::StatusCode::kFailedPrecondition);
  auto retried = store_->RetryJob(a1.id, Deadline());
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->status, JobStatus::kPending);
  EXPECT_EQ(retried->attempts, 0);

  const Job next = ClaimOne();
  EXPECT_EQ(next.id, a2.id);
  ASSERT_TRUE(store_->CompleteJob(a2.id, next.lease_token, Deadline()).ok());
  EXPECT_EQ(ClaimOne().id, a1.id);
  EXPECT_EQ(
      Code(store_->RetryJob("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab", Deadline())
               .status()),
      absl::StatusCode::kNotFound);
}

TEST_P(JobStoreSuite, UpdateStatusMakesOnlyTheAllowedMoves) {
  const Job job = Enqueue("a");
  auto refused = store_->UpdateStatus(
      {.job_id = job.id, .to = JobStatus::kComplete}, Deadline());
  EXPECT_EQ(Code(refused.status()), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("cannot move from 'pending' to 'complete'"));

  auto leased = store_->UpdateStatus(
      {.job_id = job.id, .to = JobStatus::kProcessing, .lease = absl::Hours(1)},
      Deadline());
  ASSERT_TRUE(leased.ok()) << leased.status();
  EXPECT_EQ(leased->attempts, 1);
  EXPECT_EQ(leased->lease_token.size(), 36u);
  EXPECT_GT(leased->lease_expires_at, absl::Now() + absl::Minutes(59));

  auto failed = store_->UpdateStatus({.job_id = job.id,
                                      .to = JobStatus::kFailed,
                                      .lease_token = leased->lease_token},
                                     Deadline());
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->lease_token, "");
  auto pending = store_->UpdateStatus(
      {.job_id = job.id, .to = JobStatus::kPending}, Deadline());
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->attempts, 1);
}

TEST_P(JobStoreSuite, UpdateStatusChecksTheExpectedStatusAndTheLease) {
  const Job job = Enqueue("a");
  auto unexpected = store_->UpdateStatus({.job_id = job.id,
                                          .to = JobStatus::kProcessing,
                                          .expected = JobStatus::kFailed},
                                         Deadline());
  EXPECT_EQ(Code(unexpected.status()), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(unexpected.status().message(),
              HasSubstr("is 'pending', not the expected 'failed'"));

  const Job leased = ClaimOne();
  auto no_token = store_->UpdateStatus(
      {.job_id = job.id, .to = JobStatus::kComplete}, Deadline());
  EXPECT_EQ(Code(no_token.status()), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_token.status().message(),
              HasSubstr("pass its current lease_token"));
  auto done = store_->UpdateStatus({.job_id = job.id,
                                    .to = JobStatus::kComplete,
                                    .expected = JobStatus::kProcessing,
                                    .lease_token = leased.lease_token},
                                   Deadline());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, JobStatus::kComplete);
  EXPECT_EQ(Code(store_
                     ->UpdateStatus(
                         {.job_id = "not-a-uuid", .to = JobStatus::kComplete},
                         Deadline())
                     .status()),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(JobStoreSuite, UpdateStatusLeasesOnlyAFreeConversationsHead) {
  const Job a1 = Enqueue("a");
  const Job a2 = Enqueue("a");
  auto behind = store_->UpdateStatus(
      {.job_id = a2.id, .to = JobStatus::kProcessing}, Deadline());
  EXPECT_EQ(Code(behind.status()), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(behind.status().message(),
              HasSubstr(absl::StrCat("waits for job ", a1.id)));

  // Both leased out of order, then the head handed back while a2 runs.
  auto both = store_->ClaimJobs(
      {.worker_id = "w", .max_jobs = 2, .ignore_conversation_order = true},
      Deadline());
  ASSERT_TRUE(both.ok() && both->size() == 2u);
  ASSERT_TRUE(
      store_->ReleaseJobs({{a1.id, (*both)[0].lease_token}}, Deadline()).ok());
  auto busy = store_->UpdateStatus(
      {.job_id = a1.id, .to = JobStatus::kProcessing}, Deadline());
  EXPECT_EQ(Code(busy.status()), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(busy.status().message(),
              HasSubstr("another job of its conversation is processing"));
}

TEST_P(JobStoreSuite, MaintenanceReturnsLapsedLeasesOrDeadLettersThem) {
  const Job again = Enqueue("a");
  const Job last = Enqueue("b", /*max_attempts=*/1);
  const std::vector<Job> leased = Claim(10, absl::Milliseconds(1));
  ASSERT_EQ(leased.size(), 2u);
  absl::SleepFor(absl::Milliseconds(50));
  auto report = store_->RunMaintenance(absl::ZeroDuration(), 100, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rescued, 1);
  EXPECT_EQ(report->dead_lettered, 1);
  EXPECT_FALSE(report->skipped);
  EXPECT_THAT(report->errors, IsEmpty());

  const Job rescued = Get(again.id);
  EXPECT_EQ(rescued.status, JobStatus::kPending);
  EXPECT_EQ(rescued.attempts, 1);
  EXPECT_EQ(rescued.lease_token, "");
  EXPECT_EQ(rescued.last_error, "lease expired (worker w)");
  EXPECT_EQ(Get(last.id).status, JobStatus::kFailed);
  EXPECT_EQ(RecordAgain(last.id), 2);
  EXPECT_EQ(
      Code(store_->CompleteJob(again.id, leased[0].lease_token, Deadline())
               .status()),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ClaimOne().id, again.id);
}

TEST_P(JobStoreSuite, MaintenanceDeletesCompletedJobsPastTheirRetention) {
  for (const char* c : {"a", "b", "c"}) Enqueue(c);
  const std::vector<Job> leased = Claim(3);
  ASSERT_EQ(leased.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(
        store_->CompleteJob(leased[i].id, leased[i].lease_token, Deadline())
            .ok());
  }
  absl::SleepFor(absl::Milliseconds(50));
  auto none = store_->RunMaintenance(absl::ZeroDuration(), 100, Deadline());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->deleted, 0);
  auto one = store_->RunMaintenance(absl::Milliseconds(10), 1, Deadline());
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->deleted, 1);
  auto rest = store_->RunMaintenance(absl::Milliseconds(10), 100, Deadline());
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(rest->deleted, 1);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(Code(store_->GetJob(leased[i].id, Deadline()).status()),
              absl::StatusCode::kNotFound);
  }
  EXPECT_EQ(Get(leased[2].id).status, JobStatus::kProcessing);
}

// Workers on threads: every job runs once, one at a time per conversation,
// in arrival order.
TEST_P(JobStoreSuite, ConcurrentWorkersKeepEachConversationInOrder) {
  constexpr int kConversations = 8, kJobsEach = 5, kWorkers = 6;
  std::map<std::string, std::vector<std::string>> enqueued;
  for (int j = 0; j < kJobsEach; ++j) {
    for (int c = 0; c < kConversations; ++c) {
      const std::string channel = absl::StrCat("c", c);
      enqueued[channel].push_back(Enqueue(channel).id);
    }
  }
  std::mutex mu;
  std::set<std::string> in_flight;  // conversations
  std::map<std::string, std::vector<std::string>> ran;
  int done = 0;
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      const absl::Time give_up = absl::Now() + absl::Seconds(60);
      while (absl::Now() < give_up) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (done == kConversations * kJobsEach) return;
        }
        auto claimed =
            store_->ClaimJobs({.worker_id = "w", .max_jobs = 2}, Deadline());
        ASSERT_TRUE(claimed.ok()) << claimed.status();
        for (const Job& job : *claimed) {
          std::lock_guard<std::mutex> lock(mu);
          EXPECT_TRUE(in_flight.insert(job.source_channel_id).second)
              << job.source_channel_id << " had two jobs leased";
          ran[job.source_channel_id].push_back(job.id);
        }
        for (const Job& job : *claimed) {
          {
            // Out of flight before the store frees the conversation.
            std::lock_guard<std::mutex> lock(mu);
            in_flight.erase(job.source_channel_id);
            ++done;
          }
          EXPECT_TRUE(
              store_->CompleteJob(job.id, job.lease_token, Deadline()).ok());
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(ran, enqueued);
}

}  // namespace
}  // namespace jobqueue
