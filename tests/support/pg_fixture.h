// The shared PostgreSQL fixture: a fresh database for each test, dropped
// after it, with plain SQL helpers and a deadline for calls that should
// answer at once.
//
//   class QueueTest : public PgTest {};
//   TEST_F(QueueTest, X) {
//     PgJobStore store({.url = url()});
//     ASSERT_TRUE(store.GetJob(id, Deadline()).ok());
//     EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), 1);
//   }
//
// A fixture that needs a database without the migrations passes
// PgTest(PgTest::kEmpty) from its constructor.

#ifndef JOBQUEUE_TESTS_SUPPORT_PG_FIXTURE_H_
#define JOBQUEUE_TESTS_SUPPORT_PG_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <pqxx/pqxx>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/test_database.h"

namespace jobqueue {

// 20 s from now, scaled for the build (see TimeBudget): far enough for any
// one call a test expects to answer.
absl::Time Deadline();

class PgTest : public ::testing::Test {
 protected:
  enum Schema { kMigrated, kEmpty };
  explicit PgTest(Schema schema = kMigrated) : schema_(schema) {}

  // Creates the database; a fixture that overrides SetUp calls this first.
  void SetUp() override;

  const std::string& url() const { return db_->url(); }

  // Runs `sql` on a connection of its own, outside any transaction.
  pqxx::result Sql(const std::string& sql) const;
  // The first column of the first row of `sql`.
  int64_t SqlInt(const std::string& sql) const;

  std::unique_ptr<TestDatabase> db_;

 private:
  const Schema schema_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_PG_FIXTURE_H_
