// The persistence interface of the service: users, jobs and dead letters.
//
// Source types and content types are the column values ("dm", "text", ...);
// statuses are JobStatus. Every method takes the caller's deadline, which
// bounds the wait for a database connection. Errors are absl::Status codes:
//   INVALID_ARGUMENT  a constraint rejected the input; nothing was written
//   NOT_FOUND         the row (or a referenced row) does not exist
//   ALREADY_EXISTS    a unique key is taken
//   FAILED_PRECONDITION  the row is not in a state that allows the change
//   ABORTED           serialization failure or deadlock; retry
//   UNAVAILABLE       the database cannot be reached; retry
//   DEADLINE_EXCEEDED no connection became free before the deadline
//
//   absl::StatusOr<EnqueueResult> r = store.Enqueue(new_job, deadline);

#ifndef JOBQUEUE_STORAGE_JOB_STORE_H_
#define JOBQUEUE_STORAGE_JOB_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/job_status.h"

namespace jobqueue {

struct User {
  std::string phone_number;
  std::string first_name;  // empty when unknown
  absl::Time created_at;
};

// One failed attempt of a job, as its attempt history keeps it.
struct AttemptError {
  int attempt = 0;  // the job's attempts when it failed
  std::string error;
  std::string worker_id;  // empty when none
  absl::Time failed_at;
};

// The most failed attempts a job keeps (the newest; see
// append_attempt_error in the migrations).
inline constexpr int kMaxAttemptErrors = 20;

struct Job {
  std::string id;
  std::string user_id;
  std::string source_channel_id;
  std::string source_type;
  std::string user_phone;
  std::string payload_json;
  JobStatus status = JobStatus::kPending;
  std::string content_type;
  std::string idempotency_key;  // empty when none
  absl::Time created_at;
  absl::Time updated_at;
  int attempts = 0;
  int max_attempts = 0;
  absl::Time run_after;
  std::string lease_token;                             // empty when not leased
  absl::Time lease_expires_at = absl::InfinitePast();  // when leased
  std::string worker_id;                               // empty when none
  std::string last_error;                              // empty when none
  std::string queue = "default";
  bool ordered = true;  // waits for its conversation's earlier jobs
  int priority = 0;     // 0 to 9, higher first
  // When CancelJob asked this processing job to stop; InfinitePast when not.
  absl::Time cancel_requested_at = absl::InfinitePast();
  std::string result_json;  // what CompleteJob stored, a JSON object; or ""
  std::vector<AttemptError> attempt_errors;  // oldest first
  // Its own run-time limit; zero: its queue's default (or none).
  absl::Duration max_run_time = absl::ZeroDuration();
  // While processing under a run-time limit, when this attempt must end: no
  // lease reaches past it. InfiniteFuture when no limit applies.
  absl::Time run_deadline = absl::InfiniteFuture();
};

struct NewJob {
  std::string user_phone;
  std::string user_first_name;  // empty keeps a known name
  std::string source_channel_id;
  std::string source_type;
  std::string payload_json;  // a JSON object
  std::string content_type;
  std::string idempotency_key;  // empty for none
  int max_attempts = 5;
  std::string queue = "default";
  // Ordered jobs of one (queue, source_channel_id) run one at a time in
  // enqueue order; an unordered job neither waits nor holds others up.
  bool ordered = true;
  // 0 to 9: among claimable jobs, higher first; inside a conversation,
  // order wins.
  int priority = 0;
  // It runs at the later of run_at and now + delay (the store's clock);
  // both unset, now. A job due later is kScheduled, in no conversation and
  // not claimable, until PromoteScheduled makes it pending once due.
  absl::Time run_at = absl::InfinitePast();
  absl::Duration delay = absl::ZeroDuration();
  // How long one attempt may run, heartbeats or not (1 s to 24 h); zero:
  // the queue's default, else no limit.
  absl::Duration max_run_time = absl::ZeroDuration();
};

struct UpsertUserResult {
  User user;
  bool created = false;
};

struct EnqueueResult {
  Job job;
  bool created = false;  // false: idempotency_key matched an existing job
};

// Filters of ListJobs; empty strings and infinite times mean "any".
struct JobFilter {
  std::string user_id;
  std::optional<JobStatus> status;
  std::string source_channel_id;
  std::string source_type;
  absl::Time created_after = absl::InfinitePast();     // inclusive
  absl::Time created_before = absl::InfiniteFuture();  // exclusive
};

// A position in the newest-first order: the last row of a page.
struct JobCursor {
  absl::Time created_at;
  std::string id;
};

struct JobPage {
  std::vector<Job> jobs;
  std::optional<JobCursor> next;  // set when more rows may follow
};

// RetryJobs' and CancelJobs' request: the jobs matching `filter` (its
// status: for RetryJobs unset or kFailed; for CancelJobs unset, meaning
// scheduled, pending and processing, or one of those three), at most
// `limit` (1 to kMaxBulkLimit) of them, the oldest (created_at, then
// position, then id) first. A filter that narrows nothing needs `all`, and
// `all` no filter: a forgotten filter must not act on every job. `dry_run`
// counts them and changes nothing.
struct BulkJobs {
  JobFilter filter;
  bool all = false;
  int limit = 100;
  bool dry_run = false;
};

// The most jobs one RetryJobs or CancelJobs call changes.
inline constexpr int kMaxBulkLimit = 1000;

struct RetryJobsResult {
  int retried = 0;  // failed -> pending (dry run: would be)
  // Matching failed jobs are left: past the limit, or held by another
  // session (skipped).
  bool more = false;
};

struct CancelJobsResult {
  int cancelled = 0;         // scheduled or pending -> cancelled
  int cancel_requested = 0;  // processing, cancel_requested_at set
  // Matching jobs are left to cancel: past the limit, or held by another
  // session (skipped).
  bool more = false;
};

// Filters of ListUsers; infinite times mean "any".
struct UserFilter {
  absl::Time created_after = absl::InfinitePast();     // inclusive
  absl::Time created_before = absl::InfiniteFuture();  // exclusive
};

// A position in the users' newest-first order (created_at, then
// phone_number, both descending): the last user of a page.
struct UserCursor {
  absl::Time created_at;
  std::string phone_number;
};

struct UserPage {
  std::vector<User> users;
  std::optional<UserCursor> next;  // set when more users may follow
};

// UpdateStatus's request: move `job_id` to `to`, only from `expected` when
// set, and, for a leased job, only with its current `lease_token`.
struct StatusChange {
  std::string job_id;
  JobStatus to = JobStatus::kPending;
  std::optional<JobStatus> expected;
  std::string lease_token;  // empty for a job that is not leased
  // The lease a move to processing creates.
  absl::Duration lease = absl::Seconds(30);
};

// A claimed job as its worker holds it.
struct JobLease {
  std::string job_id;
  std::string lease_token;
  // CompleteJob(s) only: the job's result, a JSON object; "" for none.
  std::string result_json;
};

struct ClaimRequest {
  std::string worker_id;
  std::vector<std::string> queues = {"default"};  // one or more, distinct
  int max_jobs = 1;
  absl::Duration lease = absl::Seconds(30);
  std::string source_type;  // empty: any
  // Distinct content types as stored ("text", "audio", ...); empty: any.
  std::vector<std::string> content_types;
  // Claim jobs even when an earlier job of their conversation is unfinished.
  bool ignore_conversation_order = false;
};

// Exponential backoff of retryable failures: attempt n waits a random time
// in [d/2, d] with d = min(base * 2^(n-1), max).
struct RetryBackoff {
  absl::Duration base = absl::Seconds(1);
  absl::Duration max = absl::Hours(1);
};

struct MaintenanceReport {
  int rescued = 0;        // lapsed leases returned to pending
  int dead_lettered = 0;  // lapsed leases with no attempts left
  int cancelled = 0;      // lapsed leases of jobs CancelJob asked to stop
  int deleted = 0;        // completed or cancelled jobs past retention
  int recounted = 0;      // conversations whose counts were set again
  int idle_removed = 0;   // rows of long-idle conversations removed
  int counts_folded = 0;  // queue counters' deltas folded into their totals
  // Ready conversations moved up to the claims' floor (their ready_since
  // edited by hand below it).
  int floor_moved = 0;
  // Lapsed leases left for a later round because another session holds
  // their job's or their conversation's row (an open transaction).
  int rescue_locked = 0;
  bool skipped = false;  // another process held the maintenance lock
  // Steps that failed this round, one line each ("rescue: ..."); the other
  // steps still ran.
  std::vector<std::string> errors;
};

// A queue's rate limit: a token bucket of `burst` tokens filled at
// `jobs_per_second`; each job claimed of the queue spends one.
struct RateLimit {
  double jobs_per_second = 0;  // > 0, at most 100,000
  int burst = 1;               // 1 to 100,000
};

// A named queue's settings; a queue nothing was set for has the defaults.
struct QueueSettings {
  std::string name;
  std::optional<RateLimit> rate_limit;  // none: unlimited
  // The default run-time limit of its jobs; zero: none.
  absl::Duration max_run_time = absl::ZeroDuration();
  // While paused (claims skip it): since when, and why ("" when no reason
  // was given). InfinitePast while running.
  absl::Time paused_at = absl::InfinitePast();
  std::string pause_reason;
};

// The longest pause reason, in bytes (the queues_pause_reason constraint).
inline constexpr size_t kMaxPauseReasonBytes = 1024;

// When a claim that found nothing should try a rate-limited queue again.
struct TokenWait {
  // Until a queue without a whole token has one; infinite when none waits.
  absl::Duration next = absl::InfiniteDuration();
  // Between that queue's tokens (1 / jobs_per_second).
  absl::Duration interval = absl::ZeroDuration();
  // Every queue asked for waits for a token: no new job can be claimed
  // before `next`, whatever is enqueued. Never so when one is paused: a
  // claim of it must hear ResumeQueue's notification.
  bool every_queue = false;
};

// Jobs of a queue that moved into processing (claims), complete or failed
// during one minute, across every replica.
struct MinuteCounts {
  absl::Time start;  // the minute's first instant
  int64_t claimed = 0;
  int64_t completed = 0;
  int64_t failed = 0;
};

// The most minutes QueueStatistics carries (queue_throughput keeps an
// hour).
inline constexpr int kMaxStatsMinutes = 60;

// One queue as GetQueueStats reports it: counts kept by triggers (exact as
// of the read, never a count of the jobs), its settings and its last
// minutes.
struct QueueStatistics {
  QueueSettings settings;  // name, rate limit, pause (max_run_time unset)
  int64_t pending = 0;
  int64_t processing = 0;
  int64_t scheduled = 0;
  int64_t failed = 0;
  int64_t cancelled = 0;
  int64_t complete = 0;
  // Since its oldest pending job (in enqueue order) was created; zero when
  // none is pending.
  absl::Duration oldest_pending_age = absl::ZeroDuration();
  // Whole tokens its rate limit has now; 0 without a limit.
  int64_t tokens = 0;
  // The last minutes, oldest first; the last one is the current minute.
  std::vector<MinuteCounts> minutes;
};

// Why a conversation's head is not running, the first that holds of:
enum class HeadWait {
  kProcessing,   // it runs: worker_id holds it until lease_expires_at
  kQueuePaused,  // its queue is paused
  kBackoff,      // a failed attempt's retry waits until run_after
  kNotDue,       // not due before run_after (snoozed)
  kRateLimited,  // its queue's rate limit has no whole token now
  kReady,        // due, waiting for a worker that claims its queue
  kNoHead,       // the counts drifted and it has none (maintenance repairs)
};

// A conversation with pending jobs, as ListConversations reports it.
struct WaitingConversation {
  std::string queue;
  std::string source_channel_id;
  // Since when its head has been at the front (conversations.ready_since):
  // the key it is listed by, the longest-waiting first.
  absl::Time waiting_since;
  std::optional<Job> head;  // none with HeadWait::kNoHead
  HeadWait wait = HeadWait::kNoHead;
  int64_t jobs_behind = 0;  // its other pending and processing jobs
};

// A place in ListConversations' order.
struct ConversationCursor {
  absl::Time waiting_since;
  std::string conversation;  // queue, a space, source_channel_id
};

struct ConversationPage {
  std::vector<WaitingConversation> conversations;
  std::optional<ConversationCursor> next;  // when more may follow
};

struct NewDeadLetter {
  std::string source;
  std::string delivery_id;  // empty: always a new row
  std::string reason;
  std::string raw_payload_json;
};

// One replay of a dead letter, as dead_letter_replays records it: the
// latest try for one occurrence (its attempts) of the dead letter.
struct DeadLetterReplay {
  std::string dead_letter_id;
  int dead_letter_attempts = 0;  // the dead letter's attempts when replayed
  std::string requested_by;
  absl::Time replayed_at;  // the latest try
  std::string job_id;      // the job that carries it; empty when it failed
  std::string error;       // why it could not be replayed; empty when it was
  int tries = 0;
};

struct DeadLetter {
  std::string id;
  std::string source;
  std::string delivery_id;
  std::string reason;
  std::string raw_payload_json;
  int attempts = 0;
  absl::Time first_seen_at;
  absl::Time last_seen_at;
  std::string job_id;  // the failed job it copies; empty for a delivery
  // Its latest replay (ListDeadLetters only), if it has one.
  std::optional<DeadLetterReplay> replay;
};

// Filters of ListDeadLetters; empty strings and infinite times mean "any".
struct DeadLetterFilter {
  std::string source;           // exact
  std::string reason_contains;  // in the reason, ignoring ASCII case
  absl::Time since = absl::InfinitePast();    // last_seen_at >=, inclusive
  absl::Time until = absl::InfiniteFuture();  // last_seen_at <, exclusive
};

// A position in the dead letters' newest-first order (last_seen_at, then
// id, both descending): the last dead letter of a page.
struct DeadLetterCursor {
  absl::Time last_seen_at;
  std::string id;
};

struct DeadLetterPage {
  std::vector<DeadLetter> dead_letters;
  std::optional<DeadLetterCursor> next;  // set when more may follow
};

// How ReplayDeadLetters turns a dead letter that copies no job (a delivery
// that never became one) into a job: the job to enqueue, or why it cannot
// be (the status's message is recorded as the replay's error).
using DeadLetterToJob =
    std::function<absl::StatusOr<NewJob>(const DeadLetter& letter)>;

// ReplayDeadLetters' answer for one dead letter.
struct DeadLetterReplayResult {
  DeadLetterReplay replay;
  // True when this call tried it; false when it answers the outcome an
  // earlier replay recorded (nothing new was made).
  bool tried_now = false;
};

// A recurring schedule's definition: a cron expression read in a time
// zone, or an interval (schedule/recurrence.h says when each ticks).
struct ScheduleSpec {
  std::string name;
  std::string cron;       // empty for an interval schedule
  std::string time_zone;  // a cron schedule's IANA zone; "" for interval
  absl::Duration interval = absl::ZeroDuration();  // zero for cron
  NewJob job;  // what each tick enqueues; idempotency_key empty
};

struct Schedule {
  ScheduleSpec spec;
  absl::Time next_run_at;
  absl::Time last_run_at = absl::InfinitePast();  // before the first tick
  absl::Time created_at;
};

struct CreateScheduleResult {
  Schedule schedule;
  bool created = false;  // false: the same definition existed
};

struct SchedulePage {
  std::vector<Schedule> schedules;
  std::optional<std::string> next_after;  // a name, when more may follow
};

struct ScheduleTickReport {
  int enqueued = 0;  // jobs enqueued, one per due schedule
  // Older missed ticks passed over after an outage (each schedule enqueues
  // only its latest missed tick), counted up to Recurrence::kMaxCounted
  // per schedule.
  int64_t skipped_ticks = 0;
  // Schedules whose job could not be enqueued this round, one line each;
  // they stay due and are tried again in the next round.
  std::vector<std::string> errors;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Creates the user, or sets first_name on an existing one when not empty.
  virtual absl::StatusOr<UpsertUserResult> UpsertUser(
      const std::string& phone_number, const std::string& first_name,
      absl::Time deadline) = 0;

