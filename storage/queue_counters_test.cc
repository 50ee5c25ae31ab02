// The queue counters against the truth: after a mixed workload (the
// store's enqueues, claims, completions, failures, retries and cancels from
// several threads while maintenance folds the deltas, and an operator's
// plain INSERT, UPDATE, DELETE and TRUNCATE), GetQueueStats' counts equal
// a count of the jobs; a rolled-back write counts nothing; drift made by
// hand is undone by recount_queue_counts(), the documented repair; and the
// write path appends delta rows, never updating a shared one.

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "tests/support/store_fixture.h"

namespace jobqueue {
namespace {

using Counts = std::map<std::pair<std::string, std::string>, int64_t>;

absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

class QueueCountersTest : public StoreFixture {
 protected:
  // What GetQueueStats says, by (queue, status), zeros left out.
  Counts Counted() {
    absl::StatusOr<std::vector<QueueStatistics>> stats =
        store_->GetQueueStats("", 1, absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(stats.ok()) << stats.status();
    Counts counts;
    if (!stats.ok()) return counts;
    for (const QueueStatistics& s : *stats) {
      const std::pair<const char*, int64_t> by_status[] = {
          {"pending", s.pending},     {"processing", s.processing},
          {"scheduled", s.scheduled}, {"failed", s.failed},
          {"cancelled", s.cancelled}, {"complete", s.complete}};
      for (const auto& [status, n] : by_status) {
        if (n != 0) counts[{s.settings.name, status}] = n;
      }
    }
    return counts;
  }

  // A count of the jobs, by (queue, status).
  Counts Truth() {
    Counts counts;
    for (const pqxx::row& row :
         Sql("SELECT queue, status, count(*) FROM jobs GROUP BY 1, 2")) {
      counts[{row[0].as<std::string>(), row[1].as<std::string>()}] =
          row[2].as<int64_t>();
    }
    return counts;
  }

  NewJob JobIn(const std::string& queue, const std::string& channel) {
    NewJob job{.user_phone = "+15551234567",
               .source_channel_id = channel,
               .source_type = "dm",
               .payload_json = "{}",
               .content_type = "text"};
    job.queue = queue;
    return job;
  }
};

// One worker's share of the workload: enqueues, claims, and completes,
// fails (retryable or not) or cancels what it claimed, in `queue`.
void Work(PgJobStore& store, const std::string& queue, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    NewJob job{.user_phone = "+15551234567",
               .source_channel_id = absl::StrCat("c", i % 7),
               .source_type = "dm",
               .payload_json = "{}",
               .content_type = "text"};
    job.queue = queue;
    std::vector<NewJob> batch(3, job);
    batch[1].ordered = false;
    batch[2].delay = i % 4 == 0 ? absl::Hours(1) : absl::ZeroDuration();
    ASSERT_TRUE(store.EnqueueJobs(batch, Soon()).ok());
    ClaimRequest request{.worker_id = "w", .queues = {queue}};
    request.max_jobs = 3;
    absl::StatusOr<std::vector<Job>> claimed = store.ClaimJobs(request, Soon());
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    for (size_t k = 0; k < claimed->size(); ++k) {
      const Job& j = (*claimed)[k];
      switch ((i + k) % 4) {
        case 0:
          EXPECT_TRUE(store.CompleteJob(j.id, j.lease_token, Soon()).ok());
          break;
        case 1:
          EXPECT_TRUE(
              store.FailJob(j.id, j.lease_token, "x", i % 2 == 0, Soon()).ok());
          break;
        case 2:
          EXPECT_TRUE(store.CancelJob(j.id, "", Soon()).ok());
          break;
        default:
          break;  // left processing
      }
    }
  }
}

TEST_F(QueueCountersTest, CountsEqualTheJobsAfterAMixedWorkload) {
  std::vector<std::thread> workers;
  for (const char* queue : {"alpha", "beta", "alpha", "gamma"}) {
    workers.emplace_back([this, queue] { Work(*store_, queue, 40); });
  }
  // Maintenance folds deltas while the workers write.
  for (int i = 0; i < 20; ++i) {
    Maintain();
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(Counted(), Truth());

  // An operator's plain SQL: inserts in several statuses, moves between
  // queues and statuses, deletes.
  Sql("INSERT INTO jobs (source_channel_id, source_type, user_phone, payload,"
      " queue, status) SELECT 'sql' || i % 3, 'dm', '+15551234567', '{}',"
      " CASE WHEN i % 2 = 0 THEN 'alpha' ELSE 'delta' END,"
      " CASE WHEN i % 3 = 0 THEN 'complete' ELSE 'pending' END"
      " FROM generate_series(1, 60) i");
  Sql("UPDATE jobs SET queue = 'delta' WHERE queue = 'gamma'"
      " AND status = 'pending'");
  Sql("UPDATE jobs SET status = 'failed', last_error = 'by hand'"
      " WHERE queue = 'beta' AND status = 'pending'");
  Maintain();
  Sql("DELETE FROM jobs WHERE queue = 'alpha' AND status = 'complete'");
  EXPECT_EQ(Counted(), Truth());
  Maintain();
  EXPECT_EQ(Counted(), Truth());

  // A write rolled back counts nothing.
  EXPECT_ANY_THROW(
      Sql("DO $$ BEGIN DELETE FROM jobs; RAISE EXCEPTION 'no'; END $$"));
  EXPECT_EQ(Counted(), Truth());

  Sql("TRUNCATE jobs");
  EXPECT_EQ(Counted(), Counts());
}

// In-order claims (with and without a kind filter) and batches of
// completions append their queue counter deltas and count their
// conversations themselves, the triggers skipping them: the counts, the
// minute's claims and completions, and every conversation's counts come
// out as a count of the jobs says, with maintenance folding meanwhile.
TEST_F(QueueCountersTest, BatchedClaimsAndCompletionsCountThemselves) {
  std::vector<NewJob> jobs;
  for (int i = 0; i < 60; ++i) {
    jobs.push_back(JobIn("alpha", absl::StrCat("c", i % 9)));
    jobs.back().ordered = i % 5 != 0;
  }
  ASSERT_TRUE(store_->EnqueueJobs(jobs, Soon()).ok());
  std::vector<std::thread> workers;
  std::atomic<int> done{0};
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      for (int round = 0; round < 200 && done < 60; ++round) {
        ClaimRequest claim{.worker_id = absl::StrCat("w", w),
                           .queues = {"alpha"},
                           .max_jobs = 6};
        if (w == 1) claim.content_types = {"text"};
        absl::StatusOr<std::vector<Job>> claimed =
            store_->ClaimJobs(claim, Soon());
        ASSERT_TRUE(claimed.ok()) << claimed.status();
        std::vector<JobLease> leases;
        for (const Job& j : *claimed) leases.push_back({j.id, j.lease_token});
        for (const absl::Status& s : store_->CompleteJobs(leases, Soon())) {
          EXPECT_TRUE(s.ok()) << s;
        }
        done += static_cast<int>(leases.size());
      }
    });
  }
  for (int i = 0; i < 10; ++i) Maintain();
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(done, 60);
  EXPECT_EQ(Counted(), Truth());
  int64_t claimed = 0, completed = 0;
  absl::StatusOr<std::vector<QueueStatistics>> stats =
      store_->GetQueueStats("alpha", 2, Soon());
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 1u);
  for (const MinuteCounts& m : (*stats)[0].minutes) {
    claimed += m.claimed;
    completed += m.completed;
  }
  EXPECT_EQ(claimed, 60);
  EXPECT_EQ(completed, 60);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM conversations"
                   " WHERE pending_jobs <> 0 OR processing_jobs <> 0"),
            0);
}

