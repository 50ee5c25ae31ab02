// The named SQL blocks of storage/queries: every one is planned against a
// migrated database with a few thousand jobs (so a block that no longer
// parses, or that loses its index, fails here; so does an index no block
// reads), looking a name up that is not there stops the program, and the
// advisory lock keys keep the values older replicas use.

#include "storage/named_queries.h"

#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "storage/advisory_locks.h"
#include "tests/support/test_database.h"

namespace jobqueue {
namespace {

// Blocks that cannot be planned, so are not EXPLAINed: VACUUM, and DDL run
// as a script. A new block is planned unless it is added here.
const std::set<std::string>& NotPlannable() {
  static const auto* names = new std::set<std::string>{
      "vacuum_conversations",
      "vacuum_analyze_conversations",
      "create_migration_history",
  };
  return *names;
}

TEST(NamedQueriesTest, AMissingNameStopsTheProgram) {
  EXPECT_DEATH(Query("no_such_block"), "no SQL block named no_such_block");
}

TEST(NamedQueriesTest, NamesAreUniqueAndStatementsNotEmpty) {
  std::set<std::string> names;
  for (const NamedQuery& q : EmbeddedQueries()) {
    EXPECT_TRUE(names.insert(q.name).second) << q.name;
    EXPECT_FALSE(q.sql.empty()) << q.name;
    EXPECT_FALSE(absl::StartsWith(q.sql, "--")) << q.name;
    EXPECT_EQ(&Query(q.name), &q);
  }
  for (const std::string& name : NotPlannable()) {
    EXPECT_TRUE(names.count(name)) << name << " is listed but not a block";
  }
}

// Changing a key would let an old and a new replica run maintenance (or
// migrations) at the same time during a rolling upgrade.
TEST(NamedQueriesTest, AdvisoryLockKeysKeepTheirValues) {
  EXPECT_EQ(kMaintenanceLockKey, 7170393851237);
  EXPECT_EQ(kMigrationLockKey, 117026625516901);
}

class ExplainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db).release();
    pqxx::connection c(db_->url());
    pqxx::nontransaction txn(c);
    // 40,000 jobs a second apart, of 200 conversations and 100 users; one
    // in ten pending, one in a hundred processing (half of their leases
    // lapsed), the rest complete.
    txn.exec(
        "INSERT INTO users (phone_number)"
        " SELECT '+1555000' || lpad(n::text, 4, '0')"
        " FROM generate_series(1, 100) n;"
        "INSERT INTO jobs (user_id, source_channel_id, source_type,"
        " user_phone, payload, status, idempotency_key, created_at)"
        " SELECT '+1555000' || lpad((n % 100 + 1)::text, 4, '0'),"
        " 'c-' || n % 200, 'dm', '+15550000001', '{}',"
        " CASE WHEN n % 10 = 0 THEN 'pending' WHEN n % 100 = 5"
        " THEN 'processing' ELSE 'complete' END,"
        " 'key-' || n, now() - n * interval '1 second'"
        " FROM generate_series(1, 40000) n;"
        "UPDATE jobs SET lease_token = gen_random_uuid(),"
        " lease_expires_at = now() + (random() - 0.5) * interval '1 minute'"
        " WHERE status = 'processing';"
        "ANALYZE");
    // 20,000 more users, two a second, so that reading one user or a page
    // of users by an index is cheaper than reading them all.
    txn.exec(
        "INSERT INTO users (phone_number, created_at)"
        " SELECT '+1666' || lpad(n::text, 7, '0'),"
        " now() - (n / 2) * interval '1 second'"
        " FROM generate_series(1, 20000) n;"
        "ANALYZE users");
    // 2,000 queues with settings, half of them rate-limited: a claim finds
    // the queues it names by key. (A table of a few rows is read whole,
    // one page, whatever the plan.)
    txn.exec(
        "INSERT INTO queues (name, jobs_per_second, burst, tokens,"
        " refilled_at)"
        " SELECT 'q' || n, CASE WHEN n % 2 = 0 THEN 10 END,"
        " CASE WHEN n % 2 = 0 THEN 10 END, CASE WHEN n % 2 = 0 THEN 5 END,"
        " CASE WHEN n % 2 = 0 THEN now() END"
        " FROM generate_series(1, 2000) n;"
        "ANALYZE queues");
    // 20,000 dead letters a second apart and 20,000 schedules due over the
    // next hours: the operator pages and the tick read them by index.
    txn.exec(
        "INSERT INTO dlq_jobs (source, delivery_id, reason, raw_payload,"
        " last_seen_at)"
        " SELECT 'twilio', 'd-' || n, 'bad', '{}',"
        " now() - n * interval '1 second'"
        " FROM generate_series(1, 20000) n;"
        "INSERT INTO schedules (name, interval_ms, user_phone,"
        " source_channel_id, source_type, next_run_at)"
        " SELECT 's-' || n, 60000, '+15550000001', 'c-1', 'dm',"
        " now() + n * interval '1 second'"
        " FROM generate_series(1, 20000) n;"
        "ANALYZE dlq_jobs; ANALYZE schedules");
  }
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }

  // The generic plan of block `name`, with NULL for every parameter.
  static std::string GenericPlan(pqxx::connection& c, const NamedQuery& q) {
    pqxx::nontransaction txn(c);
    txn.exec(absl::StrCat("PREPARE explained AS ", q.sql));
    const int params =
        txn.exec1(
               "SELECT coalesce(cardinality(parameter_types), 0)"
               " FROM pg_prepared_statements WHERE name = 'explained'")[0]
            .as<int>();
    std::string args;
    for (int i = 0; i < params; ++i)
      absl::StrAppend(&args, i ? ", " : "", "NULL");
    txn.exec("SET plan_cache_mode = force_generic_plan");
    const std::string plan = PlanText(
        txn.exec(absl::StrCat("EXPLAIN EXECUTE explained",
                              params ? absl::StrCat("(", args, ")") : "")));
    txn.exec("DEALLOCATE explained; RESET plan_cache_mode");
    return plan;
  }

  // The generic plan of every plannable block, by name; a block that does
  // not plan fails the test.
  static std::map<std::string, std::string> GenericPlans() {
    pqxx::connection c(db_->url());
    std::map<std::string, std::string> plans;
    for (const NamedQuery& q : EmbeddedQueries()) {
      if (NotPlannable().count(q.name)) continue;
      try {
        plans[q.name] = GenericPlan(c, q);
      } catch (const std::exception& e) {
        ADD_FAILURE() << q.name << " (" << q.file
                      << ") does not plan: " << e.what();
        if (!c.is_open()) break;
        pqxx::nontransaction(c).exec("DEALLOCATE ALL");
      }
    }
    return plans;
  }

  // The plan list_jobs gets with these filters (user id, status, channel):
  // it is sent unnamed, so planned with its values.
  static std::string ListPlan(const std::string& user,
                              const std::string& status,
                              const std::string& channel) {
    pqxx::connection c(db_->url());
    pqxx::nontransaction txn(c);
    txn.exec(absl::StrCat("PREPARE list AS ", Query("list_jobs").sql));
    txn.exec("SET plan_cache_mode = force_custom_plan");
    return PlanText(
        txn.exec(absl::StrCat("EXPLAIN EXECUTE list(", txn.quote(user), ", ",
                              txn.quote(status), ", ", txn.quote(channel),
                              ", '', '-infinity', 'infinity', 'infinity', "
                              "'ffffffff-ffff-ffff-ffff-ffffffffffff', 51)")));
  }

  static std::string PlanText(const pqxx::result& r) {
    std::string text;
    for (const pqxx::row& row : r) absl::StrAppend(&text, row[0].c_str(), "\n");
    return text;
  }

  static TestDatabase* db_;
};

