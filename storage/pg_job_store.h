// JobStore on PostgreSQL through libpqxx: the only code that speaks SQL to
// the jobs, users and dlq_jobs tables.
//
// Owns its connection pool. Each method runs one atomic statement on a
// pooled connection: a block of storage/queries (see named_queries.h), as a
// prepared statement of the block's name (prepared once per connection)
// with DatabasePooling::kSession, or an unnamed statement sent with its
// parameters in one round trip with kTransaction, where nothing may outlive
// a transaction (see DatabasePooling); a connection that breaks
// mid-call is discarded, and a call that found a stale idle connection is
// retried once on a fresh one (nothing was committed in that case).
// libpqxx exceptions never leave this class.
//
//   PgJobStore store({.url = database_url, .max_size = 8});
//   absl::StatusOr<Job> job = store.GetJob(id, absl::Now() + absl::Seconds(5));

#ifndef JOBQUEUE_STORAGE_PG_JOB_STORE_H_
#define JOBQUEUE_STORAGE_PG_JOB_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/connection_pool.h"
#include "storage/group_commit.h"
#include "storage/job_notifier.h"
#include "storage/job_store.h"
#include "storage/named_queries.h"
#include "storage/sql_error.h"
#include "storage/statement_observer.h"

namespace jobqueue {

// What stands between the store and PostgreSQL.
enum class DatabasePooling {
  // A direct connection or a session pooler (PgBouncer pool_mode=session,
  // Supavisor on port 5432): a connection keeps its server session, so
  // statements are prepared once per connection and settings are SET once.
  kSession,
  // A transaction pooler (PgBouncer pool_mode=transaction, Supavisor on port
  // 6543): each transaction may run on another server connection, so no
  // state may outlive a transaction: unnamed statements, SET LOCAL in every
  // transaction, transaction-scoped advisory locks, and no LISTEN.
  kTransaction,
};

// The statements of the store, prepared on each new connection in session
// pooling (unless added as not `prepared`), or sent unnamed in transaction
// pooling.
class StatementSet {
 public:
  void Add(const NamedQuery& query, bool prepared = true);
  void PrepareAll(pqxx::connection& c) const;
  // Every statement added, prepared or not.
  std::vector<const NamedQuery*> all() const;

 private:
  std::vector<std::pair<const NamedQuery*, bool>> statements_;
};

class PgJobStore final : public JobStore {
 public:
  struct Options {
    std::string url;
    int pool_size = 8;
    // Longest a statement may run (e.g. waiting on a lock) before the server
    // cancels it; the call then fails with DEADLINE_EXCEEDED.
    absl::Duration statement_timeout = absl::Seconds(30);
    // Longest a statement waits for a row another session holds (an
    // operator's open transaction, say) before it gives up with ABORTED,
    // nothing written; calls batched with it are then retried one by one.
    absl::Duration lock_timeout = absl::Seconds(2);
    // Maintenance removes the row of a conversation that has had no active
    // job for this long (a later job of it makes a new one).
    absl::Duration conversation_retention = absl::Hours(1);
    RetryBackoff retry_backoff;
    // Group commit of Enqueue and of CompleteJob, each batched on its own
    // with these settings (see group_commit.h): concurrent calls go to the
    // database as one multi-row statement; each caller still gets its own
    // job or its own error.
    GroupCommitOptions group_commit;
    // Called with the size of every enqueue batch (e.g. for metrics).
    std::function<void(int)> on_enqueue_batch;
    DatabasePooling pooling = DatabasePooling::kSession;
    // Told of every statement run, by block name (e.g. for metrics); must
    // outlive the store. None when null.
    StatementObserver* statement_observer = nullptr;
    // Told after every call whose committed statements may have made jobs
    // claimable (JobNotifier::Announce); the store's sessions then send no
    // NOTIFY themselves. Must outlive the store. When null, the triggers on
    // jobs notify from inside each transaction.
    JobNotifier* notifier = nullptr;
  };

  explicit PgJobStore(const Options& options);

