// PgJobStore's queue settings: rate limits (their tokens are spent by the
// claims, in pg_job_leases.cc's statements), default run-time limits and
// pauses (the claims skip a paused queue in those statements too).

#include <cmath>

#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"

namespace jobqueue {
namespace {

const NamedQuery& kSetQueueRateLimit = Query("set_queue_rate_limit");
const NamedQuery& kSetQueueMaxRunTime = Query("set_queue_max_run_time");
const NamedQuery& kGetQueue = Query("get_queue");
const NamedQuery& kQueueNextToken = Query("queue_next_token");
const NamedQuery& kPauseQueue = Query("pause_queue");
const NamedQuery& kResumeQueue = Query("resume_queue");

// A queue's settings from (name, jobs_per_second, burst, max_run_ms,
// paused_at epoch, pause_reason) at `first`.
QueueSettings QueueFromRow(const pqxx::row& row, int first) {
  QueueSettings q{.name = row[first].as<std::string>()};
  if (!row[first + 1].is_null()) {
    q.rate_limit = RateLimit{.jobs_per_second = row[first + 1].as<double>(),
                             .burst = row[first + 2].as<int>()};
  }
  if (!row[first + 3].is_null()) {
    q.max_run_time = absl::Milliseconds(row[first + 3].as<int64_t>());
  }
  if (!row[first + 4].is_null()) {
    q.paused_at = FromEpoch(row[first + 4]);
    q.pause_reason = TextOrEmpty(row[first + 5]);
  }
  return q;
}

// Queue `name` as get_queue answers it in `r`: its defaults when no row.
QueueSettings QueueOrDefaults(const std::string& name, const pqxx::result& r) {
  if (r.empty()) return QueueSettings{.name = name};
  return QueueFromRow(r[0], 0);
}

}  // namespace

void AddQueueStatements(StatementSet& c) {
  c.Add(kSetQueueRateLimit);
  c.Add(kSetQueueMaxRunTime);
  c.Add(kGetQueue);
  c.Add(kQueueNextToken);
  c.Add(kPauseQueue);
  c.Add(kResumeQueue);
}

absl::StatusOr<QueueSettings> PgJobStore::SetQueueRateLimit(
    const std::string& queue, const std::optional<RateLimit>& limit,
    absl::Time deadline) {
  // NaN and infinities reach the queues_rate_limit constraint, which
  // refuses them.
  return WithConnection<QueueSettings>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<QueueSettings> {
        if (!limit.has_value()) {
          return QueueFromRow(
              Exec1(txn, kSetQueueRateLimit, queue, nullptr, nullptr), 0);
        }
        return QueueFromRow(Exec1(txn, kSetQueueRateLimit, queue,
                                  limit->jobs_per_second, limit->burst),
                            0);
      });
}

absl::StatusOr<QueueSettings> PgJobStore::SetQueueMaxRunTime(
    const std::string& queue, absl::Duration max_run_time,
    absl::Time deadline) {
  return WithConnection<QueueSettings>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<QueueSettings> {
        if (max_run_time == absl::ZeroDuration()) {
          return QueueFromRow(Exec1(txn, kSetQueueMaxRunTime, queue, nullptr),
                              0);
        }
        return QueueFromRow(
            Exec1(txn, kSetQueueMaxRunTime, queue, Millis(max_run_time)), 0);
      });
}

absl::StatusOr<QueueSettings> PgJobStore::GetQueue(const std::string& name,
                                                   absl::Time deadline) {
  return WithConnection<QueueSettings>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<QueueSettings> {
        return QueueOrDefaults(name, Exec(txn, kGetQueue, name));
      });
}

absl::StatusOr<QueueSettings> PgJobStore::PauseQueue(const std::string& queue,
                                                     const std::string& reason,
                                                     absl::Time deadline) {
  return WithConnection<QueueSettings>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<QueueSettings> {
        return QueueFromRow(Exec1(txn, kPauseQueue, queue, reason), 0);
      });
}

absl::StatusOr<QueueSettings> PgJobStore::ResumeQueue(const std::string& queue,
                                                      absl::Time deadline) {
  return WithConnection<QueueSettings>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<QueueSettings> {
        pqxx::result resumed = Exec(txn, kResumeQueue, queue);
        if (!resumed.empty()) return QueueFromRow(resumed[0], 0);
        return QueueOrDefaults(queue, Exec(txn, kGetQueue, queue));
      });
}

absl::StatusOr<TokenWait> PgJobStore::NextTokenIn(
    const std::vector<std::string>& queues, absl::Time deadline) {
  return WithConnection<TokenWait>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<TokenWait> {
        pqxx::result r = Exec(txn, kQueueNextToken, PgArray(queues));
        if (r.empty()) return TokenWait();
        return TokenWait{
            .next = absl::Seconds(std::max(0.0, r[0][0].as<double>())),
            .interval = absl::Seconds(r[0][1].as<double>()),
            .every_queue = r[0][2].as<bool>()};
      });
}

}  // namespace jobqueue
