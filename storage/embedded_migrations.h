// The migration files of migrations/, compiled into the binary.
//
//   for (const MigrationFile& f : EmbeddedMigrationFiles()) use(f.name, f.sql);

#ifndef JOBQUEUE_STORAGE_EMBEDDED_MIGRATIONS_H_
#define JOBQUEUE_STORAGE_EMBEDDED_MIGRATIONS_H_

#include <string>
#include <vector>

namespace jobqueue {

struct MigrationFile {
  std::string name;  // e.g. "20260129000000_create_users_table.sql"
  std::string sql;
};

// Every file of migrations/, in name order.
const std::vector<MigrationFile>& EmbeddedMigrationFiles();

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_EMBEDDED_MIGRATIONS_H_
