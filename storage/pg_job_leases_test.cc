#include <atomic>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/pg_job_store.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

class PgJobLeasesTest : public PgTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    store_ = std::make_unique<PgJobStore>(
        PgJobStore::Options{.url = db_->url(),
                            .retry_backoff = {.base = absl::Milliseconds(100),
                                              .max = absl::Seconds(10)}});
  }

  std::string Enqueue(const std::string& channel, int max_attempts = 5) {
    auto r = store_->Enqueue({.user_phone = "+15551234567",
                              .source_channel_id = channel,
                              .source_type = "dm",
                              .payload_json = R"({"Body": "hi"})",
                              .content_type = "text",
                              .max_attempts = max_attempts},
                             Deadline());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->job.id : "";
  }

  std::vector<Job> Claim(int max_jobs, bool any_order = false,
                         absl::Duration lease = absl::Seconds(30)) {
    auto r = store_->ClaimJobs({.worker_id = "worker-1",
                                .max_jobs = max_jobs,
                                .lease = lease,
                                .ignore_conversation_order = any_order},
                               Deadline());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<Job>{};
  }

  static std::vector<std::string> Ids(const std::vector<Job>& jobs) {
    std::vector<std::string> ids;
    for (const Job& j : jobs) ids.push_back(j.id);
    return ids;
  }

  std::unique_ptr<PgJobStore> store_;
};

using IdList = std::vector<std::string>;

TEST_F(PgJobLeasesTest, AClaimLeasesTheOldestJobToTheWorker) {
  const std::string first = Enqueue("a");
  Enqueue("b");
  std::vector<Job> jobs = Claim(1);
  ASSERT_EQ(jobs.size(), 1u);
  const Job& job = jobs[0];
  EXPECT_EQ(job.id, first);
  EXPECT_EQ(job.status, JobStatus::kProcessing);
  EXPECT_EQ(job.attempts, 1);
  EXPECT_EQ(job.worker_id, "worker-1");
  EXPECT_EQ(job.lease_token.size(), 36u);
  EXPECT_GT(job.lease_expires_at, absl::Now() + absl::Seconds(20));
}

TEST_F(PgJobLeasesTest, AConversationIsServedInOrderOneJobAtATime) {
  const std::string a1 = Enqueue("a"), a2 = Enqueue("a"), b1 = Enqueue("b");
  const std::string a3 = Enqueue("a");
  std::vector<Job> first = Claim(10);
  EXPECT_EQ(Ids(first), (IdList{a1, b1}));
  EXPECT_TRUE(Claim(10).empty()) << "a2 must wait for a1";
  ASSERT_TRUE(store_->CompleteJob(a1, first[0].lease_token, Deadline()).ok());
  EXPECT_EQ(Ids(Claim(10)), IdList{a2});
  EXPECT_TRUE(Claim(10).empty()) << "a3 must wait for a2";
}

TEST_F(PgJobLeasesTest, AClaimMayIgnoreConversationOrder) {
  const std::string a1 = Enqueue("a"), a2 = Enqueue("a"), b1 = Enqueue("b");
  EXPECT_EQ(Ids(Claim(10, /*any_order=*/true)), (IdList{a1, a2, b1}));
}

