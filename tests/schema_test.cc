// The schema as the seed story specifies it: its validation queries, the
// CHECK constraints, the foreign key, and RLS for Supabase's roles.

#include <pqxx/pqxx>

#include "gtest/gtest.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

class SchemaTest : public PgTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    conn_ = std::make_unique<pqxx::connection>(db_->url());
  }

  // Runs `sql` in its own transaction, as `role` when given; returns the
  // SQLSTATE of its error, or "" when it succeeded.
  std::string SqlState(const std::string& sql, const std::string& role = "") {
    try {
      pqxx::work txn(*conn_);
      if (!role.empty()) txn.exec("SET LOCAL ROLE " + role);
      txn.exec(sql);
      txn.commit();
      return "";
    } catch (const pqxx::insufficient_privilege&) {
      return "42501";  // libpqxx 6.4 leaves sqlstate() empty for this one
    } catch (const pqxx::sql_error& e) {
      return e.sqlstate();
    }
  }

  pqxx::result Query(const std::string& sql) {
    return pqxx::nontransaction(*conn_).exec(sql);
  }

  std::unique_ptr<pqxx::connection> conn_;
};

// The seed's "Validation Queries", verbatim.
TEST_F(SchemaTest, TheSeedValidationQueriesPass) {
  pqxx::result tables = Query(
      "SELECT table_name FROM information_schema.tables "
      "WHERE table_schema = 'public' AND table_name IN ('users', 'jobs')");
  EXPECT_EQ(tables.size(), 2u);

  pqxx::result constraints = Query(
      "SELECT constraint_name, constraint_type "
      "FROM information_schema.table_constraints "
      "WHERE table_name IN ('users', 'jobs')");
  std::set<std::string> types;
  for (const auto& row : constraints) types.insert(row[1].as<std::string>());
  EXPECT_TRUE(types.count("PRIMARY KEY"));
  EXPECT_TRUE(types.count("FOREIGN KEY"));
  EXPECT_TRUE(types.count("CHECK"));
  EXPECT_TRUE(types.count("UNIQUE"));

  EXPECT_EQ(SqlState("INSERT INTO users (phone_number, first_name) "
                     "VALUES ('+15551234567', 'Test User');"),
            "");
  EXPECT_EQ(SqlState("INSERT INTO jobs (user_id, source_channel_id, "
                     "source_type, user_phone, payload) VALUES "
                     "('+15551234567', 'group-123', 'group', '+15551234567', "
                     "'{\"test\": true}'::jsonb);"),
            "");

  pqxx::result joined = Query(
      "SELECT j.id, j.user_id, u.first_name FROM jobs j "
      "JOIN users u ON j.user_id = u.phone_number");
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_EQ(joined[0][2].as<std::string>(), "Test User");
}

TEST_F(SchemaTest, JobsHaveTheSeedColumnsAndTheEpicsAdditions) {
  pqxx::result columns = Query(
      "SELECT column_name FROM information_schema.columns "
      "WHERE table_schema = 'public' AND table_name = 'jobs'");
  std::set<std::string> names;
  for (const auto& row : columns) names.insert(row[0].as<std::string>());
  EXPECT_EQ(names,
            (std::set<std::string>{
                "id", "user_id", "source_channel_id", "source_type",
                "user_phone", "payload", "status", "content_type",
                "idempotency_key", "created_at", "updated_at",
                // Workers' columns.
                "seq", "attempts", "max_attempts", "run_after", "lease_token",
                "lease_expires_at", "worker_id", "last_error",
                // Conversation order.
                "position",
                // Named queues, unordered jobs, priorities.
                "queue", "ordered", "conversation", "priority",
                // Cancel, results and attempt history.
                "cancel_requested_at", "result", "attempt_errors",
                // Run-time limits.
                "max_run_ms", "run_deadline"}));
  pqxx::result defaults = Query(
      "INSERT INTO users (phone_number) VALUES ('+15550000000');"
      "INSERT INTO jobs (user_id, source_channel_id, source_type, "
      "user_phone, payload) VALUES ('+15550000000', 'c', 'dm', "
      "'+15550000000', '{}') RETURNING status, content_type");
  EXPECT_EQ(defaults[0][0].as<std::string>(), "pending");
  EXPECT_EQ(defaults[0][1].as<std::string>(), "text");
}

