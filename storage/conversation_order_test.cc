// A conversation's jobs are handed out one at a time in the order their
// enqueues committed, and a claim's cost does not grow with the jobs waiting
// in blocked conversations. Against a real PostgreSQL.

#include <algorithm>
#include <future>
#include <iostream>
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"
#include "tests/support/lock_waiters.h"
#include "tests/support/store_fixture.h"

namespace jobqueue {
namespace {

class ConversationOrderTest : public StoreFixture {
 protected:
  // Shared buffers the in-order claim of 10 touches: the more of its
  // generic plan (as the server runs it on a connection of its own) and
  // the plan made for its values (as through a transaction pooler).
  int64_t ClaimBuffers() {
    int64_t most = 0;
    for (const char* mode : {"force_generic_plan", "force_custom_plan"}) {
      most =
          std::max(most, Buffers("EXECUTE claim(10, 30000, 'w', '{default}')",
                                 absl::StrCat("SET LOCAL jit = off;"
                                              " SET LOCAL plan_cache_mode = ",
                                              mode, "; PREPARE claim AS ",
                                              ClaimInOrderSql())));
    }
    return most;
  }
  // Index entries its scans read, live or not: of the ready conversations
  // and of their heads. (Locking and updating the conversations it claims
  // reads those rows' own versions, whatever the rest of the queue holds.)
  int64_t ClaimIndexEntries() {
    return IndexEntries("EXECUTE claim(10, 30000, 'w', '{default}')",
                        absl::StrCat("PREPARE claim AS ", ClaimInOrderSql()),
                        {"conversations_queue_priority_ready_idx",
                         "jobs_active_conversation_position_idx",
                         "jobs_unordered_priority_due_idx"});
  }

  // Statistics of a queue whose 10,000 jobs are all complete, kept while
  // the test adds more (autovacuum off).
  void AnalyzeAnIdleQueue() {
    Sql("ALTER TABLE jobs SET (autovacuum_enabled = false)");
    Sql("ALTER TABLE conversations SET (autovacuum_enabled = false)");
    AddConversations("done", 10000, 1);
    Sql("UPDATE jobs SET status = 'complete'");
    Sql("VACUUM ANALYZE jobs");
    Sql("VACUUM ANALYZE conversations");
  }

  // Conversations whose counts differ from a count of their jobs.
  int64_t Miscounted() {
    return SqlInt(
        "SELECT count(*) FROM conversations c CROSS JOIN LATERAL ("
        " SELECT count(*) FILTER (WHERE status = 'pending') AS p,"
        "  count(*) FILTER (WHERE status = 'processing') AS q"
        " FROM jobs j WHERE j.conversation = c.conversation) t"
        " WHERE c.pending_jobs <> t.p OR c.processing_jobs <> t.q");
  }
};

// In-order claims (with and without a kind filter) count the heads they
// take in their conversations themselves, and the update trigger skips
// them: after claims running side by side, every conversation's counts
// equal its jobs', and none has two jobs processing.
TEST_F(ConversationOrderTest, InOrderClaimsKeepTheirConversationsCounted) {
  AddConversations("c", 60, 3);
  std::vector<std::future<std::string>> claimers;
  for (int w = 0; w < 4; ++w) {
    claimers.push_back(std::async(std::launch::async, [&, w] {
      ClaimRequest claim{.worker_id = absl::StrCat("w", w), .max_jobs = 4};
      if (w % 2 == 1) claim.content_types = {"text"};
      for (int round = 0; round < 5; ++round) {
        auto claimed = store_->ClaimJobs(claim, Deadline());
        if (!claimed.ok()) return claimed.status().ToString();
      }
      return std::string();
    }));
  }
  for (auto& claimer : claimers) EXPECT_EQ(claimer.get(), "");
  EXPECT_GT(SqlInt("SELECT count(*) FROM jobs WHERE status = 'processing'"), 0);
  EXPECT_EQ(Miscounted(), 0);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM conversations"
                   " WHERE processing_jobs > 1"),
            0);
}