  absl::StatusOr<UpsertUserResult> UpsertUser(const std::string& phone_number,
                                              const std::string& first_name,
                                              absl::Time deadline) override;
  absl::StatusOr<EnqueueResult> Enqueue(const NewJob& job,
                                        absl::Time deadline) override;
  absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>> EnqueueJobs(
      const std::vector<NewJob>& jobs, absl::Time deadline) override;
  absl::StatusOr<Job> GetJob(const std::string& id,
                             absl::Time deadline) override;
  absl::StatusOr<Job> UpdateStatus(const StatusChange& change,
                                   absl::Time deadline) override;
  absl::StatusOr<JobPage> ListJobs(const JobFilter& filter,
                                   const std::optional<JobCursor>& after,
                                   int limit, absl::Time deadline) override;
  absl::StatusOr<DeadLetter> RecordDeadLetter(const NewDeadLetter& letter,
                                              absl::Time deadline) override;
  // Dead letters for operators, in pg_dead_letters.cc.
  absl::StatusOr<DeadLetterPage> ListDeadLetters(
      const DeadLetterFilter& filter,
      const std::optional<DeadLetterCursor>& after, int limit,
      absl::Time deadline) override;
  std::vector<absl::StatusOr<DeadLetterReplayResult>> ReplayDeadLetters(
      const std::vector<std::string>& ids, const std::string& requested_by,
      const DeadLetterToJob& to_job, absl::Time deadline) override;
  absl::StatusOr<User> GetUser(const std::string& phone_number,
                               absl::Time deadline) override;
  absl::StatusOr<UserPage> ListUsers(const UserFilter& filter,
                                     const std::optional<UserCursor>& after,
                                     int limit, absl::Time deadline) override;

  // Workers' calls, in pg_job_leases.cc.
  absl::StatusOr<std::vector<Job>> ClaimJobs(const ClaimRequest& request,
                                             absl::Time deadline) override;
  absl::StatusOr<Job> ExtendLease(const std::string& id,
                                  const std::string& lease_token,
                                  absl::Duration lease,
                                  absl::Time deadline) override;
  using JobStore::CompleteJob;
  absl::StatusOr<Job> CompleteJob(const JobLease& lease,
                                  absl::Time deadline) override;
  std::vector<absl::Status> CompleteJobs(const std::vector<JobLease>& leases,
                                         absl::Time deadline) override;
  absl::StatusOr<Job> FailJob(const std::string& id,
                              const std::string& lease_token,
                              const std::string& error, bool retryable,
                              absl::Time deadline) override;
  absl::StatusOr<Job> SnoozeJob(const std::string& id,
                                const std::string& lease_token,
                                absl::Duration delay,
                                absl::Time deadline) override;
  absl::Status ReleaseJobs(const std::vector<JobLease>& leases,
                           absl::Time deadline) override;
  absl::StatusOr<Job> RetryJob(const std::string& id,
                               absl::Time deadline) override;
  absl::StatusOr<int> PromoteScheduled(int max_jobs,
                                       absl::Time deadline) override;
  absl::StatusOr<Job> CancelJob(const std::string& id,
                                const std::string& idempotency_key,
                                absl::Time deadline) override;
  absl::StatusOr<MaintenanceReport> RunMaintenance(
      absl::Duration retention, int max_deletes, absl::Time deadline) override;

  // Schedules, in pg_job_schedules.cc.
  absl::StatusOr<CreateScheduleResult> CreateSchedule(
      const ScheduleSpec& spec, absl::Time deadline) override;
  absl::StatusOr<SchedulePage> ListSchedules(const std::string& after,
                                             int limit,
                                             absl::Time deadline) override;
  absl::Status DeleteSchedule(const std::string& name,
                              absl::Time deadline) override;
  absl::StatusOr<ScheduleTickReport> RunSchedules(int max_schedules,
                                                  absl::Time deadline) override;
  // Queue settings, in pg_job_queues.cc.
  absl::StatusOr<QueueSettings> SetQueueRateLimit(
      const std::string& queue, const std::optional<RateLimit>& limit,
      absl::Time deadline) override;
  absl::StatusOr<QueueSettings> SetQueueMaxRunTime(
      const std::string& queue, absl::Duration max_run_time,
      absl::Time deadline) override;
  absl::StatusOr<QueueSettings> GetQueue(const std::string& name,
                                         absl::Time deadline) override;
  absl::StatusOr<QueueSettings> PauseQueue(const std::string& queue,
                                           const std::string& reason,
                                           absl::Time deadline) override;
  absl::StatusOr<QueueSettings> ResumeQueue(const std::string& queue,
                                            absl::Time deadline) override;
  absl::StatusOr<TokenWait> NextTokenIn(const std::vector<std::string>& queues,
                                        absl::Time deadline) override;
  // Queue statistics and waiting conversations, in pg_queue_overview.cc.
  absl::StatusOr<std::vector<QueueStatistics>> GetQueueStats(
      const std::string& queue, int minutes, absl::Time deadline) override;
  absl::StatusOr<ConversationPage> ListConversations(
      const std::string& queue, const std::optional<ConversationCursor>& after,
      int limit, absl::Time deadline) override;

