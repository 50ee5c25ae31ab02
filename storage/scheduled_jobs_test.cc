// Scheduled jobs against a real PostgreSQL: claims never read them (their
// cost is the same beside 20,000 jobs scheduled for tomorrow), and plain
// SQL writers (docs/operators.md) can insert, move and promote them; a
// promoter skips what another session holds instead of waiting.

#include <algorithm>
#include <iostream>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"
#include "tests/support/store_fixture.h"

namespace jobqueue {
namespace {

class ScheduledJobsTest : public StoreFixture {
 protected:
  // Shared buffers a claim of 10 of the default queue touches, by `sql`
  // (a claim block) EXECUTEd with `args`: the more of its generic plan and
  // of the plan made for its values.
  int64_t ClaimBuffers(const char* sql, const std::string& args) {
    int64_t most = 0;
    for (const char* mode : {"force_generic_plan", "force_custom_plan"}) {
      most = std::max(most,
                      Buffers(absl::StrCat("EXECUTE claim(", args, ")"),
                              absl::StrCat("SET LOCAL jit = off;"
                                           " SET LOCAL plan_cache_mode = ",
                                           mode, "; PREPARE claim AS ", sql)));
    }
    return most;
  }
  int64_t InOrder() {
    return ClaimBuffers(ClaimInOrderSql(), "10, 30000, 'w', '{default}'");
  }
  int64_t AnyOrder() {
    return ClaimBuffers(ClaimAnyOrderSql(),
                        "10, 30000, 'w', '', '{default}', '{}'");
  }
  // n jobs in `status`, due `due` (SQL), each in its own conversation
  // (ordered) or unordered, as plain SQL inserts them.
  void Add(const std::string& prefix, int n, const std::string& status,
           const std::string& due, bool ordered) {
    Sql(absl::StrCat(
        "INSERT INTO jobs (user_id, source_channel_id, source_type,"
        " user_phone, payload, status, run_after, ordered)"
        " SELECT '+15551234567', '",
        prefix, "-' || c, 'dm', '+15551234567', '{}', '", status, "', ", due,
        ", ", ordered ? "true" : "false", " FROM generate_series(1, ", n,
        ") c"));
    Sql("ANALYZE jobs; ANALYZE conversations");
  }
  int Promote() {
    absl::StatusOr<int> n = store_->PromoteScheduled(1000, Deadline());
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }
  std::string Status(const std::string& id) {
    return Sql(absl::StrCat("SELECT status FROM jobs WHERE id = '", id,
                            "'"))[0][0]
        .c_str();
  }
};

// 20,000 jobs scheduled for tomorrow, older than every ready job, cost a
// claim in either order nothing. (Were they pending with a future
// run_after, a claim ignoring order would read every one of them.)
TEST_F(ScheduledJobsTest, ClaimsNeverReadJobsScheduledForLater) {
  Add("now", 20, "pending", "now()", true);
  Add("now-u", 20, "pending", "now()", false);
  const int64_t in_order_alone = InOrder();
  const int64_t any_order_alone = AnyOrder();
  Sql("DELETE FROM jobs");
  Sql("VACUUM jobs");
  Sql("VACUUM conversations");
  Add("later", 10000, "scheduled", "now() + interval '1 day'", true);
  Add("later-u", 10000, "scheduled", "now() + interval '1 day'", false);
  Add("now", 20, "pending", "now()", true);
  Add("now-u", 20, "pending", "now()", false);
  const int64_t in_order = InOrder();
  const int64_t any_order = AnyOrder();
  std::cout << "claim of 10 in order: " << in_order_alone << " buffers, "
            << in_order
            << " beside 20,000 scheduled; in any order: " << any_order_alone
            << ", " << any_order << "\n";
  EXPECT_LE(in_order, 2 * in_order_alone + 50);
  EXPECT_LE(any_order, 2 * any_order_alone + 50);
  // None of them is in a conversation or claimable.
  EXPECT_EQ(Sql("SELECT count(*) FROM conversations WHERE conversation"
                " LIKE 'default later-%'")[0][0]
                .as<int>(),
            0);
  EXPECT_EQ(Claim(100).size(), 40u);
  EXPECT_EQ(Promote(), 0);
}

// An operator inserts a scheduled job, moves its time, and promotes one
// by hand; each takes its conversation's next position when it becomes
// pending, behind the jobs already there.
TEST_F(ScheduledJobsTest, PlainSqlSchedulesMovesAndPromotesJobs) {
  const std::string first = Enqueue("c");
  Sql("INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone,"
      " payload, status, run_after, idempotency_key) VALUES"
      " ('+15551234567', 'c', 'dm', '+15551234567', '{}', 'scheduled',"
      "  now() + interval '1 hour', 'by-sql'),"
      " ('+15551234567', 'c', 'dm', '+15551234567', '{}', 'scheduled',"
      "  now() + interval '1 hour', 'by-hand')");
  const std::string by_sql =
      Sql("SELECT id FROM jobs WHERE idempotency_key = 'by-sql'")[0][0].c_str();
  const std::string by_hand =
      Sql("SELECT id FROM jobs WHERE idempotency_key = 'by-hand'")[0][0]
          .c_str();
  EXPECT_EQ(Promote(), 0);
  const std::string second = Enqueue("c");
  // Due now: the promoter makes it pending behind `second`.
  Sql("UPDATE jobs SET run_after = now() - interval '1 second'"
      " WHERE idempotency_key = 'by-sql'");
  EXPECT_EQ(Promote(), 1);
  // Run now, by hand: behind `by_sql`.
  Sql("UPDATE jobs SET status = 'pending', run_after = now()"
      " WHERE idempotency_key = 'by-hand'");
  const std::string third = Enqueue("c");
  std::vector<std::string> order;
  for (int i = 0; i < 5; ++i) {
    std::vector<std::string> got = Claim(10);
    ASSERT_EQ(got.size(), 1u) << "one at a time, in order";
    order.push_back(got[0]);
    Complete(got[0]);
  }
  EXPECT_EQ(order,
            (std::vector<std::string>{first, second, by_sql, by_hand, third}));
  EXPECT_TRUE(Claim(10).empty());
}

// A session holding a due job's row, or its conversation's row, holds back
// that job only; the promoter neither waits nor fails.
TEST_F(ScheduledJobsTest, APromoterSkipsWhatAnotherSessionHolds) {
  Enqueue("busy");  // makes the conversation's row
  Add("free", 3, "scheduled", "now() - interval '1 second'", true);
  Sql("INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone,"
      " payload, status, run_after) VALUES ('+15551234567', 'busy', 'dm',"
      " '+15551234567', '{}', 'scheduled', now() - interval '1 second')");
  pqxx::connection other(url());
  pqxx::work held(other);
  held.exec(
      "SELECT 1 FROM conversations WHERE conversation = 'default busy'"
      " FOR UPDATE");
  EXPECT_EQ(Promote(), 3);
  EXPECT_EQ(Sql("SELECT count(*) FROM jobs WHERE status = 'scheduled'")[0][0]
                .as<int>(),
            1);
  held.abort();
  EXPECT_EQ(Promote(), 1);
}

}  // namespace
}  // namespace jobqueue