  // Inserts a pending (or, due later, scheduled) job and its user when
  // missing, in one transaction.
  // A repeated idempotency_key returns the first job, created=false.
  virtual absl::StatusOr<EnqueueResult> Enqueue(const NewJob& job,
                                                absl::Time deadline) = 0;

  // Enqueue for every job of `jobs` in one statement, one result per job in
  // order: jobs of one conversation take positions in that order, and a job
  // whose idempotency_key an earlier one repeats answers with that job
  // (created=false). An error of the statement is the call's, with nothing
  // stored; a job whose key's owner was deleted meanwhile gets ABORTED.
  virtual absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>>
  EnqueueJobs(const std::vector<NewJob>& jobs, absl::Time deadline) = 0;

  // NOT_FOUND when no job has this id.
  virtual absl::StatusOr<Job> GetJob(const std::string& id,
                                     absl::Time deadline) = 0;

  // Applies `change` when the transition is allowed and the job is in
  // `change.expected` (when set); else FAILED_PRECONDITION naming both
  // states. Atomic under concurrency. A move to processing leases the job
  // like a claim (a new lease_token in the result, `change.lease`, an
  // attempt counted) and only for its conversation's head when nothing else
  // of the conversation is processing; it is an operator's move, not a
  // claim, so it spends no token of a rate-limited queue. Back to pending
  // from failed, a job goes to the end of its conversation; so does a
  // scheduled job moved to pending, due at once ("run it now"), its only
  // move.
  virtual absl::StatusOr<Job> UpdateStatus(const StatusChange& change,
                                           absl::Time deadline) = 0;