  // Bulk actions, in pg_job_bulk.cc: one transaction each, rows locked
  // with SKIP LOCKED.
  absl::StatusOr<RetryJobsResult> RetryJobs(const BulkJobs& jobs,
                                            absl::Time deadline) override;
  absl::StatusOr<CancelJobsResult> CancelJobs(const BulkJobs& jobs,
                                              absl::Time deadline) override;

  // Closes the pool: later calls get UNAVAILABLE.
  void Close() { pool_.Close(); }
  // Cuts off the calls waiting on the database now (see
  // ConnectionPool::Interrupt).
  void Interrupt() { pool_.Interrupt(); }

  // The occupancy of this store's connection pool, for metrics.
  ConnectionPool::Stats pool_stats() const { return pool_.stats(); }

 private:
  // DEADLINE_EXCEEDED for a statement the deadline cut off.
  static absl::Status NoAnswerBeforeDeadline();
  // How many times a statement chosen as a deadlock's victim runs again.
  static constexpr int kDeadlockRetries = 3;

  // Runs `body` on a pooled connection in autocommit mode: every method is
  // one atomic statement (Enqueue's second one only reads). `retry_safe` says
  // the call may be repeated once after a stale connection broke; a
  // statement the server picked as a deadlock's victim changed nothing and
  // runs again, up to kDeadlockRetries times. In
  // transaction pooling `body` runs in a transaction that first sets the
  // statement timeout with SET LOCAL, unless `autocommit` (for statements
  // such as VACUUM that cannot run in a transaction block; they then run
  // under the role's statement timeout). With `transaction`, `body` runs in
  // a transaction whatever the pooling (committed when it returns, rolled
  // back when it throws).
  template <typename T>
  absl::StatusOr<T> WithConnection(
      absl::Time deadline, bool retry_safe,
      const std::function<absl::StatusOr<T>(pqxx::transaction_base&)>& body,
      bool autocommit = false, bool transaction = false);

  // The statement `query` (see StatementSet) with `args`.
  template <typename... Args>
  pqxx::result Exec(pqxx::transaction_base& txn, const NamedQuery& query,
                    Args&&... args) const {
    return Observed(query, [&] {
      if (pooling_ == DatabasePooling::kTransaction) {
        return txn.exec_params(query.sql, std::forward<Args>(args)...);
      }
      return txn.exec_prepared(query.name, std::forward<Args>(args)...);
    });
  }
  // Exec of a statement that returns one row.
  template <typename... Args>
  pqxx::row Exec1(pqxx::transaction_base& txn, const NamedQuery& query,
                  Args&&... args) const {
    pqxx::result r = Exec(txn, query, std::forward<Args>(args)...);
    if (r.size() != 1) {
      throw pqxx::unexpected_rows(query.name + " returned " +
                                  std::to_string(r.size()) + " rows, not 1");
    }
    return r[0];
  }
  // `query` sent unnamed with `args` whatever the pooling: planned with
  // its values each time.
  template <typename... Args>
  pqxx::result ExecUnnamed(pqxx::transaction_base& txn, const NamedQuery& query,
                           Args&&... args) const {
    return Observed(query, [&] {
      return txn.exec_params(query.sql, std::forward<Args>(args)...);
    });
  }
  // `query` sent as text with `values` quoted in place of $1, $2, ...:
  // planned with its values each time, whatever the plan cache mode.
  pqxx::result ExecWithValues(pqxx::transaction_base& txn,
                              const NamedQuery& query,
                              const std::vector<std::string>& values) const;
  // `run`, which runs `query`: noted as the statement running on this
  // thread (named in the log if it throws) and observed.
  template <typename Run>
  pqxx::result Observed(const NamedQuery& query, const Run& run) const {
    running_statement_ = &query.name;
    const size_t index = QueryIndex(query);
    pqxx::result r = Timed(sinks_[index].get(), run);
    if (wakes_claims_[index]) made_claimable_ = true;
    return r;
  }
  // `run`, timed into `sink` when there is one.
  template <typename Run>
  static pqxx::result Timed(StatementObserver::Sink* sink, const Run& run) {
    if (sink == nullptr) return run();
    const absl::Time start = absl::Now();
    try {
      pqxx::result r = run();
      sink->Observe(true, absl::Now() - start);
      return r;
    } catch (...) {
      sink->Observe(false, absl::Now() - start);
      throw;
    }
  }
  // The name of the statement this thread ran last, or "".
  static absl::string_view RunningStatement() {
    if (running_statement_ == nullptr) return "";
    return *running_statement_;
  }
  // Settings of the session, or with `local` of the transaction.
  void Configure(pqxx::transaction_base& txn, bool local) const;

