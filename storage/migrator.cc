#include "storage/migrator.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/sql_error.h"

namespace jobqueue {
namespace {

// Arbitrary, fixed: the advisory lock key of the migration runner.
constexpr int64_t kMigrationLockKey = 0x6a6f62717565;  // "jobque"

constexpr char kCreateHistorySql[] =
    "CREATE SCHEMA IF NOT EXISTS supabase_migrations;"
    "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations"
    " (version text NOT NULL PRIMARY KEY);"
    "ALTER TABLE supabase_migrations.schema_migrations"
    " ADD COLUMN IF NOT EXISTS statements text[],"
    " ADD COLUMN IF NOT EXISTS name text;";

constexpr char kRecordedSql[] =
    "SELECT coalesce(array_to_string(statements, ';'), '')"
    " FROM supabase_migrations.schema_migrations WHERE version = $1";

constexpr char kRecordSql[] =
    "INSERT INTO supabase_migrations.schema_migrations"
    " (version, name, statements) VALUES ($1, $2, ARRAY[$3])";

struct Parsed {
  std::string version;
  std::string name;
};

absl::StatusOr<Parsed> ParseFileName(const std::string& file) {
  const size_t underscore = file.find('_');
  if (underscore != 14 || !absl::EndsWith(file, ".sql") ||
      file.size() <= underscore + 1 + 4 ||
      !std::all_of(file.begin(), file.begin() + 14, absl::ascii_isdigit)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "migration file ", file, " is not named <yyyymmddHHMMSS>_<name>.sql"));
  }
  return Parsed{file.substr(0, 14), file.substr(15, file.size() - 15 - 4)};
}

// Compares SQL texts ignoring whitespace and statement separators, so a
// file applied by the Supabase CLI (which records statements one by one)
// matches the same file applied here.
std::string Normalized(const std::string& sql) {
  std::string out;
  for (char c : sql) {
    if (!absl::ascii_isspace(c) && c != ';') out.push_back(c);
  }
  return out;
}

// Serializes migration runners until `txn` ends. Transaction-scoped, so
// it works through a transaction pooler (PgBouncer pool_mode=transaction,
// Supavisor on port 6543), where a session lock could be taken on one
// server connection and never released, or not hold across transactions.
void LockMigrations(pqxx::work& txn) {
  txn.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
}

// Applies `file` unless recorded; returns whether it was applied.
absl::StatusOr<bool> ApplyOne(pqxx::connection& c, const MigrationFile& file,
                              const Parsed& parsed) {
  pqxx::work txn(c);
  LockMigrations(txn);
  pqxx::result recorded = txn.exec_params(kRecordedSql, parsed.version);
  if (!recorded.empty()) {
    if (Normalized(recorded[0][0].as<std::string>()) != Normalized(file.sql)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "migration ", file.name,
          " was changed after it was applied; add a new migration instead"));
    }
    return false;
  }
  try {
    txn.exec(file.sql);
  } catch (const pqxx::sql_error& e) {
    return absl::Status(
        StatusCodeForSqlState(e.sqlstate()),
        absl::StrCat("migration ", file.name, " failed: ", e.what()));
  }
  txn.exec_params(kRecordSql, parsed.version, parsed.name, file.sql);
  txn.commit();
  return true;
}

}  // namespace

absl::StatusOr<MigrationReport> ApplyMigrations(
    const std::string& database_url, std::vector<MigrationFile> files) {
  std::sort(files.begin(), files.end(),
            [](const MigrationFile& a, const MigrationFile& b) {
              return a.name < b.name;
            });
  std::vector<Parsed> parsed;
  for (const MigrationFile& f : files) {
    absl::StatusOr<Parsed> p = ParseFileName(f.name);
    if (!p.ok()) return p.status();
    parsed.push_back(*p);
  }
  try {
    pqxx::connection c(database_url);
    {
      pqxx::work txn(c);
      LockMigrations(txn);
      txn.exec(kCreateHistorySql);
      txn.commit();
    }
    MigrationReport report;
    for (size_t i = 0; i < files.size(); ++i) {
      absl::StatusOr<bool> applied = ApplyOne(c, files[i], parsed[i]);
      if (!applied.ok()) return applied.status();
      if (*applied) {
        report.applied.push_back(files[i].name);
      } else {
        ++report.already_applied;
      }
    }
    return report;
  } catch (...) {
    return StatusFromCurrentException();
  }
}

}  // namespace jobqueue
