// The queue keeps its promises when SQL it did not write changes its rows,
// and when other sessions hold locks on them: an operator's fix takes effect
// at once, counts that drift are repaired wherever they are, and a locked
// row holds up only its own conversation. Against a real PostgreSQL.

#include <algorithm>
#include <chrono>
#include <future>
#include <iostream>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"
#include "tests/support/lock_waiters.h"
#include "tests/support/store_fixture.h"

namespace jobqueue {
namespace {

class OperatorSqlTest : public StoreFixture {
 protected:
  // m1 and m2 of conversation c, m1 failed into an hour's backoff.
  void HeadInBackoff(std::string* m1, std::string* m2) {
    *m1 = Enqueue("c");
    *m2 = Enqueue("c");
    ASSERT_EQ(Claim(), std::vector<std::string>{*m1});
    ASSERT_TRUE(store_
                    ->FailJob(*m1, leases_[*m1], "later", /*retryable=*/true,
                              Deadline())
                    .ok());
    ASSERT_TRUE(Claim().empty()) << "the head's backoff did not hold";
  }

  // A processing job of `channel` whose lease ran out a minute ago.
  std::string ExpiredLease(const std::string& channel) {
    const std::string id = Enqueue(channel);
    EXPECT_EQ(Claim(1), std::vector<std::string>{id});
    Sql(absl::StrCat("UPDATE jobs SET lease_expires_at = now() - interval",
                     " '1 minute' WHERE id = '", id, "'"));
    return id;
  }

  std::string Status(const std::string& id) {
    return Sql(absl::StrCat("SELECT status FROM jobs WHERE id = '", id,
                            "'"))[0][0]
        .as<std::string>();
  }

