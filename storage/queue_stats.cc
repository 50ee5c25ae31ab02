#include "storage/queue_stats.h"

#include <algorithm>
#include <pqxx/pqxx>

#include "storage/named_queries.h"
#include "storage/sql_error.h"

namespace jobqueue {
namespace {

constexpr const char* kStatuses[] = {"pending", "processing", "complete",
                                     "failed",  "cancelled",  "scheduled"};

const NamedQuery& kStatementTimeout = Query("local_statement_timeout");
const NamedQuery& kActiveJobs = Query("stats_active_jobs");
const NamedQuery& kCompleteJobs = Query("stats_complete_jobs");
const NamedQuery& kEstimatedJobs = Query("stats_estimated_jobs");
const NamedQuery& kOldestPendingAge = Query("stats_oldest_pending_age");
const NamedQuery& kQueuePauses = Query("stats_queue_pauses");

}  // namespace

absl::StatusOr<QueueSnapshot> QueueStats::Read(absl::Time deadline) const {
  const int64_t timeout_ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - absl::Now()));
  // The statement running, named in the log if it fails.
  const NamedQuery* running = nullptr;
  auto exec = [&](pqxx::transaction_base& txn, const NamedQuery& query) {
    running = &query;
    return txn.exec(query.sql);
  };
  try {
    pqxx::connection connection(options_.url);
    const DeadlineWatch::Guard guard =
        watch_.Watch(connection.sock(), deadline);
    pqxx::read_transaction txn(connection);
    running = &kStatementTimeout;
    txn.exec_params(kStatementTimeout.sql, std::to_string(timeout_ms));
    QueueSnapshot snapshot;
    for (const char* status : kStatuses) snapshot.jobs_by_status[status] = 0;
    int64_t active = 0;
    for (const pqxx::row& row : exec(txn, kActiveJobs)) {
      snapshot.jobs_by_status[row[0].as<std::string>()] = row[1].as<int64_t>();
      active += row[1].as<int64_t>();
    }
    const int64_t estimate = exec(txn, kEstimatedJobs)[0][0].as<int64_t>();
    snapshot.jobs_by_status["complete"] =
        estimate > options_.exact_count_limit
            ? std::max<int64_t>(0, estimate - active)
            : exec(txn, kCompleteJobs)[0][0].as<int64_t>();
    snapshot.oldest_pending_age =
        absl::Seconds(exec(txn, kOldestPendingAge)[0][0].as<double>());
    for (const pqxx::row& row : exec(txn, kQueuePauses)) {
      snapshot.queue_paused[row[0].as<std::string>()] = row[1].as<bool>();
    }
    return snapshot;
  } catch (...) {
    return StatusFromCurrentException(running == nullptr ? "" : running->name);
  }
}

}  // namespace jobqueue