  // Up to `limit` jobs matching `filter`, newest first, after `after`.
  virtual absl::StatusOr<JobPage> ListJobs(
      const JobFilter& filter, const std::optional<JobCursor>& after, int limit,
      absl::Time deadline) = 0;

  // Leases up to max_jobs claimable jobs in one statement: pending, past
  // run_after, and (unless ignore_conversation_order) the head of a
  // conversation none of whose jobs is processing, the longest-ready
  // conversation first. A conversation's jobs are heads in the order their
  // enqueues committed. Each claim counts an attempt and gets a new lease
  // token. Of a rate-limited queue a claim takes at most its whole tokens
  // (least(burst, tokens + elapsed * rate)) and spends one per job; the
  // other queues it names are not held back by that cap.
  virtual absl::StatusOr<std::vector<Job>> ClaimJobs(
      const ClaimRequest& request, absl::Time deadline) = 0;

  // The next four take the job's current lease token and fail with
  // FAILED_PRECONDITION, changing nothing, when it is stale or foreign.
  // When CancelJob asked the job to stop, each instead moves it to
  // cancelled (its lease ended, nothing of the call stored) and fails with
  // FAILED_PRECONDITION saying it was cancelled.
  virtual absl::StatusOr<Job> ExtendLease(const std::string& id,
                                          const std::string& lease_token,
                                          absl::Duration lease,
                                          absl::Time deadline) = 0;
  // Completes the job, storing lease.result_json (a JSON object) when set.
  virtual absl::StatusOr<Job> CompleteJob(const JobLease& lease,
                                          absl::Time deadline) = 0;
  absl::StatusOr<Job> CompleteJob(const std::string& id,
                                  const std::string& lease_token,
                                  absl::Time deadline) {
    return CompleteJob(JobLease{id, lease_token}, deadline);
  }
  // CompleteJob for each lease, in one statement: one status per lease, in
  // order. Leases must name distinct jobs.
  virtual std::vector<absl::Status> CompleteJobs(
      const std::vector<JobLease>& leases, absl::Time deadline) = 0;
  // Retryable with attempts left: pending after a backoff. Otherwise failed,
  // with a copy in dlq_jobs (source "jobqueue.jobs"). Either way the
  // attempt's error joins attempt_errors.
  virtual absl::StatusOr<Job> FailJob(const std::string& id,
                                      const std::string& lease_token,
                                      const std::string& error, bool retryable,
                                      absl::Time deadline) = 0;
  // Back to pending, due after `delay`, with the claim's attempt not
  // counted and the lease ended; it keeps its position, so a conversation's
  // head stays its head and the conversation waits for it.
  virtual absl::StatusOr<Job> SnoozeJob(const std::string& id,
                                        const std::string& lease_token,
                                        absl::Duration delay,
                                        absl::Time deadline) = 0;
  // Hands leased jobs back as if they had not been claimed: pending again
  // (cancelled when CancelJob asked meanwhile), the attempt not counted,
  // the lease gone, the token spent on it back in its rate-limited queue's
  // bucket (at most its burst). A lease that is no longer current is left
  // alone. For claims whose caller cannot take the jobs.
  virtual absl::Status ReleaseJobs(const std::vector<JobLease>& leases,
                                   absl::Time deadline) = 0;
  // failed -> pending with attempts reset, at the end of its conversation;
  // FAILED_PRECONDITION otherwise.
  virtual absl::StatusOr<Job> RetryJob(const std::string& id,
                                       absl::Time deadline) = 0;
  // The job with this id, or else with this idempotency_key (one of them
  // empty), made never to run: pending -> cancelled at once; processing
  // stays processing with cancel_requested_at set until its worker's next
  // call (see ExtendLease) or its lease lapses; cancelled again answers the
  // job. complete or failed: FAILED_PRECONDITION naming the status, nothing
  // changed. NOT_FOUND naming the id or key.
  virtual absl::StatusOr<Job> CancelJob(const std::string& id,
                                        const std::string& idempotency_key,
                                        absl::Time deadline) = 0;
  // RetryJob for each of up to `jobs.limit` failed jobs matching
  // `jobs.filter`, the oldest first, in one transaction; the jobs of one
  // conversation take new positions in that order, whether one call
  // retries them or several. A job
  // whose row another session holds is skipped (SKIP LOCKED), never waited
  // for. INVALID_ARGUMENT for a limit out of range, a status filter other
  // than kFailed, or a filter and `all` both set or both not.
  virtual absl::StatusOr<RetryJobsResult> RetryJobs(const BulkJobs& jobs,
                                                    absl::Time deadline) = 0;
  // CancelJob for each of up to `jobs.limit` matching scheduled, pending or
  // processing jobs (a processing one not yet asked to stop), the oldest
  // first, in one statement; held rows skipped as RetryJobs skips them.
  // INVALID_ARGUMENT for a limit out of range, a status filter that is not
  // one of those three, or a filter and `all` both set or both not.
  virtual absl::StatusOr<CancelJobsResult> CancelJobs(const BulkJobs& jobs,
                                                      absl::Time deadline) = 0;

