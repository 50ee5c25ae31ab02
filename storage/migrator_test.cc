#include "storage/migrator.h"

#include <pqxx/pqxx>
#include <thread>

#include "gtest/gtest.h"
#include "storage/embedded_migrations.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

class MigratorTest : public PgTest {
 protected:
  MigratorTest() : PgTest(kEmpty) {}

  std::vector<std::string> Recorded() {
    pqxx::connection c(db_->url());
    std::vector<std::string> rows;
    for (const auto& row : pqxx::nontransaction(c).exec(
             "SELECT version || '_' || name FROM "
             "supabase_migrations.schema_migrations ORDER BY version")) {
      rows.push_back(row[0].as<std::string>());
    }
    return rows;
  }
};

TEST_F(MigratorTest, AppliesEveryFileOnceAndRecordsItAsTheSupabaseCliDoes) {
  const auto& files = EmbeddedMigrationFiles();
  ASSERT_GE(files.size(), 4u);
  auto first = ApplyMigrations(db_->url(), files);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->applied.size(), files.size());
  EXPECT_EQ(first->already_applied, 0);

  auto second = ApplyMigrations(db_->url(), files);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(second->already_applied, static_cast<int>(files.size()));

  std::vector<std::string> recorded = Recorded();
  ASSERT_EQ(recorded.size(), files.size());
  EXPECT_EQ(recorded[1] + ".sql", "20260129000000_create_users_table.sql");
}

TEST_F(MigratorTest, TwoRunnersAtOnceApplyEachFileOnce) {
  absl::StatusOr<MigrationReport> a, b;
  std::thread t1(
      [&] { a = ApplyMigrations(db_->url(), EmbeddedMigrationFiles()); });
  std::thread t2(
      [&] { b = ApplyMigrations(db_->url(), EmbeddedMigrationFiles()); });
  t1.join();
  t2.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->applied.size() + b->applied.size(),
            EmbeddedMigrationFiles().size());
  EXPECT_EQ(Recorded().size(), EmbeddedMigrationFiles().size());
}

TEST_F(MigratorTest, RefusesAnAppliedFileThatWasChanged) {
  std::vector<MigrationFile> files = EmbeddedMigrationFiles();
  ASSERT_TRUE(ApplyMigrations(db_->url(), files).ok());
  files[1].sql += "\nALTER TABLE users ADD COLUMN nickname TEXT;";
  auto r = ApplyMigrations(db_->url(), files);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(files[1].name), std::string::npos)
      << r.status();
}

TEST_F(MigratorTest, AFailingFileLeavesNoTraceAndStopsTheRun) {
  std::vector<MigrationFile> files = {
      {"20300101000000_good.sql", "CREATE TABLE good (x int);"},
      {"20300101000001_bad.sql",
       "CREATE TABLE half (x int); SELECT no_such_column FROM good;"},
      {"20300101000002_later.sql", "CREATE TABLE later (x int);"}};
  auto r = ApplyMigrations(db_->url(), files);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("20300101000001_bad.sql"),
            std::string::npos);
  pqxx::connection c(db_->url());
  pqxx::nontransaction txn(c);
  EXPECT_FALSE(txn.exec1("SELECT to_regclass('good') IS NULL")[0].as<bool>());
  EXPECT_TRUE(txn.exec1("SELECT to_regclass('half') IS NULL")[0].as<bool>());
  EXPECT_TRUE(txn.exec1("SELECT to_regclass('later') IS NULL")[0].as<bool>());
}

TEST_F(MigratorTest, RejectsABadlyNamedFile) {
  auto r = ApplyMigrations(db_->url(), {{"create_users.sql", "SELECT 1;"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("create_users.sql"), std::string::npos);
}

}  // namespace
}  // namespace jobqueue