// A claim's note to the trigger ends with the claim: an operator's UPDATE
// later in the same transaction is counted as any other SQL is.
TEST_F(ConversationOrderTest, AWriteAfterAClaimInItsTransactionIsCounted) {
  AddConversations("c", 3, 2);
  Sql(absl::StrCat("BEGIN; PREPARE claim AS ", ClaimInOrderSql(),
                   "; EXECUTE claim(3, 30000, 'w', '{default}');"
                   " UPDATE jobs SET status = 'complete', lease_token = NULL"
                   " WHERE status = 'processing'; COMMIT;"));
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'complete'"), 3);
  EXPECT_EQ(Miscounted(), 0);
  EXPECT_EQ(SqlInt("SELECT sum(processing_jobs) FROM conversations"), 0);
}

// The earlier message's transaction commits last: it is still handed out
// first, and the later one waits until it is done.
TEST_F(ConversationOrderTest, AnOpenEarlierInsertKeepsItsPlace) {
  pqxx::connection slow(db_->url());
  pqxx::work slow_batch(slow);
  const std::string first =
      slow_batch
          .exec1(
              "INSERT INTO jobs (user_id, source_channel_id, source_type,"
              " user_phone, payload) VALUES ('+15551234567', 'c', 'dm',"
              " '+15551234567', '{}') RETURNING id")[0]
          .as<std::string>();
  auto second = std::async(std::launch::async, [&] { return Enqueue("c"); });
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(300)),
            std::future_status::timeout)
      << "the later enqueue committed before the earlier one";
  EXPECT_TRUE(Claim().empty());
  slow_batch.commit();
  const std::string later = second.get();

  EXPECT_EQ(Claim(), std::vector<std::string>{first});
  EXPECT_TRUE(Claim().empty()) << "two jobs of one conversation processing";
  Complete(first);
  EXPECT_EQ(Claim(), std::vector<std::string>{later});
}

TEST_F(ConversationOrderTest, ARetriedJobGoesToTheEndOfItsConversation) {
  const std::string m1 = Enqueue("c");
  const std::string m2 = Enqueue("c");
  ASSERT_EQ(Claim(), std::vector<std::string>{m1});
  ASSERT_TRUE(
      store_->FailJob(m1, leases_[m1], "boom", /*retryable=*/false, Deadline())
          .ok());
  ASSERT_EQ(Claim(), std::vector<std::string>{m2});
  const std::string m3 = Enqueue("c");
  auto retried = store_->RetryJob(m1, Deadline());
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(Claim().empty()) << "the retried job ran beside m2";
  Complete(m2);
  EXPECT_EQ(Claim(), std::vector<std::string>{m3});
  Complete(m3);
  EXPECT_EQ(Claim(), std::vector<std::string>{m1});
}