  // Sets queue `queue`'s rate limit, or removes it (nullopt). A queue that
  // had none starts with a full bucket; a new limit keeps the tokens there
  // are, at most its burst. INVALID_ARGUMENT for a limit out of range or a
  // name that is not a queue name. Returns the queue's settings.
  virtual absl::StatusOr<QueueSettings> SetQueueRateLimit(
      const std::string& queue, const std::optional<RateLimit>& limit,
      absl::Time deadline) = 0;
  // Sets queue `queue`'s default run-time limit (1 s to 24 h), or removes
  // it (zero): claims from then on give the queue's jobs without a limit of
  // their own this one. Returns the queue's settings.
  virtual absl::StatusOr<QueueSettings> SetQueueMaxRunTime(
      const std::string& queue, absl::Duration max_run_time,
      absl::Time deadline) = 0;
  // Queue `name`'s settings: the defaults when nothing was set for it.
  virtual absl::StatusOr<QueueSettings> GetQueue(const std::string& name,
                                                 absl::Time deadline) = 0;
  // Pauses queue `queue` (a queue with no jobs or settings too): claims
  // that start after this returns skip it on every replica; enqueues still
  // land, and a job already processing keeps its lease. Pausing a paused
  // queue keeps its paused_at, and its reason unless `reason` is not
  // empty. INVALID_ARGUMENT for a name that is not a queue name or a
  // reason over kMaxPauseReasonBytes. Returns the queue's settings.
  virtual absl::StatusOr<QueueSettings> PauseQueue(const std::string& queue,
                                                   const std::string& reason,
                                                   absl::Time deadline) = 0;
  // Resumes queue `queue`: its jobs are claimable again, in conversation
  // order, and waiting claims on every replica are woken (through the
  // notification the jobs' changes use). A queue that is not paused is
  // left as it is. Returns the queue's settings.
  virtual absl::StatusOr<QueueSettings> ResumeQueue(const std::string& queue,
                                                    absl::Time deadline) = 0;
  // How long until the first running rate-limited queue of `queues` that
  // has no whole token has one, and its tokens' interval; `next` is
  // infinite when none waits for a token. A paused queue waits for no
  // token (ResumeQueue wakes its claims). A claim that found nothing waits at
  // most that long before it tries again.
  virtual absl::StatusOr<TokenWait> NextTokenIn(
      const std::vector<std::string>& queues, absl::Time deadline) = 0;
  // Queue `queue`'s statistics, or those of every queue with jobs or
  // settings when it is "" (by name), with the last `minutes` minutes (1 to
  // kMaxStatsMinutes). Reads counters, never counts the jobs: a few index
  // probes per queue whatever the table holds.
  virtual absl::StatusOr<std::vector<QueueStatistics>> GetQueueStats(
      const std::string& queue, int minutes, absl::Time deadline) = 0;
  // Up to `limit` (at least 1) conversations of queue `queue` ("" for any)
  // that have pending jobs, the longest-waiting first (by waiting_since,
  // then queue and channel), after `after`: a keyset page.
  virtual absl::StatusOr<ConversationPage> ListConversations(
      const std::string& queue, const std::optional<ConversationCursor>& after,
      int limit, absl::Time deadline) = 0;

