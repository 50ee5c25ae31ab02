// The tick round on PostgreSQL where only PostgreSQL decides: rounds racing
// in several sessions, a schedule another session holds, and a job that
// cannot be enqueued now. The cases for every store are in
// job_store_schedules_test.cc.

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/store_fixture.h"

namespace jobqueue {
namespace {

using ::testing::HasSubstr;

class PgSchedulesTest : public StoreFixture {
 protected:
  PgJobStore::Options StoreOptions(const std::string& url) override {
    PgJobStore::Options options = StoreFixture::StoreOptions(url);
    options.pool_size = 8;
    options.lock_timeout = absl::Milliseconds(200);
    return options;
  }

  // An hourly schedule `name` whose jobs go to `channel`.
  void Create(const std::string& name, const std::string& channel) {
    ScheduleSpec spec{.name = name,
                      .interval = absl::Hours(1),
                      .job = {.user_phone = "+15551234567",
                              .source_channel_id = channel,
                              .source_type = "dm",
                              .payload_json = R"({"Body": "tick"})",
                              .content_type = "text"}};
    absl::StatusOr<CreateScheduleResult> r =
        store_->CreateSchedule(spec, Deadline());
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Every schedule due at `t` (a whole second in the past).
  void AllDueAt(int64_t unix_seconds) {
    Sql(absl::StrCat("UPDATE schedules SET next_run_at = to_timestamp(",
                     unix_seconds, ")"));
  }

  int64_t Due() {
    return SqlInt("SELECT count(*) FROM schedules WHERE next_run_at <= now()");
  }
};

TEST_F(PgSchedulesTest, RacingRoundsEnqueueEachTickOnce) {
  constexpr int kSchedules = 40;
  constexpr int kThreads = 4;
  // Schedules of one channel are taken by different rounds, so rounds
  // cross conversations.
  for (int i = 0; i < kSchedules; ++i) {
    Create(absl::StrCat("s", i), absl::StrCat("c", i % 4));
  }
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  // Three rounds of ticks: each time every schedule is due again, at a
  // later time that is its latest tick (less than its hour ago).
  for (int64_t tick : {now - 3500, now - 2500, now - 1500}) {
    AllDueAt(tick);
    absl::Mutex mu;
    int enqueued = 0;
    std::vector<std::string> errors;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int round = 0; round < 100; ++round) {
          absl::StatusOr<ScheduleTickReport> r =
              store_->RunSchedules(3, Deadline());
          absl::MutexLock lock(&mu);
          if (!r.ok()) {
            errors.push_back(r.status().ToString());
            continue;
          }
          enqueued += r->enqueued;
          errors.insert(errors.end(), r->errors.begin(), r->errors.end());
          if (r->enqueued == 0 && enqueued == kSchedules) break;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_THAT(errors, ::testing::IsEmpty());
    EXPECT_EQ(enqueued, kSchedules) << "tick " << tick;
    EXPECT_EQ(Due(), 0);
  }
  // 40 schedules, 3 ticks each, one job per (schedule, tick).
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 3 * kSchedules);
  EXPECT_EQ(SqlInt("SELECT count(DISTINCT idempotency_key) FROM jobs "
                   "WHERE idempotency_key LIKE 'schedule:s%'"),
            3 * kSchedules);
  // Every conversation's positions are 1..n with no gap: the enqueue
  // statements kept order as for EnqueueJob.
  EXPECT_EQ(SqlInt("SELECT count(*) FROM (SELECT conversation, "
                   "max(position) - count(*) AS gap FROM jobs "
                   "GROUP BY conversation) g WHERE gap <> 0"),
            0);
}

TEST_F(PgSchedulesTest, ARoundSkipsAScheduleAnotherSessionHolds) {
  Create("held", "c-held");
  Create("free", "c-free");
  AllDueAt(absl::ToUnixSeconds(absl::Now()) - 5);
  pqxx::connection c(url());
  pqxx::work holder(c);
  holder.exec("SELECT 1 FROM schedules WHERE name = 'held' FOR UPDATE");

  // Skipped, not waited for: a wait would end in the lock timeout's error.
  absl::StatusOr<ScheduleTickReport> r = store_->RunSchedules(10, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->enqueued, 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE source_channel_id = "
                   "'c-held'"),
            0);
  holder.abort();
  r = store_->RunSchedules(10, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->enqueued, 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 2);
}

TEST_F(PgSchedulesTest, AJobThatCannotBeEnqueuedNowLeavesItsScheduleDue) {
  Create("blocked", "c-blocked");
  Create("free", "c-free");
  Enqueue("c-blocked");  // makes the conversation's row
  AllDueAt(absl::ToUnixSeconds(absl::Now()) - 5);
  pqxx::connection c(url());
  pqxx::work holder(c);
  holder.exec(
      "SELECT 1 FROM conversations WHERE conversation = 'default c-blocked' "
      "FOR UPDATE");

  absl::StatusOr<ScheduleTickReport> r = store_->RunSchedules(10, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->enqueued, 1);
  ASSERT_EQ(r->errors.size(), 1u) << ::testing::PrintToString(r->errors);
  EXPECT_THAT(r->errors[0], HasSubstr("blocked: "));
  EXPECT_EQ(SqlInt("SELECT count(*) FROM schedules WHERE name = 'blocked' "
                   "AND next_run_at <= now() AND last_run_at IS NULL"),
            1);
  holder.abort();
  r = store_->RunSchedules(10, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->enqueued, 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE idempotency_key LIKE "
                   "'schedule:%'"),
            2);
}

// Behind a transaction pooler the round's statements are sent unnamed with
// SET LOCAL settings, in the one transaction the round needs anyway.
TEST_F(PgSchedulesTest, ARoundWorksInTransactionPooling) {
  Create("pooled", "c-pooled");
  AllDueAt(absl::ToUnixSeconds(absl::Now()) - 5);
  PgJobStore::Options options = StoreOptions(url());
  options.pooling = DatabasePooling::kTransaction;
  PgJobStore pooled(options);
  absl::StatusOr<ScheduleTickReport> r = pooled.RunSchedules(10, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->enqueued, 1);
  EXPECT_TRUE(r->errors.empty());
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE source_channel_id = "
                   "'c-pooled'"),
            1);
  EXPECT_EQ(Due(), 0);
}

}  // namespace
}  // namespace jobqueue