TestDatabase* ExplainTest::db_ = nullptr;

TEST_F(ExplainTest, EveryBlockPlansAndKeepsItsIndexes) {
  std::map<std::string, std::string> plans = GenericPlans();
  // The index each block must use, by the names in migrations/.
  const std::multimap<std::string, std::string> uses = {
      {"claim_in_order", "conversations_queue_priority_ready_idx"},
      {"claim_in_order", "jobs_active_conversation_position_idx"},
      {"claim_in_order", "jobs_unordered_priority_due_idx"},
      {"claim_in_order_by_kind", "conversations_queue_kind_ready_idx"},
      {"claim_in_order_by_kind", "jobs_active_conversation_position_idx"},
      {"claim_in_order_by_kind", "jobs_unordered_kind_due_idx"},
      {"claim_any_order", "jobs_pending_queue_priority_seq_idx"},
      {"claim_any_order", "jobs_unordered_priority_due_idx"},
      // A rate-limited queue's row, by its key (no lock for the others).
      {"claim_in_order", "queues_pkey"},
      {"claim_in_order_by_kind", "queues_pkey"},
      {"claim_any_order", "queues_pkey"},
      {"release_jobs", "queues_pkey"},
      {"get_queue", "queues_pkey"},
      {"queue_next_token", "queues_pkey"},
      {"enqueue_keep_name", "jobs_idempotency_key_key"},
      {"enqueue_set_name", "jobs_idempotency_key_key"},
      {"enqueue_batch", "jobs_idempotency_key_key"},
      {"jobs_by_idempotency_keys", "jobs_idempotency_key_key"},
      {"get_job", "jobs_pkey"},
      {"update_status", "jobs_pkey"},
      {"update_status", "jobs_active_conversation_position_idx"},
      {"extend_lease", "jobs_pkey"},
      {"complete_job", "jobs_pkey"},
      {"complete_jobs", "jobs_pkey"},
      {"fail_job", "jobs_pkey"},
      {"release_jobs", "jobs_pkey"},
      {"retry_job", "jobs_pkey"},
      {"cancel_job", "jobs_pkey"},
      {"cancel_job", "jobs_idempotency_key_key"},
      {"rescue_leases", "jobs_lease_expires_at_idx"},
      {"promote_scheduled", "jobs_scheduled_due_idx"},
      {"delete_completed", "jobs_finished_updated_at_idx"},
      {"remove_idle_conversations", "jobs_active_conversation_position_idx"},
      {"stats_oldest_pending_age", "jobs_status_created_at_idx"},
      {"get_user", "users_pkey"},
      {"list_users", "users_created_at_idx"},
      {"list_conversations", "conversations_waiting_idx"},
      {"list_conversations", "jobs_active_conversation_position_idx"},
      {"queue_stats_counts", "jobs_pending_queue_priority_seq_idx"},
      {"list_dead_letters", "dlq_jobs_last_seen_at_id_idx"},
      {"due_schedules", "schedules_next_run_at_idx"},
  };
  // ListConversations' index serves only it: a claim or maintenance's
  // scan of ready conversations that took it would read blocked ones too.
  for (const char* name :
       {"claim_in_order", "claim_in_order_by_kind", "recount"}) {
    EXPECT_FALSE(absl::StrContains(plans[name], "conversations_waiting_idx"))
        << name << ":\n"
        << plans[name];
  }
  // The operator views read counters and indexes, never every job.
  for (const char* name :
       {"list_conversations", "queue_stats_counts", "queue_stats_minutes"}) {
    EXPECT_FALSE(absl::StrContains(plans[name], "Seq Scan on jobs"))
        << name << ":\n"
        << plans[name];
  }
  for (const auto& [name, index] : uses) {
    // "Index Scan using ..." or "Bitmap Index Scan on ...", never
    // "Conflict Arbiter Indexes: ...".
    EXPECT_TRUE(
        absl::StrContains(plans[name], absl::StrCat(" using ", index, " ")) ||
        absl::StrContains(plans[name], absl::StrCat("Scan on ", index, " ")))
        << name << " does not use " << index << ":\n"
        << plans[name];
  }
}