  // One round of background upkeep, by one process at a time: returns
  // lapsed leases to pending (or failed + dead letter when out of attempts,
  // or cancelled when CancelJob asked), each with an attempt error, never
  // touching a job that finished meanwhile, and deletes up to `max_deletes`
  // jobs completed or cancelled more than `retention` ago (none when
  // retention is zero).
  virtual absl::StatusOr<MaintenanceReport> RunMaintenance(
      absl::Duration retention, int max_deletes, absl::Time deadline) = 0;

  // Moves up to `max_jobs` due scheduled jobs (run_after passed) to
  // pending, the earliest due first; returns how many. Each takes its
  // conversation's next position now: it waits behind the jobs enqueued
  // before it came due. Any number of processes may call it at once; none
  // moves a job another moved, and a job held by another session is left
  // for a later call.
  virtual absl::StatusOr<int> PromoteScheduled(int max_jobs,
                                               absl::Time deadline) = 0;

  // Inserts a dead letter, or bumps attempts and last_seen_at (and takes the
  // latest reason and payload) of the one with the same source/delivery_id.
  virtual absl::StatusOr<DeadLetter> RecordDeadLetter(
      const NewDeadLetter& letter, absl::Time deadline) = 0;

  // Up to `limit` (at least 1) dead letters matching `filter`, newest first
  // by (last_seen_at, id), after `after`: a keyset page. Each with its
  // latest replay, if any.
  virtual absl::StatusOr<DeadLetterPage> ListDeadLetters(
      const DeadLetterFilter& filter,
      const std::optional<DeadLetterCursor>& after, int limit,
      absl::Time deadline) = 0;

