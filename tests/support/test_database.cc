#include "tests/support/test_database.h"

#include <unistd.h>

#include <cstdlib>
#include <pqxx/pqxx>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
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

namespace {

absl::StatusOr<std::string> AdminUrl() {
  const char* admin = std::getenv("DATABASE_URL");
  if (admin == nullptr || *admin == '\0') {
    return absl::FailedPreconditionError(
        "DATABASE_URL is not set; run the tests with tools/test");
  }
  return std::string(admin);
}

std::string UniqueName() {
  std::random_device seed;
  return absl::StrCat("jobqueue_test_", getpid(), "_", seed() % 1000000);
}

// FNV-1a over the migrations' names and texts: the same set gives the same
// template name in every test process.
std::string TemplateName() {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (const MigrationFile& f : EmbeddedMigrationFiles()) {
    mix(f.name);
    mix(f.sql);
  }
  return absl::StrCat("jobqueue_template_", absl::Hex(h, absl::kZeroPad16));
}

// Makes sure a migrated database named TemplateName() exists: the first
// process to get here builds it under another name and renames it once
// migrated (an advisory lock serializes processes), so a template is never
// seen half made.
absl::Status EnsureTemplate(const std::string& admin, const std::string& name) {
  try {
    pqxx::connection c(admin);
    pqxx::nontransaction txn(c);
    txn.exec("SELECT pg_advisory_lock(hashtext('jobqueue test template'))");
    if (txn.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name)
            .empty()) {
      const std::string building = name + "_building";
      txn.exec("DROP DATABASE IF EXISTS " + building + " WITH (FORCE)");
      txn.exec("CREATE DATABASE " + building);
      absl::StatusOr<MigrationReport> report = ApplyMigrations(
          WithDatabaseName(admin, building), EmbeddedMigrationFiles());
      if (!report.ok()) return report.status();
      txn.exec("ALTER DATABASE " + building + " RENAME TO " + name);
    }
    txn.exec("SELECT pg_advisory_unlock(hashtext('jobqueue test template'))");
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot make the test template database: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::CreateFrom(
    const std::string& template_name) {
  absl::StatusOr<std::string> admin = AdminUrl();
  if (!admin.ok()) return admin.status();
  const std::string name = UniqueName();
  try {
    pqxx::connection c(*admin);
    pqxx::nontransaction(c).exec(
        absl::StrCat("CREATE DATABASE ", name, " TEMPLATE ", template_name));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot create test database: ", e.what()));
  }
  return std::unique_ptr<TestDatabase>(
      new TestDatabase(*admin, name, WithDatabaseName(*admin, name)));
}

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::CreateEmpty() {
  return CreateFrom("template1");
}

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create() {
  absl::StatusOr<std::string> admin = AdminUrl();
  if (!admin.ok()) return admin.status();
  const std::string name = TemplateName();
  {
    // Checked once per process: the template, once made, stays.
    static absl::Mutex mu(absl::kConstInit);
    static bool made ABSL_GUARDED_BY(mu) = false;
    absl::MutexLock lock(&mu);
    if (!made) {
      if (absl::Status s = EnsureTemplate(*admin, name); !s.ok()) return s;
      made = true;
    }
  }
  return CreateFrom(name);
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