// A page of users reads its rows from the index in order: no sort of every
// user, whatever the filters and cursor.
TEST_F(ExplainTest, ListUsersScansItsIndexWithoutSorting) {
  pqxx::connection c(db_->url());
  pqxx::nontransaction txn(c);
  txn.exec(absl::StrCat("PREPARE users AS ", Query("list_users").sql));
  for (const char* mode : {"force_custom_plan", "force_generic_plan"}) {
    txn.exec(absl::StrCat("SET plan_cache_mode = ", mode));
    for (const char* args :
         {"'-infinity', 'infinity', 'infinity', '+9999999999999999', 51",
          "now() - interval '1 hour', now(), now() - interval '10 minutes', "
          "'+16660001200', 1001"}) {
      const std::string plan =
          PlanText(txn.exec(absl::StrCat("EXPLAIN EXECUTE users(", args, ")")));
      EXPECT_TRUE(absl::StrContains(plan, " using users_created_at_idx "))
          << mode << " " << args << ":\n"
          << plan;
      EXPECT_FALSE(absl::StrContains(plan, "Sort")) << plan;
    }
  }
}

TEST_F(ExplainTest, ListJobsScansTheIndexOfItsFilter) {
  const std::pair<std::string, std::string> cases[] = {
      {ListPlan("", "", ""), "jobs_created_at_idx"},
      {ListPlan("+15550000007", "", ""), "jobs_user_id_created_at_idx"},
      {ListPlan("", "pending", ""), "jobs_status_created_at_idx"},
      {ListPlan("", "", "c-7"), "jobs_source_channel_id_created_at_idx"},
  };
  for (const auto& [plan, index] : cases) {
    EXPECT_TRUE(absl::StrContains(plan, absl::StrCat(" using ", index, " ")))
        << "expected " << index << ":\n"
        << plan;
    EXPECT_FALSE(absl::StrContains(plan, "Sort")) << plan;
  }
}