TEST_F(PgJobLeasesTest, OnlyTheCurrentLeaseTokenCompletesAJob) {
  Enqueue("a");
  Job job = Claim(1).at(0);
  const std::string stranger = "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab";
  auto wrong = store_->CompleteJob(job.id, stranger, Deadline());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("lease_token"), std::string::npos);
  auto right = store_->CompleteJob(job.id, job.lease_token, Deadline());
  ASSERT_TRUE(right.ok()) << right.status();
  EXPECT_EQ(right->status, JobStatus::kComplete);
  EXPECT_TRUE(right->lease_token.empty());
  auto again = store_->CompleteJob(job.id, job.lease_token, Deadline());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_
                ->CompleteJob("7d3f2f0c-2b9e-4a55-9c1e-000000000000",
                              job.lease_token, Deadline())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PgJobLeasesTest, UpdateStatusOfALeasedJobNeedsItsToken) {
  Enqueue("a");
  Job job = Claim(1).at(0);
  auto without = store_->UpdateStatus(
      {.job_id = job.id, .to = JobStatus::kComplete}, Deadline());
  EXPECT_EQ(without.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(without.status().message().find("leased"), std::string::npos);
  auto with = store_->UpdateStatus({.job_id = job.id,
                                    .to = JobStatus::kComplete,
                                    .lease_token = job.lease_token},
                                   Deadline());
  ASSERT_TRUE(with.ok()) << with.status();
  EXPECT_TRUE(with->lease_token.empty());
}

TEST_F(PgJobLeasesTest, ExtendLeaseMovesTheExpiry) {
  Enqueue("a");
  Job job = Claim(1, false, absl::Seconds(2)).at(0);
  auto extended = store_->ExtendLease(job.id, job.lease_token,
                                      absl::Seconds(60), Deadline());
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_GT(extended->lease_expires_at,
            job.lease_expires_at + absl::Seconds(50));
  EXPECT_EQ(store_
                ->ExtendLease(job.id, "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab",
                              absl::Seconds(60), Deadline())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(PgJobLeasesTest, RetryDelaysGrowUntilAttemptsRunOutThenTheJobIsDead) {
  const std::string id = Enqueue("a", /*max_attempts=*/4);
  std::vector<absl::Duration> delays;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    std::vector<Job> jobs;
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    while (jobs.empty() && absl::Now() < give_up) {
      jobs = Claim(1);
      if (jobs.empty()) absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_EQ(jobs.size(), 1u) << "attempt " << attempt;
    EXPECT_EQ(jobs[0].attempts, attempt);
    auto failed =
        store_->FailJob(id, jobs[0].lease_token, absl::StrCat("boom ", attempt),
                        /*retryable=*/true, Deadline());
    ASSERT_TRUE(failed.ok()) << failed.status();
    EXPECT_EQ(failed->last_error, absl::StrCat("boom ", attempt));
    if (attempt < 4) {
      EXPECT_EQ(failed->status, JobStatus::kPending);
      delays.push_back(failed->run_after - failed->updated_at);
    } else {
      EXPECT_EQ(failed->status, JobStatus::kFailed);
    }
  }
  ASSERT_EQ(delays.size(), 3u);
  // Attempt n waits between base * 2^(n-1) / 2 and base * 2^(n-1).
  for (int i = 0; i < 3; ++i) {
    const absl::Duration full = absl::Milliseconds(100 << i);
    EXPECT_GE(delays[i], full / 2 - absl::Milliseconds(1)) << i;
    EXPECT_LE(delays[i], full + absl::Milliseconds(1)) << i;
  }
  EXPECT_GE(delays[1], delays[0]);
  EXPECT_GE(delays[2], delays[1]);
  pqxx::result dead =
      Sql("SELECT reason, job_id::text, raw_payload->>'Body' FROM dlq_jobs");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0][0].as<std::string>(), "boom 4");
  EXPECT_EQ(dead[0][1].as<std::string>(), id);
  EXPECT_EQ(dead[0][2].as<std::string>(), "hi");
}

TEST_F(PgJobLeasesTest, ANonRetryableFailureIsDeadAtOnce) {
  const std::string id = Enqueue("a");
  Job job = Claim(1).at(0);
  auto failed =
      store_->FailJob(id, job.lease_token, "bad input", false, Deadline());
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_EQ(failed->status, JobStatus::kFailed);
  EXPECT_EQ(Sql("SELECT count(*) FROM dlq_jobs")[0][0].as<int>(), 1);
}

TEST_F(PgJobLeasesTest, RetryJobRequeuesAFailedJobWithFreshAttempts) {
  const std::string id = Enqueue("a");
  EXPECT_EQ(store_->RetryJob(id, Deadline()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  Job job = Claim(1).at(0);
  ASSERT_TRUE(
      store_->FailJob(id, job.lease_token, "bad", false, Deadline()).ok());
  auto retried = store_->RetryJob(id, Deadline());
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->status, JobStatus::kPending);
  EXPECT_EQ(retried->attempts, 0);
  EXPECT_EQ(Ids(Claim(1)), IdList{id});
}

TEST_F(PgJobLeasesTest, MaintenanceRescuesLapsedLeasesAndFencesTheOldWorker) {
  const std::string id = Enqueue("a");
  const std::string last_chance = Enqueue("b", /*max_attempts=*/1);
  std::vector<Job> jobs = Claim(2, false, absl::Milliseconds(100));
  ASSERT_EQ(jobs.size(), 2u);
  absl::SleepFor(absl::Milliseconds(300));
  auto report = store_->RunMaintenance(absl::ZeroDuration(), 100, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->skipped);
  EXPECT_EQ(report->rescued, 1);
  EXPECT_EQ(report->dead_lettered, 1);

  std::vector<Job> again = Claim(1);
  ASSERT_EQ(Ids(again), IdList{id});
  EXPECT_EQ(again[0].attempts, 2);
  auto late = store_->CompleteJob(id, jobs[0].lease_token, Deadline());
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->CompleteJob(id, again[0].lease_token, Deadline()).ok());

  auto dead = store_->GetJob(last_chance, Deadline());
  EXPECT_EQ(dead->status, JobStatus::kFailed);
  EXPECT_NE(dead->last_error.find("lease expired"), std::string::npos);
  EXPECT_EQ(Sql("SELECT count(*) FROM dlq_jobs")[0][0].as<int>(), 1);
}

TEST_F(PgJobLeasesTest, MaintenanceLeavesAJobThatCompletedAlone) {
  const std::string id = Enqueue("a");
  Job job = Claim(1, false, absl::Milliseconds(100)).at(0);
  ASSERT_TRUE(store_->CompleteJob(id, job.lease_token, Deadline()).ok());
  absl::SleepFor(absl::Milliseconds(200));
  auto report = store_->RunMaintenance(absl::ZeroDuration(), 100, Deadline());
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->rescued, 0);
  EXPECT_EQ(store_->GetJob(id, Deadline())->status, JobStatus::kComplete);
}

