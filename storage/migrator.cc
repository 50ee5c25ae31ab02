#include "storage/migrator.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/advisory_locks.h"
#include "storage/named_queries.h"
#include "storage/sql_error.h"

namespace jobqueue {
namespace {

const NamedQuery& kLockMigrations = Query("lock_migrations");
const NamedQuery& kCreateHistory = Query("create_migration_history");
const NamedQuery& kMigrationStatements = Query("migration_statements");
const NamedQuery& kRecordMigration = Query("record_migration");

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

// Serializes migration runners until `txn` ends (see the block).
void LockMigrations(pqxx::work& txn) {
  txn.exec_params(kLockMigrations.sql, kMigrationLockKey);
}

// Applies `file` unless recorded; returns whether it was applied.
absl::StatusOr<bool> ApplyOne(pqxx::connection& c, const MigrationFile& file,
                              const Parsed& parsed) {
  pqxx::work txn(c);
  LockMigrations(txn);
  pqxx::result recorded =
      txn.exec_params(kMigrationStatements.sql, parsed.version);
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
  txn.exec_params(kRecordMigration.sql, parsed.version, parsed.name, file.sql);
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
      txn.exec(kCreateHistory.sql);
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