TEST_F(QueueCountersTest, TheRepairRecountsDriftMadeByHand) {
  for (int i = 0; i < 5; ++i) Enqueue(absl::StrCat("c", i));
  Maintain();
  // Drift: counts edited, and jobs written with the triggers off.
  Sql("UPDATE queue_counts SET jobs = jobs + 7");
  Sql("BEGIN; SET LOCAL session_replication_role = replica;"
      " DELETE FROM jobs WHERE source_channel_id = 'c0'; COMMIT");
  EXPECT_NE(Counted(), Truth());
  EXPECT_EQ(SqlInt("SELECT recount_queue_counts()"), 1);
  EXPECT_EQ(Counted(), Truth());
  EXPECT_EQ(Counted()[std::make_pair("default", "pending")], 4);
}

TEST_F(QueueCountersTest, WritesAppendDeltasAndMaintenanceFoldsThem) {
  Enqueue("c1");
  Enqueue("c2");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM queue_count_deltas"), 2);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM queue_counts"), 0);
  // A lease extension changes no count and appends nothing.
  Claim(1);
  const int64_t after_claim = SqlInt("SELECT count(*) FROM queue_count_deltas");
  Sql("UPDATE jobs SET lease_expires_at = lease_expires_at + interval '1s'"
      " WHERE status = 'processing'");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM queue_count_deltas"), after_claim);
  EXPECT_GT(Maintain().counts_folded, 0);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM queue_count_deltas"), 0);
  EXPECT_EQ(Counted(), Truth());
  EXPECT_EQ(SqlInt("SELECT sum(entered) FROM queue_throughput"
                   " WHERE status = 'processing'"),
            1);
}

}  // namespace
}  // namespace jobqueue