  // Replays each dead letter of `ids` on its own, one result per id in
  // order; `requested_by` (1 to 255 bytes) is recorded. A dead letter that
  // copies a failed job re-queues that job as RetryJob does (at the end of
  // its conversation); any other becomes the job `to_job` makes of it,
  // enqueued as Enqueue does (its idempotency_key may answer an existing
  // job). The job and the replay's record are written in one transaction
  // under the dead letter's row lock, so concurrent calls on any number of
  // connections make one job per dead letter and occurrence: a dead letter
  // whose current attempts were replayed answers the recorded outcome
  // (tried_now false). A replay that cannot be done (`to_job` refused, the
  // job is gone or not failed, a constraint refused the job) is recorded
  // with its error and tried again by a later call. NOT_FOUND for an
  // unknown id; other errors (UNAVAILABLE, ABORTED, ...) record nothing.
  virtual std::vector<absl::StatusOr<DeadLetterReplayResult>> ReplayDeadLetters(
      const std::vector<std::string>& ids, const std::string& requested_by,
      const DeadLetterToJob& to_job, absl::Time deadline) = 0;

  // The user with this phone number; NOT_FOUND naming it when there is none.
  virtual absl::StatusOr<User> GetUser(const std::string& phone_number,
                                       absl::Time deadline) = 0;

