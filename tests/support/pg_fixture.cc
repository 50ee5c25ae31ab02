#include "tests/support/pg_fixture.h"

#include "tests/support/time_budget.h"

namespace jobqueue {

absl::Time Deadline() { return absl::Now() + TimeBudget(absl::Seconds(20)); }

void PgTest::SetUp() {
  absl::StatusOr<std::unique_ptr<TestDatabase>> db =
      schema_ == kMigrated ? TestDatabase::Create()
                           : TestDatabase::CreateEmpty();
  ASSERT_TRUE(db.ok()) << db.status();
  db_ = *std::move(db);
}

pqxx::result PgTest::Sql(const std::string& sql) const {
  pqxx::connection c(url());
  return pqxx::nontransaction(c).exec(sql);
}

int64_t PgTest::SqlInt(const std::string& sql) const {
  return Sql(sql)[0][0].as<int64_t>();
}

}  // namespace jobqueue
