// The advisory lock keys the service takes, by name. Their values never
// change: during a rolling upgrade an old and a new replica must contend
// for the same key, or both would run maintenance (or migrations) at once.

#ifndef JOBQUEUE_STORAGE_ADVISORY_LOCKS_H_
#define JOBQUEUE_STORAGE_ADVISORY_LOCKS_H_

#include <cstdint>

namespace jobqueue {

// Held, transaction-scoped, by each maintenance step: the process that
// wins it runs the step, the others skip it (storage/queries/maintenance.sql).
inline constexpr int64_t kMaintenanceLockKey = 7170393851237;

// Held, transaction-scoped, by the migration runner around each migration.
inline constexpr int64_t kMigrationLockKey = 0x6a6f62717565;  // "jobque"

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_ADVISORY_LOCKS_H_