  // The conversation's counts as "pending/processing", or "none".
  std::string Counts(const std::string& channel) {
    pqxx::result r = Sql(absl::StrCat(
        "SELECT pending_jobs || '/' || processing_jobs FROM conversations"
        " WHERE source_channel_id = '",
        channel, "'"));
    return r.empty() ? "none" : r[0][0].as<std::string>();
  }
};

TEST_F(OperatorSqlTest, DeletingAHeadInBackoffFreesItsConversationAtOnce) {
  std::string m1, m2;
  HeadInBackoff(&m1, &m2);
  Sql(absl::StrCat("DELETE FROM jobs WHERE id = '", m1, "'"));
  EXPECT_EQ(Claim(), std::vector<std::string>{m2});
}

TEST_F(OperatorSqlTest, FailingAHeadInBackoffBySqlFreesItsConversation) {
  std::string m1, m2;
  HeadInBackoff(&m1, &m2);
  Sql(absl::StrCat("UPDATE jobs SET status = 'failed' WHERE id = '", m1, "'"));
  EXPECT_EQ(Claim(), std::vector<std::string>{m2});
}

TEST_F(OperatorSqlTest, RunAfterSetToNowMakesAHeadDueAtOnce) {
  std::string m1, m2;
  HeadInBackoff(&m1, &m2);
  Sql("UPDATE jobs SET run_after = now() WHERE status = 'pending'");
  EXPECT_EQ(Claim(), std::vector<std::string>{m1});
}

// A head pushed into the future leaves the front of the line: claims read
// the conversations due now first, and it comes back when it is due.
TEST_F(OperatorSqlTest, RunAfterPushedLaterMovesTheConversationBack) {
  const std::string later = Enqueue("later");
  Sql(absl::StrCat(
      "UPDATE jobs SET run_after = now() + interval '1 hour' WHERE id = '",
      later, "'"));
  EXPECT_EQ(SqlInt("SELECT count(*) FROM conversations WHERE"
                   " source_channel_id = 'later' AND ready_since > now()"),
            1)
      << "the conversation stays at the front of every claim's scan";
  const std::string now = Enqueue("now");
  EXPECT_EQ(Claim(), std::vector<std::string>{now});
  Sql(absl::StrCat("UPDATE jobs SET run_after = now() WHERE id = '", later,
                   "'"));
  EXPECT_EQ(Claim(), std::vector<std::string>{later});
}

// A row inserted by plain SQL and skipped by ON CONFLICT DO NOTHING is not
// counted: its conversation goes on at once.
TEST_F(OperatorSqlTest, AnInsertSkippedByOnConflictChangesNoCounts) {
  auto first = store_->Enqueue({.user_phone = "+15551234567",
                                .source_channel_id = "p",
                                .source_type = "dm",
                                .payload_json = "{}",
                                .content_type = "text",
                                .idempotency_key = "SM-1"},
                               Deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(Claim(), std::vector<std::string>{first->job.id});
  Complete(first->job.id);
  for (const char* status : {"pending", "processing"}) {
    Sql(absl::StrCat(
        "INSERT INTO jobs (user_id, source_channel_id, source_type,"
        " user_phone, payload, idempotency_key, status) VALUES"
        " ('+15551234567', 'p', 'dm', '+15551234567', '{}', 'SM-1', '",
        status, "') ON CONFLICT DO NOTHING"));
  }
  EXPECT_EQ(Counts("p"), "0/0");
  const std::string next = Enqueue("p");
  EXPECT_EQ(Claim(), std::vector<std::string>{next});
}

// An insert that gives the position itself is counted like any other, in a
// conversation that had no row yet and in one that had.
TEST_F(OperatorSqlTest, AnInsertWithItsOwnPositionIsCounted) {
  const std::string m1 = Enqueue("known");
  Sql("INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone,"
      " payload, position) VALUES"
      " ('+15551234567', 'fresh', 'dm', '+15551234567', '{}', 7),"
      " ('+15551234567', 'known', 'dm', '+15551234567', '{}', 50)");
  EXPECT_EQ(Counts("fresh"), "1/0");
  EXPECT_EQ(Counts("known"), "2/0");
  EXPECT_EQ(Claim().size(), 2u);
  // The next job of `known` goes after the one placed at 50.
  const std::string m3 = Enqueue("known");
  EXPECT_GT(
      SqlInt(absl::StrCat("SELECT position FROM jobs WHERE id = '", m3, "'")),
      50);
}

// Counts written while triggers were off (a restore with
// session_replication_role = replica, or a hand edit) are found and set
// right by maintenance, even behind more waiting conversations than one
// round reads.
TEST_F(OperatorSqlTest, DriftIsRepairedBehindAnyNumberOfWaitingConversations) {
  AddConversations("waiting", 2500, 1);
  const std::string stuck = Enqueue("zz-stuck");
  Sql("UPDATE conversations SET processing_jobs = 1"
      " WHERE source_channel_id = 'zz-stuck'");
  Sql("UPDATE conversations SET pending_jobs = 0"
      " WHERE source_channel_id = 'waiting-17'");
  pqxx::connection c(db_->url());
  pqxx::nontransaction replica(c);
  replica.exec("SET session_replication_role = replica");
  replica.exec(
      "INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone,"
      " payload, position) VALUES"
      " ('+15551234567', 'zz-lost', 'dm', '+15551234567', '{}', 1)");
  ASSERT_EQ(Counts("zz-lost"), "none");

  for (int round = 0; round < 10; ++round) Maintain();
  EXPECT_EQ(Counts("zz-stuck"), "1/0");
  EXPECT_EQ(Counts("zz-lost"), "1/0");
  EXPECT_EQ(Counts("waiting-17"), "1/0");
  const std::vector<std::string> all = Claim(3000);
  EXPECT_EQ(all.size(), 2502u) << "a conversation stayed unclaimable";
}

// An operator's open transaction that changed one job holds its
// conversation's row: rescue of every other lapsed lease goes on, and the
// held one is rescued once the transaction ends.
TEST_F(OperatorSqlTest, ALockedConversationDoesNotStopLeaseRescue) {
  const std::string a = ExpiredLease("a");
  const std::string waiting = Enqueue("a");
  const std::string b = ExpiredLease("b");
  pqxx::connection op(db_->url());
  pqxx::work fix(op);
  fix.exec(absl::StrCat("UPDATE jobs SET status = 'failed' WHERE id = '",
                        waiting, "'"));

  const absl::Time start = absl::Now();
  auto report = store_->RunMaintenance(absl::ZeroDuration(), 100,
                                       absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(report->rescued, 1);
  EXPECT_EQ(Status(b), "pending");
  EXPECT_EQ(Status(a), "processing");

  fix.commit();
  EXPECT_EQ(Maintain().rescued, 1);
  EXPECT_EQ(Status(a), "pending");
}

// Retention deletes completed jobs of a conversation whose row is locked:
// a finished job changes no count.
TEST_F(OperatorSqlTest, ALockedConversationDoesNotStopRetention) {
  const std::string done = Enqueue("a");
  ASSERT_EQ(Claim(), std::vector<std::string>{done});
  Complete(done);
  Enqueue("a");
  RowLock hold(db_->url(), ConversationRow("a"));
  const absl::Time start = absl::Now();
  auto report = store_->RunMaintenance(absl::Milliseconds(1), 100,
                                       absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(report->deleted, 1);
}

// A claim that ignores conversation order skips a conversation whose row
// another session holds instead of waiting on it.
TEST_F(OperatorSqlTest, AClaimIgnoringOrderSkipsALockedConversation) {
  Enqueue("a");
  const std::string b = Enqueue("b");
  RowLock hold(db_->url(), ConversationRow("a"));
  const absl::Time start = absl::Now();
  auto claimed = store_->ClaimJobs(
      {.worker_id = "w", .max_jobs = 10, .ignore_conversation_order = true},
      absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ASSERT_EQ(claimed->size(), 1u);
  EXPECT_EQ((*claimed)[0].id, b);
}

// Concurrent enqueues share a batch; one of them goes to a conversation an
// operator's transaction holds. The others are answered, and it is told
// that nothing was written, long before its deadline.
TEST_F(OperatorSqlTest, ALockedConversationHoldsUpOnlyItsOwnEnqueues) {
  Enqueue("held");
  RowLock hold(db_->url(), ConversationRow("held"));
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  std::vector<std::future<absl::StatusOr<EnqueueResult>>> calls;
  for (int i = 0; i < 8; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      return store_->Enqueue(
          {.user_phone = "+15551234567",
           .source_channel_id =
               i == 0 ? std::string("held") : absl::StrCat("c", i),
           .source_type = "dm",
           .payload_json = "{}",
           .content_type = "text"},
          deadline);
    }));
  }
  const absl::Time start = absl::Now();
  for (int i = 1; i < 8; ++i) {
    absl::StatusOr<EnqueueResult> r = calls[i].get();
    EXPECT_TRUE(r.ok()) << "c" << i << ": " << r.status();
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10))
      << "the other conversations waited for the held one";
  absl::StatusOr<EnqueueResult> held = calls[0].get();
  EXPECT_EQ(held.status().code(), absl::StatusCode::kAborted) << held.status();
  hold.Release();
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 8) << "one job per call";
}

// The row of a conversation with no active job for conversation_retention
// is removed (the table holds only recent conversations); its next jobs
// make a new one and keep their order. A row whose counts say idle while a
// job of it waits is kept.
TEST_F(OperatorSqlTest, IdleConversationRowsAreRemoved) {
  const std::string done = Enqueue("gone");
  ASSERT_EQ(Claim(), std::vector<std::string>{done});
  Complete(done);
  Enqueue("busy");
  const std::string waiting = Enqueue("miscounted");
  Sql("UPDATE conversations SET pending_jobs = 0"
      " WHERE source_channel_id = 'miscounted'");
  PgJobStore::Options options = StoreOptions(db_->url());
  options.conversation_retention = absl::Milliseconds(1);
  PgJobStore store(options);
  absl::SleepFor(absl::Milliseconds(20));
  auto report = store.RunMaintenance(absl::ZeroDuration(), 100, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->idle_removed, 1);
  EXPECT_EQ(Counts("gone"), "none");
  EXPECT_EQ(Counts("busy"), "1/0");
  EXPECT_EQ(Counts("miscounted"), "1/0");

  const std::string m1 = Enqueue("gone");
  const std::string m2 = Enqueue("gone");
  std::vector<std::string> claimed = Claim();
  EXPECT_EQ(claimed.size(), 3u);
  EXPECT_NE(std::find(claimed.begin(), claimed.end(), m1), claimed.end());
  EXPECT_NE(std::find(claimed.begin(), claimed.end(), waiting), claimed.end());
  Complete(m1);
  EXPECT_EQ(Claim(), std::vector<std::string>{m2});
}

// Taking a head by hand reads the conversation's row and the jobs before the
// head, not the jobs behind it.
TEST_F(OperatorSqlTest, ProcessingByHandCostsTheSameBehindAnyBacklog) {
  auto by_hand = [&](const std::string& channel) {
    const std::string head =
        Sql(absl::StrCat("SELECT id FROM jobs WHERE source_channel_id = '",
                         channel, "' ORDER BY position LIMIT 1"))[0][0]
            .as<std::string>();
    return Buffers(absl::StrCat("EXECUTE by_hand('", head,
                                "', 'processing', '', '', 30000)"),
                   absl::StrCat("PREPARE by_hand AS ", UpdateStatusSql()));
  };
  AddConversations("short", 1, 10);
  Sql("ANALYZE jobs; ANALYZE conversations");
  const int64_t short_backlog = by_hand("short-1");
  // Positions given: rows added one by one through the insert trigger
  // rewrite one conversation row, in quadratic time.
  Sql("INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone,"
      " payload, position) SELECT '+15551234567', 'long', 'dm',"
      " '+15551234567', '{}', n FROM generate_series(1, 20000) n");
  Sql("ANALYZE jobs; ANALYZE conversations");
  const int64_t long_backlog = by_hand("long");
  std::cout << "processing by hand: " << short_backlog << " buffers with 9"
            << " jobs behind the head, " << long_backlog << " with 19,999\n";
  EXPECT_LE(long_backlog, 2 * short_backlog + 50);
}

}  // namespace
}  // namespace jobqueue
