// A JobStore in memory, for tests of the service layer: it keeps users,
// jobs and dead letters as PgJobStore does (the same answers, codes and
// order; storage/job_store_suite.h runs one suite against both),
// and records what each call received. Thread-safe.
//
//   FakeJobStore store;
//   JobQueueService service(&store, nullptr, {});
//   service.EnqueueJob(&context, &request, &response);
//   EXPECT_EQ(store.calls().back().method, "Enqueue");
//
// What only PostgreSQL does is left out: deadlines (a call never waits),
// lock timeouts, the maintenance lock and the conversations' repairs (their
// counts in MaintenanceReport stay zero). A payload is kept as given, not
// normalized as jsonb prints it, and checked only for its outer braces.

#ifndef JOBQUEUE_STORAGE_FAKE_JOB_STORE_H_
#define JOBQUEUE_STORAGE_FAKE_JOB_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/job_store.h"

namespace jobqueue {

class FakeJobStore final : public JobStore {
 public:
  // `backoff` as PgJobStore::Options::retry_backoff.
  explicit FakeJobStore(RetryBackoff backoff = {}) : backoff_(backoff) {}

  struct Call {
    std::string method;  // "Enqueue", "UpdateStatus", ...
    absl::Time deadline;
  };
  std::vector<Call> calls() const;

  // What the calls received, the latest of each kind.
  NewJob new_job() const;
  StatusChange status_change() const;
  JobFilter filter() const;
  ClaimRequest claim() const;
  std::vector<JobLease> leases() const;    // CompleteJob's and CompleteJobs'
  std::vector<JobLease> released() const;  // every ReleaseJobs lease
  UserFilter user_filter() const;          // ListUsers'

  // Sets a known user's created_at, as plain SQL could (tests use it for
  // users created at the same time); false when there is no such user.
  bool SetUserCreatedAt(const std::string& phone_number, absl::Time t);

  // Sets a schedule's next_run_at, as plain SQL could (tests use it for an
  // outage); false when there is no such schedule.
  bool SetScheduleNextRunAt(const std::string& name, absl::Time t);

  // When not OK, every call fails with it and changes nothing. Set it
  // before the calls it is for.
  absl::Status error;

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
                              const std::string& last_error, bool retryable,
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
  absl::StatusOr<QueueSettings> SetQueueRateLimit(
      const std::string& queue, const std::optional<RateLimit>& limit,
      absl::Time deadline) override;
  absl::StatusOr<QueueSettings> SetQueueMaxRunTime(
      const std::string& queue, absl::Duration max_run_time,
      absl::Time deadline) override;
  absl::StatusOr<QueueSettings> GetQueue(const std::string& name,
                                         absl::Time deadline) override;
  absl::StatusOr<TokenWait> NextTokenIn(const std::vector<std::string>& queues,
                                        absl::Time deadline) override;
  // Pauses, in fake_queue_pauses.cc.
  absl::StatusOr<QueueSettings> PauseQueue(const std::string& queue,
                                           const std::string& reason,
                                           absl::Time deadline) override;
  absl::StatusOr<QueueSettings> ResumeQueue(const std::string& queue,
                                            absl::Time deadline) override;
  // Bulk actions, in fake_bulk_jobs.cc.
  absl::StatusOr<RetryJobsResult> RetryJobs(const BulkJobs& jobs,
                                            absl::Time deadline) override;
  absl::StatusOr<CancelJobsResult> CancelJobs(const BulkJobs& jobs,
                                              absl::Time deadline) override;
  // The latest RetryJobs' or CancelJobs' request.
  BulkJobs bulk_jobs() const;
  // Queue statistics and waiting conversations, in fake_queue_overview.cc.
  absl::StatusOr<std::vector<QueueStatistics>> GetQueueStats(
      const std::string& queue, int minutes, absl::Time deadline) override;
  absl::StatusOr<ConversationPage> ListConversations(
      const std::string& queue, const std::optional<ConversationCursor>& after,
      int limit, absl::Time deadline) override;
  absl::StatusOr<MaintenanceReport> RunMaintenance(
      absl::Duration retention, int max_deletes, absl::Time deadline) override;
  absl::StatusOr<DeadLetter> RecordDeadLetter(const NewDeadLetter& letter,
                                              absl::Time deadline) override;
  // Dead letters for operators, in fake_dead_letters.cc.
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
  // Schedules, in fake_job_schedules.cc.
  absl::StatusOr<CreateScheduleResult> CreateSchedule(
      const ScheduleSpec& spec, absl::Time deadline) override;
  absl::StatusOr<SchedulePage> ListSchedules(const std::string& after,
                                             int limit,
                                             absl::Time deadline) override;
  absl::Status DeleteSchedule(const std::string& name,
                              absl::Time deadline) override;
  absl::StatusOr<ScheduleTickReport> RunSchedules(int max_schedules,
                                                  absl::Time deadline) override;

 private:
  // A job and its place: `seq` in arrival order, `position` in its
  // conversation (a retried job takes a new one at the end).
  struct Row {
    Job job;
    int64_t seq = 0;
    int64_t position = 0;
  };
  // A conversation's last position and, while it is ready (some job
  // pending, none processing), since when it waits for a claim.
  struct Conversation {
    int64_t last_position = 0;
    absl::Time ready_since = absl::InfinitePast();
  };