// Every index costs each write of its table an entry, so each must have a
// reader: a block's plan, or one of the few named here. An index no
// statement reads (or one a change of a statement stopped reading) fails
// here until it is dropped. Unique indexes are exempt: they enforce a key.
TEST_F(ExplainTest, EveryIndexHasAReader) {
  std::string read;
  for (const auto& [name, plan] : GenericPlans()) absl::StrAppend(&read, plan);
  for (const char* user : {"", "+15550000007"}) {
    for (const char* channel : {"", "c-7"}) {
      absl::StrAppend(&read, ListPlan(user, "", channel));
    }
  }
  // Read by a PL/pgSQL function, whose plans EXPLAIN does not show.
  const std::map<std::string, std::string> read_by_functions = {
      {"conversations_maintenance_ready_idx", "advance_ready_floor()"},
  };
  pqxx::connection c(db_->url());
  pqxx::nontransaction txn(c);
  const pqxx::result indexes = txn.exec(
      "SELECT i.relname FROM pg_index x"
      " JOIN pg_class i ON i.oid = x.indexrelid"
      " JOIN pg_namespace n ON n.oid = i.relnamespace"
      " WHERE n.nspname = 'public' AND NOT x.indisunique ORDER BY 1");
  ASSERT_GT(indexes.size(), 10u);
  for (const pqxx::row& row : indexes) {
    const std::string index = row[0].as<std::string>();
    if (read_by_functions.count(index)) continue;
    EXPECT_TRUE(absl::StrContains(read, absl::StrCat(" using ", index, " ")) ||
                absl::StrContains(read, absl::StrCat("Scan on ", index, " ")))
        << index << " is read by no statement: drop it, or name its reader";
  }
}

}  // namespace
}  // namespace jobqueue
