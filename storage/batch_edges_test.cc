// Group commit at its edges: a batch whose follow-up lookup fails inserts
// no job twice, and a stale lease batched with the current one is refused.
// Batches are formed deterministically by holding a row lock that the
// batch in flight needs, so the next calls queue up into one batch.

#include <future>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/pg_job_store.h"
#include "tests/support/lock_waiters.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/time_budget.h"

namespace jobqueue {
namespace {

NewJob AJob(const std::string& channel, const std::string& key = "",
            const std::string& payload = "{}") {
  return {.user_phone = "+15551234567",
          .source_channel_id = channel,
          .source_type = "dm",
          .payload_json = payload,
          .content_type = "text",
          .idempotency_key = key};
}

class BatchEdgesTest : public PgTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    // One batch at a time, so calls made while one runs form the next.
    store_ = std::make_unique<PgJobStore>(PgJobStore::Options{
        .url = db_->url(), .group_commit = {.max_in_flight = 1}});
  }

  std::unique_ptr<PgJobStore> store_;
};

TEST_F(BatchEdgesTest, ABatchWhoseLookupFailsInsertsNoJobTwice) {
  ASSERT_TRUE(store_->Enqueue(AJob("k", "SM-TAKEN"), Deadline()).ok());
  ASSERT_TRUE(store_->Enqueue(AJob("hold"), Deadline()).ok());
  // When the marked job is inserted, the job holding SM-TAKEN disappears,
  // so the batch's lookup of that key finds nothing.
  pqxx::connection admin(db_->url());
  pqxx::nontransaction(admin).exec(
      "CREATE FUNCTION drop_taken() RETURNS trigger LANGUAGE plpgsql AS $$"
      " BEGIN DELETE FROM jobs WHERE idempotency_key = 'SM-TAKEN';"
      " RETURN NULL; END $$;"
      "CREATE TRIGGER drop_taken AFTER INSERT ON jobs FOR EACH ROW"
      " WHEN (NEW.payload ? 'marker') EXECUTE FUNCTION drop_taken()");

  RowLock hold(db_->url(), ConversationRow("hold"));
  auto first = std::async(std::launch::async, [&] {
    return store_->Enqueue(AJob("hold"), Deadline());
  });
  const absl::Status stuck = WaitForLockWaiters(db_->url(), 1);
  ASSERT_TRUE(stuck.ok()) << stuck;
  auto marked = std::async(std::launch::async, [&] {
    return store_->Enqueue(AJob("a", "", R"({"marker": true})"), Deadline());
  });
  auto taken = std::async(std::launch::async, [&] {
    return store_->Enqueue(AJob("b", "SM-TAKEN"), Deadline());
  });
  // Time for both calls to join the next batch (300 ms on a plain build).
  absl::SleepFor(TimeBudget(absl::Milliseconds(300)));
  hold.Release();

  EXPECT_TRUE(first.get().ok());
  absl::StatusOr<EnqueueResult> marked_result = marked.get();
  ASSERT_TRUE(marked_result.ok()) << marked_result.status();
  EXPECT_TRUE(marked_result->created);
  EXPECT_EQ(taken.get().status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE payload ? 'marker'"), 1)
      << "the batch's inserted job was inserted again";
}

TEST_F(BatchEdgesTest, AStaleLeaseBatchedWithTheCurrentOneIsRefused) {
  ASSERT_TRUE(store_->Enqueue(AJob("x"), Deadline()).ok());
  ASSERT_TRUE(store_->Enqueue(AJob("j"), Deadline()).ok());
  auto x = store_->ClaimJobs({.worker_id = "w", .max_jobs = 1}, Deadline());
  ASSERT_TRUE(x.ok() && x->size() == 1u);
  // j's first lease lapses and is rescued; the second claim holds it now.
  auto stale = store_->ClaimJobs(
      {.worker_id = "w1", .max_jobs = 1, .lease = absl::Seconds(1)},
      Deadline());
  ASSERT_TRUE(stale.ok() && stale->size() == 1u);
  absl::SleepFor(absl::Milliseconds(1200));
  ASSERT_TRUE(
      store_->RunMaintenance(absl::ZeroDuration(), 10, Deadline()).ok());
  auto current =
      store_->ClaimJobs({.worker_id = "w2", .max_jobs = 1}, Deadline());
  ASSERT_TRUE(current.ok() && current->size() == 1u);
  const Job& j = (*current)[0];
  ASSERT_EQ(j.id, (*stale)[0].id);

  RowLock hold(db_->url(), absl::StrCat("SELECT 1 FROM jobs WHERE id = '",
                                        (*x)[0].id, "' FOR UPDATE"));
  auto first = std::async(std::launch::async, [&] {
    return store_->CompleteJob((*x)[0].id, (*x)[0].lease_token, Deadline());
  });
  const absl::Status stuck = WaitForLockWaiters(db_->url(), 1);
  ASSERT_TRUE(stuck.ok()) << stuck;
  auto late = std::async(std::launch::async, [&] {
    return store_->CompleteJob(j.id, (*stale)[0].lease_token, Deadline());
  });
  auto on_time = std::async(std::launch::async, [&] {
    return store_->CompleteJob(j.id, j.lease_token, Deadline());
  });
  // Time for both calls to join the next batch (300 ms on a plain build).
  absl::SleepFor(TimeBudget(absl::Milliseconds(300)));
  hold.Release();

  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(on_time.get().ok());
  EXPECT_EQ(late.get().status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace jobqueue
