#include "storage/queue_stats.h"

#include <pqxx/pqxx>

#include "gtest/gtest.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

class QueueStatsTest : public PgTest {
 protected:
  // The queue now, read with a deadline of 10 s.
  auto Read() {
    return QueueStats({.url = db_->url()})
        .Read(absl::Now() + absl::Seconds(10));
  }

  // A job in `status` created `age` ago.
  void InsertJob(const std::string& status, const std::string& age) {
    pqxx::connection c(db_->url());
    pqxx::nontransaction txn(c);
    txn.exec0(
        "INSERT INTO users (phone_number) VALUES ('+15550000001') "
        "ON CONFLICT DO NOTHING");
    txn.exec_params0(
        "INSERT INTO jobs (user_id, user_phone, source_channel_id, "
        "source_type, payload, status, created_at) VALUES ('+15550000001', "
        "'+15550000001', 'c', 'dm', '{}', $1, now() - $2::interval)",
        status, age);
  }
};

using Counts = std::map<std::string, int64_t>;

TEST_F(QueueStatsTest, AnEmptyQueueHasEveryStatusAtZero) {
  auto snapshot = Read();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->jobs_by_status, (Counts{{"cancelled", 0},
                                              {"complete", 0},
                                              {"failed", 0},
                                              {"pending", 0},
                                              {"processing", 0},
                                              {"scheduled", 0}}));
  EXPECT_EQ(snapshot->oldest_pending_age, absl::ZeroDuration());
}

TEST_F(QueueStatsTest, CountsByStatusAndAgesTheOldestPendingJob) {
  InsertJob("pending", "90 seconds");
  InsertJob("pending", "5 seconds");
  InsertJob("complete", "1 hour");
  InsertJob("failed", "2 hours");
  InsertJob("scheduled", "1 second");
  InsertJob("cancelled", "3 hours");
  auto snapshot = Read();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->jobs_by_status, (Counts{{"cancelled", 1},
                                              {"complete", 1},
                                              {"failed", 1},
                                              {"pending", 2},
                                              {"processing", 0},
                                              {"scheduled", 1}}));
  EXPECT_GE(snapshot->oldest_pending_age, absl::Seconds(90));
  EXPECT_LT(snapshot->oldest_pending_age, absl::Seconds(120));
}

TEST_F(QueueStatsTest, ListsEveryQueueWithSettingsAndWhetherItIsPaused) {
  auto none = Read();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->queue_paused.empty());
  {
    pqxx::connection c(db_->url());
    pqxx::nontransaction txn(c);
    txn.exec0(
        "INSERT INTO queues (name, paused_at, pause_reason) VALUES "
        "('held', now(), 'provider down')");
    txn.exec0("INSERT INTO queues (name, max_run_ms) VALUES ('open', 60000)");
  }
  auto snapshot = Read();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->queue_paused,
            (std::map<std::string, bool>{{"held", true}, {"open", false}}));
}

TEST_F(QueueStatsTest, AnUnreachableDatabaseIsUnavailable) {
  auto snapshot = QueueStats({.url = "postgresql://postgres@127.0.0.1:1/none"})
                      .Read(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(QueueStatsTest, ABigTableCountsCompletedJobsFromTheEstimate) {
  for (int i = 0; i < 10; ++i) InsertJob("complete", "1 hour");
  InsertJob("pending", "1 second");
  pqxx::connection c(db_->url());
  pqxx::nontransaction(c).exec0("ANALYZE jobs");  // the estimate: 11 rows
  for (int i = 0; i < 5; ++i) InsertJob("complete", "1 minute");
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  auto exact = QueueStats({.url = db_->url()}).Read(deadline);
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_EQ(exact->jobs_by_status["complete"], 15);
  auto estimated =
      QueueStats({.url = db_->url(), .exact_count_limit = 5}).Read(deadline);
  ASSERT_TRUE(estimated.ok()) << estimated.status();
  EXPECT_EQ(estimated->jobs_by_status["complete"], 10);
  // The active statuses stay exact.
  EXPECT_EQ(estimated->jobs_by_status["pending"], 1);
}

}  // namespace
}  // namespace jobqueue