TEST_F(ConversationOrderTest, ProcessingByHandTakesOnlyTheHead) {
  const std::string m1 = Enqueue("c");
  const std::string m2 = Enqueue("c");
  auto early = store_->UpdateStatus(
      {.job_id = m2, .to = JobStatus::kProcessing}, Deadline());
  EXPECT_EQ(early.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(early.status().message().find(m1), std::string::npos)
      << early.status();
  auto head = store_->UpdateStatus({.job_id = m1, .to = JobStatus::kProcessing},
                                   Deadline());
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_FALSE(head->lease_token.empty());
  EXPECT_EQ(store_
                ->UpdateStatus({.job_id = m2, .to = JobStatus::kProcessing},
                               Deadline())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Claim().empty());
}

TEST_F(ConversationOrderTest, ABlockedBacklogCostsAClaimNothing) {
  // 50 ready conversations, behind an older backlog of a conversation whose
  // head is processing.
  const std::string head = Enqueue("viral");
  ASSERT_EQ(Claim(1), std::vector<std::string>{head});
  auto add_ready = [&](int from, int to) {
    Sql(absl::StrCat(
        "INSERT INTO jobs (user_id, source_channel_id, source_type,"
        " user_phone, payload) SELECT '+15551234567', 'ready-' || n, 'dm',"
        " '+15551234567', '{}' FROM generate_series(",
        from, ", ", to, ") n"));
    Sql("ANALYZE jobs; ANALYZE conversations");
  };
  add_ready(1, 50);
  const int64_t without_backlog = ClaimBuffers();
  Sql("UPDATE jobs SET status = 'complete' WHERE source_channel_id LIKE "
      "'ready-%'");
  // Loaded with positions given (one statement adding many rows to one
  // conversation through the insert trigger costs quadratic time), then
  // counted.
  Sql("INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone,"
      " payload, position) SELECT '+15551234567', 'viral', 'dm',"
      " '+15551234567', '{}', 1 + n FROM generate_series(1, 20000) n");
  Sql("UPDATE conversations SET last_position = 20001, pending_jobs = 20000"
      " WHERE source_channel_id = 'viral'");
  add_ready(51, 100);
  const int64_t with_backlog = ClaimBuffers();
  std::cout << "claim of 10: " << without_backlog << " buffers, "
            << with_backlog << " behind a backlog of 20000\n";
  EXPECT_LE(with_backlog, 2 * without_backlog + 50)
      << "without the backlog " << without_backlog << " buffers, with it "
      << with_backlog;

  const std::vector<std::string> claimed = Claim(10);
  EXPECT_EQ(claimed.size(), 10u);
  pqxx::result viral =
      Sql("SELECT count(*) FROM jobs WHERE source_channel_id = 'viral'"
          " AND status = 'processing'");
  EXPECT_EQ(viral[0][0].as<int>(), 1);
}

TEST_F(ConversationOrderTest, AHeadInBackoffHoldsOnlyItsOwnConversation) {
  const std::string m1 = Enqueue("c");
  Enqueue("c");
  const std::string other = Enqueue("d");
  ASSERT_EQ(Claim(1), std::vector<std::string>{m1});
  ASSERT_TRUE(
      store_->FailJob(m1, leases_[m1], "later", /*retryable=*/true, Deadline())
          .ok());
  // m1 waits out an hour's backoff; m2 waits for m1; d goes on.
  EXPECT_EQ(Claim(), std::vector<std::string>{other});
}

// Heads waiting out a backoff are due later than every ready head, so a
// claim reads none of them, however many there are.
TEST_F(ConversationOrderTest, HeadsInBackoffCostAClaimNothing) {
  AddConversations("ready", 50, 1);
  Sql("ANALYZE jobs; ANALYZE conversations");
  const int64_t alone = ClaimBuffers();
  Sql("UPDATE jobs SET status = 'complete'");
  AddConversations("backoff", 2000, 2);
  ASSERT_EQ(Claim(2000).size(), 2000u);
  Sql("UPDATE jobs SET status = 'pending', lease_token = NULL,"
      " lease_expires_at = NULL, run_after = now() + interval '1 hour'"
      " WHERE status = 'processing'");
  AddConversations("ready", 50, 1);
  Sql("ANALYZE jobs; ANALYZE conversations");
  const int64_t behind_backoff = ClaimBuffers();
  std::cout << "claim of 10: " << alone << " buffers, " << behind_backoff
            << " beside 2000 heads in backoff\n";
  EXPECT_LE(behind_backoff, 2 * alone + 50);
  const std::vector<std::string> claimed = Claim(100);
  EXPECT_EQ(claimed.size(), 50u) << "only the ready conversations' heads";
}

// Statistics taken while nothing was pending (an idle queue, then a burst)
// must not turn a claim of 10 into a read of every pending job.
TEST_F(ConversationOrderTest, AClaimStaysCheapOnStaleStatistics) {
  AnalyzeAnIdleQueue();
  AddConversations("burst", 1000, 20);
  Sql("ANALYZE conversations");
  const int64_t stale = ClaimBuffers();
  Sql("ANALYZE jobs");
  const int64_t fresh = ClaimBuffers();
  std::cout << "claim of 10: " << stale << " buffers on stale statistics, "
            << fresh << " on fresh ones\n";
  EXPECT_LE(stale, 2 * fresh + 50);
}

// The drift recount reads a bounded number of conversations per round,
// however many are ready and whatever the statistics say.
TEST_F(ConversationOrderTest, TheRecountReadsABoundedNumberOfConversations) {
  AnalyzeAnIdleQueue();
  AddConversations("ready", 100, 20);
  const int64_t few = Buffers("SELECT recount_conversations(20)");
  AddConversations("more", 1000, 20);
  const int64_t many = Buffers("SELECT recount_conversations(20)");
  std::cout << "recount of 20: " << few << " buffers among 100 ready, " << many
            << " among 1100\n";
  EXPECT_LE(many, 2 * few + 50);
}

// A session holding an old snapshot (pg_dump, an idle REPEATABLE READ
// transaction) keeps every version of the conversation rows that claims and
// completions wrote since; a claim still reads only about the versions of
// the conversations waiting now.
TEST_F(ConversationOrderTest, AClaimStaysCheapWhileALongSnapshotIsHeld) {
  AddConversations("c", 100, 30);
  Sql("ANALYZE jobs; ANALYZE conversations");
  Maintain();
  const int64_t before = ClaimIndexEntries();
  pqxx::connection dump(db_->url());
  pqxx::work snapshot(dump, "pg_dump");
  snapshot.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  snapshot.exec("SELECT count(*) FROM jobs");
  for (int round = 0; round < 20; ++round) {
    for (const std::string& id : Claim(100)) Complete(id);
    Maintain();
  }
  // A floor becomes the floor the round after it is taken.
  Maintain();
  const int64_t after = ClaimIndexEntries();
  std::cout << "claim of 10: " << before << " index entries read, " << after
            << " after 2,000 jobs ran beside a held snapshot\n";
  EXPECT_LE(after, 2 * before + 50);
}

// Claims ignoring order and batched completions update many conversations
// at once, beside enqueue batches; their rows are locked in one order, so
// no two of them wait on each other.
TEST_F(ConversationOrderTest, ConcurrentClaimsAndCompletionsNeverDeadlock) {
  AddConversations("c", 40, 25);
  std::vector<std::future<std::string>> workers;
  for (int w = 0; w < 4; ++w) {
    workers.push_back(std::async(std::launch::async, [&, w] {
      const absl::Time stop = absl::Now() + absl::Seconds(20);
      for (int round = 0; round < 2000 && absl::Now() < stop; ++round) {
        auto claimed = store_->ClaimJobs({.worker_id = absl::StrCat("w", w),
                                          .max_jobs = 20,
                                          .ignore_conversation_order = true},
                                         Deadline());
        if (!claimed.ok()) return claimed.status().ToString();
        // Another claim may hold the last pending rows for a moment.
        if (claimed->empty()) {
          if (SqlInt("SELECT count(*) FROM jobs WHERE status = 'pending'") ==
              0) {
            return std::string();
          }
          continue;
        }
        std::vector<JobLease> leases;
        for (const Job& job : *claimed) {
          leases.push_back({job.id, job.lease_token});
        }
        for (const absl::Status& s : store_->CompleteJobs(leases, Deadline())) {
          if (!s.ok()) return s.ToString();
        }
      }
      return std::string("did not drain in time");
    }));
  }
  for (auto& worker : workers) EXPECT_EQ(worker.get(), "");
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE status <> 'complete'")[0][0]
                .as<int>(),
            0);
  EXPECT_EQ(Sql("SELECT count(*) FROM conversations WHERE pending_jobs <> 0"
                " OR processing_jobs <> 0")[0][0]
                .as<int>(),
            0);
}

