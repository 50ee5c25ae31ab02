#include "tests/support/test_database.h"

#include <unistd.h>

#include <cstdlib>
#include <pqxx/pqxx>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/embedded_migrations.h"
#include "storage/migrator.h"

namespace jobqueue {

std::string WithDatabaseName(const std::string& url,
                             const std::string& database) {
  const size_t scheme = url.find("://");
  const size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  size_t slash = url.find('/', host);
  const size_t query = url.find('?', host);
  if (slash == std::string::npos || slash > query) slash = std::string::npos;
  const std::string base = url.substr(
      0, slash != std::string::npos ? slash : std::min(query, url.size()));
  const std::string rest = query == std::string::npos ? "" : url.substr(query);
  return absl::StrCat(base, "/", database, rest);
}

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::CreateEmpty() {
  const char* admin = std::getenv("DATABASE_URL");
  if (admin == nullptr || *admin == '\0') {
    return absl::FailedPreconditionError(
        "DATABASE_URL is not set; run the tests with tools/test");
  }
  std::random_device seed;
  const std::string name =
      absl::StrCat("jobqueue_test_", getpid(), "_", seed() % 1000000);
  try {
    pqxx::connection c(admin);
    pqxx::nontransaction(c).exec(absl::StrCat("CREATE DATABASE ", name));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot create test database: ", e.what()));
  }
  return std::unique_ptr<TestDatabase>(
      new TestDatabase(admin, name, WithDatabaseName(admin, name)));
}

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create() {
  absl::StatusOr<std::unique_ptr<TestDatabase>> db = CreateEmpty();
  if (!db.ok()) return db.status();
  absl::StatusOr<MigrationReport> report =
      ApplyMigrations((*db)->url(), EmbeddedMigrationFiles());
  if (!report.ok()) return report.status();
  return db;
}

int64_t TestDatabase::Rows(const std::string& table) const {
  pqxx::connection c(url_);
  pqxx::nontransaction txn(c);
  return txn.exec1("SELECT count(*) FROM " + txn.quote_name(table))[0]
      .as<int64_t>();
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection c(admin_url_);
    pqxx::nontransaction(c).exec(
        absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
  } catch (const std::exception&) {
    // Best effort: a leftover test database is harmless.
  }
}

}  // namespace jobqueue
