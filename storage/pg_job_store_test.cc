#include "storage/pg_job_store.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/lock_waiters.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

class PgJobStoreTest : public PgTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    store_ = std::make_unique<PgJobStore>(
        PgJobStore::Options{.url = db_->url(), .pool_size = 8});
  }

  NewJob AJob(const std::string& phone = "+15551234567") {
    return NewJob{.user_phone = phone,
                  .source_channel_id = "whatsapp:" + phone,
                  .source_type = "dm",
                  .payload_json = R"({"Body": "hi"})",
                  .content_type = "text"};
  }

  std::unique_ptr<PgJobStore> store_;
};

TEST_F(PgJobStoreTest, EnqueueStoresAPendingJobAndCreatesItsUser) {
  NewJob job = AJob();
  job.user_first_name = "Ada";
  auto r = store_->Enqueue(job, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->created);
  EXPECT_EQ(r->job.status, JobStatus::kPending);
  EXPECT_EQ(r->job.user_id, "+15551234567");
  EXPECT_EQ(r->job.user_phone, "+15551234567");
  EXPECT_EQ(r->job.source_type, "dm");
  EXPECT_EQ(r->job.payload_json, R"({"Body": "hi"})");
  EXPECT_EQ(r->job.id.size(), 36u);
  EXPECT_LT(absl::Now() - r->job.created_at, absl::Minutes(1));
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users WHERE phone_number = "
                   "'+15551234567' AND first_name = 'Ada'"),
            1);
}

TEST_F(PgJobStoreTest, AKnownFirstNameIsKeptWhenTheNewOneIsEmpty) {
  NewJob job = AJob();
  job.user_first_name = "Ada";
  ASSERT_TRUE(store_->Enqueue(job, Deadline()).ok());
  job.user_first_name = "";
  ASSERT_TRUE(store_->Enqueue(job, Deadline()).ok());
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users WHERE first_name = 'Ada'"), 1);
  job.user_first_name = "Grace";
  ASSERT_TRUE(store_->Enqueue(job, Deadline()).ok());
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users WHERE first_name = 'Grace'"), 1);
}

TEST_F(PgJobStoreTest, EnqueuesOfAKnownUserDoNotWaitForItsRow) {
  // Another transaction holds the user's row as an enqueue that renamed
  // the user does until it commits (the lock of an UPDATE, which the
  // foreign key checks of new jobs do not wait for). Enqueues that leave the
  // name as it is go ahead instead of waiting (a busy user's enqueues would
  // otherwise commit one at a time).
  PgJobStore store({.url = db_->url(), .lock_timeout = absl::Seconds(1)});
  NewJob job = AJob();
  job.user_first_name = "Ada";
  ASSERT_TRUE(store.Enqueue(job, Deadline()).ok());
  RowLock lock(db_->url(),
               "SELECT 1 FROM users WHERE phone_number = '+15551234567' "
               "FOR NO KEY UPDATE");
  for (const char* name : {"", "Ada"}) {
    job.user_first_name = name;
    auto one = store.Enqueue(job, Deadline());
    EXPECT_TRUE(one.ok()) << "name '" << name << "': " << one.status();
    auto batch = store.EnqueueJobs({job, job}, Deadline());
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const auto& r : *batch) {
      EXPECT_TRUE(r.ok()) << "name '" << name << "': " << r.status();
    }
  }
  lock.Release();
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 7);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users WHERE first_name = 'Ada'"), 1);
}

TEST_F(PgJobStoreTest, ARepeatedIdempotencyKeyReturnsTheFirstJob) {
  NewJob job = AJob();
  job.idempotency_key = "SM123";
  auto first = store_->Enqueue(job, Deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  job.payload_json = R"({"Body": "retry"})";
  auto second = store_->Enqueue(job, Deadline());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->job.id, first->job.id);
  EXPECT_EQ(second->job.payload_json, R"({"Body": "hi"})");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 1);
}

TEST_F(PgJobStoreTest, ConcurrentDuplicatesMakeExactlyOneRow) {
  constexpr int kCallers = 32;
  std::vector<std::thread> callers;
  std::vector<absl::StatusOr<EnqueueResult>> results(
      kCallers, absl::UnknownError("not run"));
  std::atomic<bool> go{false};
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      NewJob job = AJob();
      job.idempotency_key = "SMconcurrent";
      results[i] = store_->Enqueue(job, Deadline());
    });
  }
  go = true;
  for (std::thread& t : callers) t.join();
  int created = 0;
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    created += r->created;
    ids.insert(r->job.id);
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 1);
}

TEST_F(PgJobStoreTest, AConstraintViolationIsInvalidArgumentAndWritesNothing) {
  NewJob job = AJob("+15550000001");
  job.source_type = "broadcast";
  auto r = store_->Enqueue(job, Deadline());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("jobs_source_type_check"),
            std::string::npos)
      << r.status();
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 0);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users"), 0);
}