// A completion the database picks as a deadlock's victim (here against an
// operator's transaction that holds the conversation's row and then updates
// the job the completion holds) runs again: the worker is not told its
// completion failed, and the operator's change stands.
TEST_F(ConversationOrderTest, ADeadlockVictimRunsAgain) {
  const std::string job = Enqueue("a");
  ASSERT_EQ(Claim(), std::vector<std::string>{job});
  const int64_t attempts_before =
      SqlInt("SELECT max_attempts FROM jobs WHERE id = '" + job + "'");
  pqxx::connection operator_session(db_->url());
  pqxx::work fix(operator_session);
  fix.exec(ConversationRow("a"));
  auto completion = std::async(std::launch::async, [&] {
    return store_->CompleteJob(job, leases_[job], Deadline());
  });
  ASSERT_TRUE(WaitForLockWaiters(db_->url(), 1).ok());
  // Waits for the completion's lock on the job: a cycle, which the
  // completion, waiting longer, is the first to find.
  bool fixed = true;
  try {
    fix.exec("UPDATE jobs SET max_attempts = 7 WHERE id = '" + job + "'");
    fix.commit();
  } catch (const pqxx::deadlock_detected&) {
    fixed = false;  // the completion's second run won the job's row first
  }
  const absl::StatusOr<Job> done = completion.get();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->status, JobStatus::kComplete);
  EXPECT_EQ(SqlInt("SELECT max_attempts FROM jobs WHERE id = '" + job + "'"),
            fixed ? 7 : attempts_before);
}

}  // namespace
}  // namespace jobqueue