  absl::StatusOr<Job> CompleteOne(const JobLease& job, absl::Time deadline);
  // A group-commit batch of completions (pg_job_leases.cc).
  std::vector<absl::StatusOr<Job>> CompleteBatch(
      const std::vector<const JobLease*>& jobs, absl::Time deadline);

  // One single-row enqueue.
  absl::StatusOr<EnqueueResult> EnqueueOne(const NewJob& job,
                                           absl::Time deadline);
  // Its statements in `txn`: the job, or the one holding its key.
  absl::StatusOr<EnqueueResult> EnqueueIn(pqxx::transaction_base& txn,
                                          const NewJob& job) const;
  // Replays dead letter `id` in `txn`, and the job it makes (the failed job
  // re-queued, or `to_job`'s enqueued) in a savepoint, or the refusal to
  // record (pg_dead_letters.cc).
  absl::StatusOr<DeadLetterReplayResult> ReplayOne(
      pqxx::transaction_base& txn, const std::string& id,
      const std::string& requested_by, const DeadLetterToJob& to_job);
  absl::StatusOr<std::string> ReplayedJob(pqxx::transaction_base& txn,
                                          const DeadLetter& letter,
                                          const DeadLetterToJob& to_job);
  // A group-commit batch: one statement for all, or one each when the
  // server refused that statement (so nothing of it was inserted).
  std::vector<absl::StatusOr<EnqueueResult>> EnqueueBatch(
      const std::vector<const NewJob*>& jobs, absl::Time deadline);
  // The batch statement, then a lookup of the jobs whose idempotency key
  // was taken; an error only when the statement itself failed.
  absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>> InsertBatch(
      const std::vector<const NewJob*>& jobs, absl::Time deadline);

  // Maintenance steps (pg_job_maintenance.cc), each its own transaction
  // that runs only in the process holding the maintenance lock; an error in
  // one is reported and the others still run.
  absl::Status RescueLeases(MaintenanceReport& report, absl::Time deadline);
  absl::Status DeleteCompleted(absl::Duration retention, int max_deletes,
                               MaintenanceReport& report, absl::Time deadline);
  absl::Status Recount(MaintenanceReport& report, absl::Time deadline);
  absl::Status RemoveIdleConversations(MaintenanceReport& report,
                                       absl::Time deadline);
  absl::Status VacuumConversations(absl::Time deadline);
  absl::Status RollUpQueueCounts(MaintenanceReport& report,
                                 absl::Time deadline);

  // The schedule `row` (see storage/queries/schedules.sql) ticks: its job
  // enqueued in `txn` and its next tick set (pg_job_schedules.cc).
  void Tick(pqxx::transaction_base& txn, const pqxx::row& row,
            ScheduleTickReport& report);