TEST_F(SchemaTest, CheckConstraintsRejectBadEnumValues) {
  ASSERT_EQ(
      SqlState("INSERT INTO users (phone_number) VALUES ('+15551234567')"), "");
  const std::string prefix =
      "INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone, "
      "payload, status, content_type) VALUES ('+15551234567', 'c', ";
  EXPECT_EQ(
      SqlState(prefix + "'channel', '+15551234567', '{}', 'pending', 'text')"),
      "23514");
  EXPECT_EQ(SqlState(prefix + "'dm', '+15551234567', '{}', 'done', 'text')"),
            "23514");
  EXPECT_EQ(SqlState(prefix + "'dm', '+15551234567', '{}', 'pending', 'gif')"),
            "23514");
  EXPECT_EQ(
      SqlState(prefix + "'dm', '+15551234567', '[1]', 'pending', 'text')"),
      "23514");
  EXPECT_EQ(SqlState("INSERT INTO users (phone_number) VALUES ('5551234567')"),
            "23514");
  EXPECT_EQ(Query("SELECT count(*) FROM jobs")[0][0].as<int>(), 0);
}

TEST_F(SchemaTest, AJobNeedsAnExistingUser) {
  EXPECT_EQ(SqlState("INSERT INTO jobs (user_id, source_channel_id, "
                     "source_type, user_phone, payload) VALUES "
                     "('+15557654321', 'c', 'dm', '+15557654321', '{}')"),
            "23503");
}

TEST_F(SchemaTest, UpdatedAtMovesOnEveryUpdate) {
  pqxx::result r = Query(
      "INSERT INTO users (phone_number) VALUES ('+15550000000');"
      "INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone, "
      "payload, created_at, updated_at) VALUES ('+15550000000', 'c', 'dm', "
      "'+15550000000', '{}', now() - interval '1 hour', "
      "now() - interval '1 hour');"
      "UPDATE jobs SET status = 'processing' "
      "RETURNING updated_at > created_at + interval '30 minutes'");
  EXPECT_TRUE(r[0][0].as<bool>());
}

TEST_F(SchemaTest, RlsShowsAnonAndAuthenticatedNothingAndServiceRoleAll) {
  ASSERT_EQ(SqlState("INSERT INTO users (phone_number) VALUES ('+15551234567');"
                     "INSERT INTO jobs (user_id, source_channel_id, "
                     "source_type, user_phone, payload) VALUES "
                     "('+15551234567', 'c', 'dm', '+15551234567', '{}');"
                     "INSERT INTO dlq_jobs (source, reason, raw_payload) "
                     "VALUES ('test', 'because', '{}')"),
            "");
  for (const std::string& role :
       std::vector<std::string>{"anon", "authenticated"}) {
    for (const std::string& table : std::vector<std::string>{
             "users", "jobs", "dlq_jobs", "conversations"}) {
      pqxx::work txn(*conn_);
      txn.exec("SET LOCAL ROLE " + role);
      EXPECT_EQ(txn.exec1("SELECT count(*) FROM " + table)[0].as<int>(), 0)
          << role << " sees rows of " << table;
      EXPECT_EQ(txn.exec("UPDATE " + table + " SET " +
                         (table == "users"           ? "first_name = 'x'"
                          : table == "jobs"          ? "status = 'failed'"
                          : table == "conversations" ? "pending_jobs = 0"
                                                     : "reason = 'x'"))
                    .affected_rows(),
                0u)
          << role << " updated " << table;
    }
    EXPECT_EQ(SqlState("INSERT INTO users (phone_number) "
                       "VALUES ('+15550001111')",
                       role),
              "42501")
        << role << " inserted a user";
  }
  pqxx::work txn(*conn_);
  txn.exec("SET LOCAL ROLE service_role");
  EXPECT_EQ(txn.exec1("SELECT count(*) FROM jobs")[0].as<int>(), 1);
  EXPECT_EQ(txn.exec("UPDATE users SET first_name = 'Ada'").affected_rows(),
            1u);
  txn.exec("INSERT INTO users (phone_number) VALUES ('+15550002222')");
}

