// Applies the schema's migration files to a database, as the Supabase CLI
// records them.
//
// Files are named "<yyyymmddHHMMSS>_<name>.sql" and applied in version order,
// each in its own transaction, recorded in
// supabase_migrations.schema_migrations(version, name, statements). A
// transaction-scoped advisory lock, taken in each of those transactions (so
// it also works through a transaction pooler), makes concurrent runners
// (replicas starting together) apply each file exactly once. A file whose
// recorded text differs from the file now is refused: migrations are
// append-only.
//
//   absl::StatusOr<MigrationReport> r =
//       ApplyMigrations(url, EmbeddedMigrationFiles());

#ifndef JOBQUEUE_STORAGE_MIGRATOR_H_
#define JOBQUEUE_STORAGE_MIGRATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/embedded_migrations.h"

namespace jobqueue {

struct MigrationReport {
  std::vector<std::string> applied;  // file names applied by this call
  int already_applied = 0;
};

// INVALID_ARGUMENT for a badly named file, FAILED_PRECONDITION for an
// applied file that was changed, the SQL error of a failing file (then that
// file and later ones are not applied), UNAVAILABLE when unreachable.
absl::StatusOr<MigrationReport> ApplyMigrations(
    const std::string& database_url, std::vector<MigrationFile> files);

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_MIGRATOR_H_