  // Up to `limit` (at least 1) users matching `filter`, newest first by
  // (created_at, phone_number), after `after`: a keyset page.
  virtual absl::StatusOr<UserPage> ListUsers(
      const UserFilter& filter, const std::optional<UserCursor>& after,
      int limit, absl::Time deadline) = 0;

  // Stores a schedule whose first tick is the first after now. A schedule
  // of that name with the same definition is returned (created=false);
  // with another definition ALREADY_EXISTS naming it.
  virtual absl::StatusOr<CreateScheduleResult> CreateSchedule(
      const ScheduleSpec& spec, absl::Time deadline) = 0;
  // Up to `limit` (at least 1) schedules by name, after `after`.
  virtual absl::StatusOr<SchedulePage> ListSchedules(const std::string& after,
                                                     int limit,
                                                     absl::Time deadline) = 0;
  // NOT_FOUND naming it when there is none. Jobs it enqueued stay.
  virtual absl::Status DeleteSchedule(const std::string& name,
                                      absl::Time deadline) = 0;
  // One round of ticks, safe in any number of processes at once: for up to
  // `max_schedules` due schedules that no other round holds, enqueues the
  // job of the latest tick that has passed (idempotency key
  // ScheduleTickKey), and moves the schedule to its first tick after now,
  // each schedule in the same transaction as its job.
  virtual absl::StatusOr<ScheduleTickReport> RunSchedules(
      int max_schedules, absl::Time deadline) = 0;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_JOB_STORE_H_