TEST_F(PgJobStoreTest, DatabaseErrorsReachCallersInTheApisWords) {
  // The service refuses these before they reach the store; a caller of the
  // store that does not gets the rule, never the database's text.
  NewJob job = AJob("+15550000002");
  job.payload_json = R"({"Body": "a\u0000b"})";
  auto r = store_->Enqueue(job, Deadline());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("U+0000"), std::string::npos)
      << r.status();
  EXPECT_EQ(r.status().message().find("ERROR"), std::string::npos)
      << r.status();
  EXPECT_EQ(r.status().message().find("escape sequence"), std::string::npos)
      << r.status();

  auto d = store_->RecordDeadLetter(
      {.source = "s", .reason = "r", .raw_payload_json = R"({"\u0000": 1})"},
      Deadline());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("U+0000"), std::string::npos)
      << d.status();

  auto e = store_->RecordDeadLetter(
      {.source = "s", .reason = "", .raw_payload_json = "{}"}, Deadline());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(),
            "reason is required (constraint dlq_jobs_reason_not_empty, "
            "SQLSTATE 23514)");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 0);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM dlq_jobs"), 0);
}

TEST_F(PgJobStoreTest, GetJobOfAnUnknownIdIsNotFound) {
  auto r = store_->GetJob("7d3f2f0c-2b9e-4a55-9c1e-000000000000", Deadline());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PgJobStoreTest, UpdateStatusFollowsTheAllowedTransitions) {
  auto job = store_->Enqueue(AJob(), Deadline());
  ASSERT_TRUE(job.ok());
  const std::string id = job->job.id;
  auto processing = store_->UpdateStatus(
      {.job_id = id, .to = JobStatus::kProcessing}, Deadline());
  ASSERT_TRUE(processing.ok()) << processing.status();
  EXPECT_EQ(processing->status, JobStatus::kProcessing);
  EXPECT_GE(processing->updated_at, processing->created_at);
  // Processing always has a lease: the caller holds it.
  EXPECT_FALSE(processing->lease_token.empty());
  EXPECT_GT(processing->lease_expires_at, absl::Now());
  EXPECT_EQ(processing->attempts, 1);
  auto without_lease = store_->UpdateStatus(
      {.job_id = id, .to = JobStatus::kComplete}, Deadline());
  EXPECT_EQ(without_lease.status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto complete = store_->UpdateStatus({.job_id = id,
                                        .to = JobStatus::kComplete,
                                        .lease_token = processing->lease_token},
                                       Deadline());
  ASSERT_TRUE(complete.ok()) << complete.status();
  auto back = store_->UpdateStatus({.job_id = id, .to = JobStatus::kPending},
                                   Deadline());
  EXPECT_EQ(back.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      back.status().message(),
      absl::StrCat("job ", id, " cannot move from 'complete' to 'pending'"));
  auto stored = store_->GetJob(id, Deadline());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->status, JobStatus::kComplete);
}

TEST_F(PgJobStoreTest, ExpectedStatusMakesUpdateACompareAndSet) {
  auto job = store_->Enqueue(AJob(), Deadline());
  ASSERT_TRUE(job.ok());
  const std::string id = job->job.id;
  auto wrong = store_->UpdateStatus({.job_id = id,
                                     .to = JobStatus::kComplete,
                                     .expected = JobStatus::kProcessing},
                                    Deadline());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(wrong.status().message().find("not the expected 'processing'"),
            std::string::npos);
  EXPECT_TRUE(store_
                  ->UpdateStatus({.job_id = id,
                                  .to = JobStatus::kProcessing,
                                  .expected = JobStatus::kPending},
                                 Deadline())
                  .ok());
}

TEST_F(PgJobStoreTest, UpdateStatusOfAnUnknownIdIsNotFound) {
  auto r =
      store_->UpdateStatus({.job_id = "7d3f2f0c-2b9e-4a55-9c1e-000000000000",
                            .to = JobStatus::kProcessing},
                           Deadline());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PgJobStoreTest, ListJobsPagesNewestFirstWithoutGapsOrRepeats) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    auto r = store_->Enqueue(AJob(), Deadline());
    ASSERT_TRUE(r.ok());
    ids.push_back(r->job.id);
  }
  ASSERT_TRUE(store_->Enqueue(AJob("+15559999999"), Deadline()).ok());
  JobFilter filter{.user_id = "+15551234567"};
  std::vector<std::string> seen;
  std::optional<JobCursor> cursor;
  std::vector<size_t> page_sizes;
  do {
    auto page = store_->ListJobs(filter, cursor, 3, Deadline());
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->jobs.size());
    for (const Job& j : page->jobs) seen.push_back(j.id);
    cursor = page->next;
  } while (cursor.has_value());
  EXPECT_EQ(page_sizes, (std::vector<size_t>{3, 3, 1}));
  std::vector<std::string> expected(ids.rbegin(), ids.rend());
  // Jobs enqueued in the same microsecond tie on created_at; compare as sets
  // and check the order separately.
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()),
            std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(seen.size(), ids.size());
  auto all = store_->ListJobs(filter, std::nullopt, 100, Deadline());
  ASSERT_TRUE(all.ok());
  for (size_t i = 1; i < all->jobs.size(); ++i) {
    EXPECT_GE(all->jobs[i - 1].created_at, all->jobs[i].created_at);
  }
}

