// Group commit's deadlines over the real PostgreSQL, through PgJobStore:
// a caller whose deadline passes while its batch waits for the database is
// answered alone and its job is never written, and the others in its batch
// are written once. The database is held by a transaction that keeps a
// conversation row locked, which the batch before theirs needs.

#include <future>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/pg_job_store.h"
#include "tests/support/lock_waiters.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/time_budget.h"

namespace jobqueue {
namespace {

using ::testing::HasSubstr;

NewJob AJob(const std::string& channel, const std::string& payload = "{}") {
  return {.user_phone = "+15551234567",
          .source_channel_id = channel,
          .source_type = "dm",
          .payload_json = payload,
          .content_type = "text"};
}

using GroupCommitPgTest = PgTest;

TEST_F(GroupCommitPgTest,
       ACallerWhoseDeadlinePassesBeforeItsBatchIsNotWritten) {
  // One batch at a time: the one stuck on the lock holds the database.
  PgJobStore store({.url = url(), .group_commit = {.max_in_flight = 1}});
  const absl::Time long_deadline = absl::Now() + TimeBudget(absl::Seconds(30));
  ASSERT_TRUE(store.Enqueue(AJob("hold"), long_deadline).ok());

  RowLock hold(url(), ConversationRow("hold"));
  auto stuck = std::async(std::launch::async, [&] {
    return store.Enqueue(AJob("hold"), long_deadline);
  });
  const absl::Status stuck_on_lock = WaitForLockWaiters(url(), 1);
  ASSERT_TRUE(stuck_on_lock.ok()) << stuck_on_lock;

  // Both join the next batch, in either order; neither enqueue has an
  // idempotency key, so a job written twice could not be told apart.
  const absl::Time start = absl::Now();
  auto impatient = std::async(std::launch::async, [&] {
    return store.Enqueue(AJob("a", R"({"who": "impatient"})"),
                         start + absl::Milliseconds(200));
  });
  auto patient = std::async(std::launch::async, [&] {
    return store.Enqueue(AJob("b", R"({"who": "patient"})"), long_deadline);
  });
  absl::StatusOr<EnqueueResult> short_result = impatient.get();
  EXPECT_EQ(short_result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(short_result.status().message()),
              HasSubstr("nothing was written"));
  EXPECT_LT(absl::Now() - start, TimeBudget(absl::Seconds(2)));
  hold.Release();

  EXPECT_TRUE(stuck.get().ok());
  absl::StatusOr<EnqueueResult> long_result = patient.get();
  ASSERT_TRUE(long_result.ok()) << long_result.status();
  EXPECT_TRUE(long_result->created);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs "
                   "WHERE payload->>'who' = 'patient'"),
            1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs "
                   "WHERE payload->>'who' = 'impatient'"),
            0)
      << "the job of a caller told nothing was written was written";
}

}  // namespace
}  // namespace jobqueue