  const RetryBackoff backoff_;
  const std::function<void(int)> on_enqueue_batch_;
  const DatabasePooling pooling_;
  JobNotifier* const notifier_;
  // By QueryIndex: whether a run of the statement may make jobs claimable.
  const std::vector<bool> wakes_claims_;
  const absl::Duration conversation_retention_;
  // Where the drift sweep goes on next round (a conversation id; "" starts
  // over), when idle conversations were last removed, and when the
  // conversations' statistics were last taken.
  absl::Mutex maintenance_mu_;
  std::string sweep_after_ ABSL_GUARDED_BY(maintenance_mu_);
  absl::Time idle_removed_at_ ABSL_GUARDED_BY(maintenance_mu_) =
      absl::InfinitePast();
  absl::Time analyzed_at_ ABSL_GUARDED_BY(maintenance_mu_) =
      absl::InfinitePast();
  // Session settings, in milliseconds.
  const int64_t statement_timeout_ms_;
  const int64_t lock_timeout_ms_;
  const StatementSet statements_;
  // By QueryIndex: where each statement's runs go; null for none.
  const std::vector<std::unique_ptr<StatementObserver::Sink>> sinks_;
  // Set by Observed, read when a statement threw.
  static inline thread_local const std::string* running_statement_ = nullptr;
  // Whether this thread's call ran a statement of wakes_claims_, and how
  // deep it is in WithConnection: announced when the outermost one returns.
  static inline thread_local bool made_claimable_ = false;
  static inline thread_local int connection_depth_ = 0;
  // Announces made_claimable_ to notifier_, once every transaction of the
  // call has ended.
  void AnnounceChanges() const;
  ConnectionPool pool_;
  GroupCommit<NewJob, EnqueueResult> enqueues_;
  GroupCommit<JobLease, Job> completions_;
};

template <typename T>
absl::StatusOr<T> PgJobStore::WithConnection(
    absl::Time deadline, bool retry_safe,
    const std::function<absl::StatusOr<T>(pqxx::transaction_base&)>& body,
    bool autocommit, bool transaction) {
  ++connection_depth_;
  absl::Cleanup announce = [this] {
    if (--connection_depth_ == 0) AnnounceChanges();
  };
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<ConnectionPool::Lease> lease = pool_.Acquire(deadline);
    if (!lease.ok()) return lease.status();
    running_statement_ = nullptr;
    try {
      if (transaction ||
          (pooling_ == DatabasePooling::kTransaction && !autocommit)) {
        // Settings last only as long as this transaction: the pooler may
        // give the next one another server connection.
        pqxx::work txn(lease->connection());
        if (pooling_ == DatabasePooling::kTransaction) {
          Configure(txn, /*local=*/true);
        }
        absl::StatusOr<T> result = body(txn);
        // As in autocommit: what the statements did stands, whatever the
        // call makes of their result.
        txn.commit();
        return result;
      }
      pqxx::nontransaction txn(lease->connection());
      return body(txn);
    } catch (const pqxx::broken_connection&) {
      lease->MarkBroken();
      if (lease->timed_out()) return NoAnswerBeforeDeadline();
      // An idle connection the server dropped (e.g. it restarted): try once
      // more on a fresh one when repeating the call is harmless.
      if (retry_safe && !lease->fresh() && attempt == 0) continue;
      return StatusFromCurrentException(RunningStatement());
    } catch (const pqxx::deadlock_detected&) {
      // The server rolled the statement back, so it changed nothing. Rows
      // are locked in one order, yet PostgreSQL 15's SKIP LOCKED can still
      // wait on a row's newer version while another session commits: the
      // victim runs again, a bounded number of times.
      absl::Status status = StatusFromCurrentException(RunningStatement());
      if (lease->timed_out()) return NoAnswerBeforeDeadline();
      if (attempt >= kDeadlockRetries) return status;
      // A pause lets the session that won go first.
      const absl::Duration pause = absl::Milliseconds(20 * (attempt + 1));
      if (absl::Now() + pause >= deadline) return status;
      absl::SleepFor(pause);
      continue;
    } catch (...) {
      if (!lease->connection().is_open()) lease->MarkBroken();
      if (lease->timed_out()) return NoAnswerBeforeDeadline();
      return StatusFromCurrentException(RunningStatement());
    }
  }
}

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_PG_JOB_STORE_H_