// Jobs written by plain SQL, as the seed's validation does, take their place
// in their conversation and keep its counts, which claims rely on.
TEST_F(SchemaTest, PlainSqlKeepsConversationPositionsAndCounts) {
  Query("INSERT INTO users (phone_number) VALUES ('+15550000000')");
  for (int i = 0; i < 3; ++i) {
    Query(
        "INSERT INTO jobs (user_id, source_channel_id, source_type, "
        "user_phone, payload) VALUES ('+15550000000', 'group-123', 'group', "
        "'+15550000000', '{}')");
  }
  auto counts = [&] {
    pqxx::result r = Query(
        "SELECT last_position, pending_jobs, processing_jobs "
        "FROM conversations WHERE source_channel_id = 'group-123'");
    return std::vector<int>{r[0][0].as<int>(), r[0][1].as<int>(),
                            r[0][2].as<int>()};
  };
  EXPECT_EQ(counts(), (std::vector<int>{3, 3, 0}));
  pqxx::result positions = Query("SELECT position FROM jobs ORDER BY seq");
  ASSERT_EQ(positions.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(positions[i][0].as<int>(), i + 1);

  Query("UPDATE jobs SET status = 'processing' WHERE position = 1");
  EXPECT_EQ(counts(), (std::vector<int>{3, 2, 1}));
  Query("UPDATE jobs SET status = 'failed' WHERE position = 1");
  EXPECT_EQ(counts(), (std::vector<int>{3, 2, 0}));
  // Made pending again, the failed job goes to the end of the conversation.
  pqxx::result retried = Query(
      "UPDATE jobs SET status = 'pending' WHERE position = 1 "
      "RETURNING position");
  EXPECT_EQ(retried[0][0].as<int>(), 4);
  EXPECT_EQ(counts(), (std::vector<int>{4, 3, 0}));
  Query("DELETE FROM jobs WHERE position = 2");
  EXPECT_EQ(counts(), (std::vector<int>{4, 2, 0}));
  // A cancelled job is finished like a failed one, and made pending again
  // it too goes to the end.
  Query("UPDATE jobs SET status = 'cancelled' WHERE position = 3");
  EXPECT_EQ(counts(), (std::vector<int>{4, 1, 0}));
  pqxx::result revived = Query(
      "UPDATE jobs SET status = 'pending' WHERE position = 3 "
      "RETURNING position");
  EXPECT_EQ(revived[0][0].as<int>(), 5);
  EXPECT_EQ(counts(), (std::vector<int>{5, 2, 0}));
  Query("TRUNCATE jobs");
  EXPECT_EQ(counts(), (std::vector<int>{5, 0, 0}));
}

TEST_F(SchemaTest, RlsIsEnabledOnEveryTable) {
  pqxx::result r = Query(
      "SELECT relname FROM pg_class c JOIN pg_namespace n "
      "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
      "AND c.relkind = 'r' AND NOT c.relrowsecurity");
  EXPECT_EQ(r.size(), 0u) << r[0][0].as<std::string>();
}

// Order within a conversation follows position; seq's comment must not say
// otherwise (it once said FIFO followed seq).
TEST_F(SchemaTest, JobsSeqCommentSaysConversationOrderFollowsPosition) {
  pqxx::result r = Query(
      "SELECT col_description('public.jobs'::regclass, attnum) "
      "FROM pg_attribute WHERE attrelid = 'public.jobs'::regclass "
      "AND attname = 'seq'");
  ASSERT_EQ(r.size(), 1u);
  const std::string comment = r[0][0].as<std::string>("");
  EXPECT_EQ(comment.find("FIFO"), std::string::npos) << comment;
  EXPECT_NE(comment.find("follows position"), std::string::npos) << comment;
}

}  // namespace
}  // namespace jobqueue