  // A rate-limited queue's token bucket, as the queues table keeps it.
  struct Bucket {
    RateLimit limit;
    double tokens = 0;  // as of refilled_at
    absl::Time refilled_at;
    // The tokens at `now`.
    double At(absl::Time now) const;
  };

  // Records the call and returns `error`.
  absl::Status Begin(const char* method, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job `id` (any case), or NOT_FOUND / INVALID_ARGUMENT as PostgreSQL
  // answers for an unknown id or one that is not a UUID.
  absl::StatusOr<Row*> Find(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job `id` while `lease_token` is its current, unexpired lease. When
  // CancelJob asked the job to stop, cancels it under that token instead
  // and answers so.
  absl::StatusOr<Row*> Leased(const std::string& id,
                              const std::string& lease_token)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the lease of processing `row`, which CancelJob asked to stop, as
  // cancelled; returns the refusal the caller's call gets.
  absl::Status CancelRequested(Row& row) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The conversation's active job with the lowest position, if any.
  // The job holding idempotency key `key`, if any.
  const Row* ByKey(const std::string& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Enqueue's checks and its change, for a job already checked.
  absl::Status CheckEnqueue(const NewJob& job) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  EnqueueResult Insert(const NewJob& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A job's conversation: queue, a space, channel; empty when unordered.
  static std::string KeyOf(const std::string& queue, const std::string& channel,
                           bool ordered);
  static std::string KeyOf(const Job& job);
  Row* Head(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Ready(const std::string& channel) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets the conversation's readiness after a change to its jobs, as
  // PostgreSQL's triggers do; `was_ready` is Ready() before the change.
  void Reconsider(const std::string& channel, bool was_ready)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leases `row` as a claim does: for at most its run-time limit.
  void Lease(Row& row, const std::string& worker_id, absl::Duration lease)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queue `name`'s settings as GetQueue answers them.
  QueueSettings SettingsOf(const std::string& name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts an attempt of `job`: its run_deadline from its run-time limit
  // (its own, else its queue's), and a lease of `lease` that ends by it.
  void StartAttempt(Job& job, absl::Duration lease)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends `row`'s lease as failed or, with attempts left and `retryable`,
  // pending after `backoff` (none: due now); as cancelled when `cancel`.
  // The attempt joins the job's attempt_errors.
  void EndLease(Row& row, const std::string& last_error, bool retryable,
                std::optional<RetryBackoff> backoff, bool cancel = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A failed job's copy in the dead letters, once per job.
  void DeadLetterOf(const Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Job> CompleteLocked(const JobLease& lease)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RetryJob's change to failed `row`: pending at the end of its
  // conversation, attempts reset.
  void Retry(Row& row) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // CancelJob's change: scheduled or pending `row` cancelled, processing
  // asked to stop; any other left as it is.
  void Cancel(Row& row) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Up to `max_rows` jobs matching `filter` and `also`, oldest first
  // (created_at, then position, then id).
  std::vector<Row*> OldestMatching(const JobFilter& filter,
                                   const std::function<bool(const Job&)>& also,
                                   size_t max_rows)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // RetryJob's change of job `id`.
  absl::StatusOr<Job> RetryLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ReplayDeadLetters for one dead letter (fake_dead_letters.cc).
  absl::StatusOr<DeadLetterReplayResult> ReplayLocked(
      const std::string& id, const std::string& requested_by,
      const DeadLetterToJob& to_job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RetryBackoff backoff_;
  mutable absl::Mutex mu_;
  std::map<std::string, User> users_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Row> jobs_ ABSL_GUARDED_BY(mu_);  // by id
  std::map<std::string, Conversation> conversations_ ABSL_GUARDED_BY(mu_);
  std::vector<DeadLetter> dead_letters_ ABSL_GUARDED_BY(mu_);
  // As dead_letter_replays keeps them: by dead letter id and attempts.
  std::map<std::pair<std::string, int>, DeadLetterReplay> replays_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, Schedule> schedules_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);  // by queue
  // Queues' default run-time limits.
  std::map<std::string, absl::Duration> max_run_times_ ABSL_GUARDED_BY(mu_);
  // A paused queue's pause, as queues.paused_at and pause_reason keep it.
  struct Pause {
    absl::Time at;
    std::string reason;  // "" for none
  };
  std::map<std::string, Pause> pauses_ ABSL_GUARDED_BY(mu_);  // by queue
  // Records that `job` just entered its status, for GetQueueStats' minutes
  // (claims, completions and failures), as the jobs triggers count them.
  void Entered(const Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // By queue, then the minute's start.
  std::map<std::pair<std::string, absl::Time>, MinuteCounts> minutes_
      ABSL_GUARDED_BY(mu_);

  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  NewJob new_job_ ABSL_GUARDED_BY(mu_);
  StatusChange status_change_ ABSL_GUARDED_BY(mu_);
  JobFilter filter_ ABSL_GUARDED_BY(mu_);
  ClaimRequest claim_ ABSL_GUARDED_BY(mu_);
  std::vector<JobLease> leases_ ABSL_GUARDED_BY(mu_);
  std::vector<JobLease> released_ ABSL_GUARDED_BY(mu_);
  UserFilter user_filter_ ABSL_GUARDED_BY(mu_);
  BulkJobs bulk_jobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_FAKE_JOB_STORE_H_