TEST_F(PgJobStoreTest, ListJobsAppliesEveryFilter) {
  auto a = store_->Enqueue(AJob("+15550000001"), Deadline());
  NewJob group = AJob("+15550000002");
  group.source_type = "group";
  group.source_channel_id = "CH123";
  auto b = store_->Enqueue(group, Deadline());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(
      store_
          ->UpdateStatus({.job_id = b->job.id, .to = JobStatus::kProcessing},
                         Deadline())
          .ok());

  auto ids_for = [&](const JobFilter& f) {
    std::vector<std::string> ids;
    auto page = store_->ListJobs(f, std::nullopt, 50, Deadline());
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const Job& j : page->jobs) ids.push_back(j.id);
    }
    return ids;
  };
  using Ids = std::vector<std::string>;
  EXPECT_EQ(ids_for({.user_id = "+15550000001"}), Ids{a->job.id});
  EXPECT_EQ(ids_for({.status = JobStatus::kProcessing}), Ids{b->job.id});
  EXPECT_EQ(ids_for({.source_channel_id = "CH123"}), Ids{b->job.id});
  EXPECT_EQ(ids_for({.source_type = "dm"}), Ids{a->job.id});
  EXPECT_EQ(ids_for({.created_after = b->job.created_at + absl::Seconds(1)}),
            Ids{});
  EXPECT_EQ(ids_for({.created_before = a->job.created_at}), Ids{});
  EXPECT_EQ(ids_for({}).size(), 2u);
}

TEST_F(PgJobStoreTest, SurvivesTheServerDroppingItsIdleConnections) {
  auto job = store_->Enqueue(AJob(), Deadline());
  ASSERT_TRUE(job.ok());
  {
    pqxx::connection admin(db_->url());
    pqxx::nontransaction(admin).exec(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  }
  auto again = store_->GetJob(job->job.id, Deadline());
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST_F(PgJobStoreTest, AStatementStuckOnALockEndsAtTheStatementTimeout) {
  PgJobStore store(
      {.url = db_->url(), .statement_timeout = absl::Milliseconds(300)});
  auto job = store.Enqueue(AJob(), Deadline());
  ASSERT_TRUE(job.ok());
  RowLock lock(db_->url(), "SELECT 1 FROM jobs FOR UPDATE");
  const absl::Time start = absl::Now();
  auto r = store.UpdateStatus(
      {.job_id = job->job.id, .to = JobStatus::kProcessing}, Deadline());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded)
      << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(PgJobStoreTest, GroupCommitGivesEveryCallerItsOwnAnswer) {
  std::atomic<int> largest_batch{0};
  PgJobStore store({.url = db_->url(),
                    .group_commit = {.max_in_flight = 1},
                    .on_enqueue_batch = [&](int size) {
                      largest_batch = std::max(largest_batch.load(), size);
                    }});
  constexpr int kCallers = 64;
  std::vector<absl::StatusOr<EnqueueResult>> results(
      kCallers, absl::UnknownError("not run"));
  std::atomic<bool> go{false};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      NewJob job = AJob(absl::StrCat("+1555000", 1000 + i % 8));
      job.payload_json = absl::StrCat(R"({"i": )", i, "}");
      if (i % 2 == 0) job.idempotency_key = absl::StrCat("key-", i % 10);
      if (i == 7) job.source_type = "bogus";
      while (!go) std::this_thread::yield();
      results[i] = store.Enqueue(job, Deadline());
    });
  }
  go = true;
  for (std::thread& t : callers) t.join();

  EXPECT_GT(largest_batch, 1) << "no enqueues were grouped";
  std::map<std::string, std::string> id_by_key;
  std::map<std::string, int> created_by_key;
  for (int i = 0; i < kCallers; ++i) {
    if (i == 7) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    const Job& job = results[i]->job;
    if (i % 2 == 1) {
      EXPECT_EQ(job.user_phone, absl::StrCat("+1555000", 1000 + i % 8));
      EXPECT_TRUE(results[i]->created);
      EXPECT_EQ(job.payload_json, absl::StrCat(R"({"i": )", i, "}"));
      continue;
    }
    const std::string key = absl::StrCat("key-", i % 10);
    EXPECT_EQ(job.idempotency_key, key);
    auto [it, inserted] = id_by_key.emplace(key, job.id);
    if (!inserted) {
      EXPECT_EQ(it->second, job.id) << key;
    }
    created_by_key[key] += results[i]->created;
  }
  for (const auto& [key, created] : created_by_key) {
    EXPECT_EQ(created, 1) << key;
  }
  EXPECT_EQ(created_by_key.size(), 5u);
  // 31 valid jobs without a key, one per distinct key.
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 31 + 5);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM users"), 8);
}

TEST(PgJobStoreDownTest, AnUnreachableDatabaseIsUnavailableNotAHang) {
  PgJobStore store({.url = "postgresql://postgres@127.0.0.1:1/none"});
  const absl::Time start = absl::Now();
  auto r = store.GetJob("7d3f2f0c-2b9e-4a55-9c1e-000000000000",
                        start + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace jobqueue