TEST_F(PgJobLeasesTest, RetentionDeletesOnlyOldCompletedJobs) {
  const std::string old_done = Enqueue("a"), old_failed = Enqueue("b");
  const std::string new_done = Enqueue("c"), pending = Enqueue("d");
  for (const Job& job : Claim(3)) {
    if (job.id == old_failed) {
      ASSERT_TRUE(
          store_->FailJob(job.id, job.lease_token, "x", false, Deadline())
              .ok());
    } else {
      ASSERT_TRUE(
          store_->CompleteJob(job.id, job.lease_token, Deadline()).ok());
    }
  }
  Sql("SET session_replication_role = replica;"  // keep updated_at as set
      "UPDATE jobs SET updated_at = now() - interval '2 days', created_at = "
      "now() - interval '2 days' WHERE id IN ('" +
      old_done + "', '" + old_failed + "', '" + pending + "')");
  auto report = store_->RunMaintenance(absl::Hours(24), 100, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->deleted, 1);
  EXPECT_EQ(store_->GetJob(old_done, Deadline()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetJob(old_failed, Deadline()).ok());
  EXPECT_TRUE(store_->GetJob(new_done, Deadline()).ok());
  EXPECT_TRUE(store_->GetJob(pending, Deadline()).ok());
}

TEST_F(PgJobLeasesTest, ConcurrentCompletionsEachGetTheirOwnAnswer) {
  for (int i = 0; i < 32; ++i) Enqueue(absl::StrCat("chat-", i));
  std::vector<Job> jobs = Claim(32);
  ASSERT_EQ(jobs.size(), 32u);
  std::vector<absl::StatusOr<Job>> results(32, absl::UnknownError("not run"));
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&, i] {
      const std::string token =
          i == 5 ? "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab" : jobs[i].lease_token;
      while (!go) std::this_thread::yield();
      results[i] = store_->CompleteJob(jobs[i].id, token, Deadline());
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  for (int i = 0; i < 32; ++i) {
    if (i == 5) {
      EXPECT_EQ(results[i].status().code(),
                absl::StatusCode::kFailedPrecondition);
      continue;
    }
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->id, jobs[i].id);
    EXPECT_EQ(results[i]->status, JobStatus::kComplete);
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE status = 'complete'")[0][0]
                .as<int>(),
            31);
}

TEST_F(PgJobLeasesTest, OnlyOneProcessRunsMaintenanceAtATime) {
  pqxx::connection other(db_->url());
  pqxx::nontransaction(other).exec("SELECT pg_advisory_lock(7170393851237)");
  auto report = store_->RunMaintenance(absl::Hours(1), 100, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->skipped);
}

}  // namespace
}  // namespace jobqueue
