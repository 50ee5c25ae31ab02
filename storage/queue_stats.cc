#include "storage/queue_stats.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "storage/sql_error.h"

namespace jobqueue {
namespace {

constexpr const char* kStatuses[] = {"pending", "processing", "complete",
                                     "failed"};

constexpr char kActiveJobsByStatusSql[] =
    "SELECT status, count(*) FROM jobs"
    " WHERE status IN ('pending', 'processing', 'failed') GROUP BY status";
constexpr char kCompleteJobsSql[] =
    "SELECT count(*) FROM jobs WHERE status = 'complete'";
// -1 before the table was first vacuumed or analyzed.
constexpr char kEstimatedRowsSql[] =
    "SELECT reltuples::bigint FROM pg_class WHERE oid = "
    "'public.jobs'::regclass";
// Served by jobs_status_created_at_idx: the first entry of 'pending'.
constexpr char kOldestPendingSql[] =
    "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)"
    "::double precision FROM jobs WHERE status = 'pending'";

}  // namespace

absl::StatusOr<QueueSnapshot> QueueStats::Read(absl::Time deadline) const {
  const int64_t timeout_ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - absl::Now()));
  try {
    pqxx::connection connection(options_.url);
    const DeadlineWatch::Guard guard =
        watch_.Watch(connection.sock(), deadline);
    pqxx::read_transaction txn(connection);
    txn.exec0(absl::StrCat("SET LOCAL statement_timeout = ", timeout_ms));
    QueueSnapshot snapshot;
    for (const char* status : kStatuses) snapshot.jobs_by_status[status] = 0;
    int64_t active = 0;
    for (const pqxx::row& row : txn.exec(kActiveJobsByStatusSql)) {
      snapshot.jobs_by_status[row[0].as<std::string>()] = row[1].as<int64_t>();
      active += row[1].as<int64_t>();
    }
    const int64_t estimate = txn.exec1(kEstimatedRowsSql)[0].as<int64_t>();
    snapshot.jobs_by_status["complete"] =
        estimate > options_.exact_count_limit
            ? std::max<int64_t>(0, estimate - active)
            : txn.exec1(kCompleteJobsSql)[0].as<int64_t>();
    snapshot.oldest_pending_age =
        absl::Seconds(txn.exec1(kOldestPendingSql)[0].as<double>());
    return snapshot;
  } catch (...) {
    return StatusFromCurrentException();
  }
}

}  // namespace jobqueue
