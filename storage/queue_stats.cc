#include "storage/queue_stats.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "storage/sql_error.h"

namespace jobqueue {
namespace {

constexpr const char* kStatuses[] = {"pending", "processing", "complete",
                                     "failed"};

constexpr char kJobsByStatusSql[] =
    "SELECT status, count(*) FROM jobs GROUP BY status";
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
    pqxx::read_transaction txn(connection);
    txn.exec0(absl::StrCat("SET LOCAL statement_timeout = ", timeout_ms));
    QueueSnapshot snapshot;
    for (const char* status : kStatuses) snapshot.jobs_by_status[status] = 0;
    for (const pqxx::row& row : txn.exec(kJobsByStatusSql)) {
      snapshot.jobs_by_status[row[0].as<std::string>()] = row[1].as<int64_t>();
    }
    snapshot.oldest_pending_age =
        absl::Seconds(txn.exec1(kOldestPendingSql)[0].as<double>());
    return snapshot;
  } catch (...) {
    return StatusFromCurrentException();
  }
}

}  // namespace jobqueue
