#include "storage/fake_job_store.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/lease_refusal.h"
#include "storage/new_uuid.h"
#include "storage/queue_name.h"
#include "storage/requested_job.h"

namespace jobqueue {
namespace {

// PostgreSQL keeps microseconds.
absl::Time Now() {
  return absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
}

// A UUID as PostgreSQL reads one (any case), in its lower-case text form;
// empty when `text` is not one.
std::string CanonicalUuid(const std::string& text) {
  if (text.size() != 36) return "";
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !absl::ascii_isxdigit(text[i])) return "";
  }
  return absl::AsciiStrToLower(text);
}

absl::Status NotAUuid(const std::string& text) {
  return absl::InvalidArgumentError(
      absl::StrCat("a value is not valid: '", text, "' is not a UUID"));
}

absl::Status Invalid(const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("a value breaks a rule of the table: ", what));
}

bool IsPhoneNumber(const std::string& s) {
  if (s.size() < 9 || s.size() > 16 || s[0] != '+') return false;
  return std::all_of(s.begin() + 1, s.end(), absl::ascii_isdigit);
}

// A JSON object, by its outer braces (the fake does not parse JSON).
bool LooksLikeObject(const std::string& json) {
  const std::string s(absl::StripAsciiWhitespace(json));
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}

// The rules of the jobs table that a new job can break.
absl::Status CheckNewJob(const NewJob& job) {
  static const char* const kContentTypes[] = {
      "text", "image", "audio", "video", "document", "location", "other"};
  if (job.source_channel_id.empty()) return Invalid("source_channel_id");
  if (job.source_type != "dm" && job.source_type != "group") {
    return Invalid("source_type");
  }
  if (!LooksLikeObject(job.payload_json)) return Invalid("payload");
  if (std::find(std::begin(kContentTypes), std::end(kContentTypes),
                job.content_type) == std::end(kContentTypes)) {
    return Invalid("content_type");
  }
  if (job.idempotency_key.size() > 255) return Invalid("idempotency_key");
  if (job.max_attempts < 1) return Invalid("max_attempts");
  if (!IsQueueName(job.queue)) return Invalid("queue");
  if (job.priority < 0 || job.priority > 9) return Invalid("priority");
  if (job.max_run_time != absl::ZeroDuration() &&
      (job.max_run_time < absl::Seconds(1) ||
       job.max_run_time > absl::Hours(24))) {
    return Invalid("max_run_ms");
  }
  return absl::OkStatus();
}

bool Active(JobStatus s) {
  return s == JobStatus::kPending || s == JobStatus::kProcessing;
}

bool Matches(const Job& job, const JobFilter& f) {
  return (f.user_id.empty() || job.user_id == f.user_id) &&
         (!f.status.has_value() || job.status == *f.status) &&
         (f.source_channel_id.empty() ||
          job.source_channel_id == f.source_channel_id) &&
         (f.source_type.empty() || job.source_type == f.source_type) &&
         job.created_at >= f.created_after && job.created_at < f.created_before;
}

// Newest first, as ListJobs pages.
bool Newer(const Job& a, const Job& b) {
  return std::tie(a.created_at, a.id) > std::tie(b.created_at, b.id);
}

// Newest first, as ListUsers pages.
bool NewerUser(const User& a, const User& b) {
  return std::tie(a.created_at, a.phone_number) >
         std::tie(b.created_at, b.phone_number);
}

// PgJobStore's refusals, in its words.
absl::Status Refused(const std::string& id, const std::string& why) {
  return absl::FailedPreconditionError(absl::StrCat("job ", id, why));
}
constexpr char kLeaseExpired[] =
    "'s lease has expired: the job goes to another worker, and this "
    "lease_token changes nothing (extend leases well before they run out)";
constexpr char kCancelled[] =
    " was cancelled (CancelJob): stop working on it; its lease has ended and "
    "nothing of this call was stored";

}  // namespace

std::vector<FakeJobStore::Call> FakeJobStore::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}
NewJob FakeJobStore::new_job() const {
  absl::MutexLock lock(&mu_);
  return new_job_;
}
StatusChange FakeJobStore::status_change() const {
  absl::MutexLock lock(&mu_);
  return status_change_;
}
JobFilter FakeJobStore::filter() const {
  absl::MutexLock lock(&mu_);
  return filter_;
}
ClaimRequest FakeJobStore::claim() const {
  absl::MutexLock lock(&mu_);
  return claim_;
}
UserFilter FakeJobStore::user_filter() const {
  absl::MutexLock lock(&mu_);
  return user_filter_;
}
bool FakeJobStore::SetUserCreatedAt(const std::string& phone_number,
                                    absl::Time t) {
  absl::MutexLock lock(&mu_);
  auto it = users_.find(phone_number);
  if (it == users_.end()) return false;
  it->second.created_at = t;
  return true;
}
std::vector<JobLease> FakeJobStore::leases() const {
  absl::MutexLock lock(&mu_);
  return leases_;
}
std::vector<JobLease> FakeJobStore::released() const {
  absl::MutexLock lock(&mu_);
  return released_;
}

absl::Status FakeJobStore::Begin(const char* method, absl::Time deadline) {
  calls_.push_back({method, deadline});
  return error;
}

absl::StatusOr<FakeJobStore::Row*> FakeJobStore::Find(const std::string& id) {
  const std::string key = CanonicalUuid(id);
  if (key.empty()) return NotAUuid(id);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
  }
  return &it->second;
}

absl::StatusOr<FakeJobStore::Row*> FakeJobStore::Leased(
    const std::string& id, const std::string& lease_token) {
  const std::string token = CanonicalUuid(lease_token);
  if (token.empty()) return NotAUuid(lease_token);
  absl::StatusOr<Row*> row = Find(id);
  if (!row.ok()) return row.status();
  Job& job = (*row)->job;
  if (job.status == JobStatus::kProcessing && job.lease_token == token &&
      job.cancel_requested_at != absl::InfinitePast()) {
    return CancelRequested(**row);
  }
  if (job.status == JobStatus::kProcessing && job.lease_token == token) {
    if (job.lease_expires_at > Now()) return row;
    if (job.run_deadline <= job.lease_expires_at) {
      return absl::FailedPreconditionError(absl::StrCat(
          "job ", job.id, " reached its run-time limit at ",
          absl::FormatTime(absl::RFC3339_full, job.run_deadline,
                           absl::UTCTimeZone()),
          ": no heartbeat extends a lease past it; stop working on it"));
    }
    return Refused(id, kLeaseExpired);
  }
  return Refused(id, absl::StrCat(" is not leased with this lease_token (it "
                                  "is '",
                                  JobStatusName(job.status),
                                  "'; the lease may have expired and passed "
                                  "to another worker)"));
}

absl::Status FakeJobStore::CancelRequested(Row& row) {
  Job& job = row.job;
  job.status = JobStatus::kCancelled;
  job.lease_token.clear();
  job.lease_expires_at = absl::InfinitePast();
  job.updated_at = Now();
  Reconsider(KeyOf(job), /*was_ready=*/false);
  return Refused(job.id, kCancelled);
}

std::string FakeJobStore::KeyOf(const std::string& queue,
                                const std::string& channel, bool ordered) {
  return ordered ? absl::StrCat(queue, " ", channel) : std::string();
}

std::string FakeJobStore::KeyOf(const Job& job) {
  return KeyOf(job.queue, job.source_channel_id, job.ordered);
}

FakeJobStore::Row* FakeJobStore::Head(const std::string& key) {
  Row* head = nullptr;
  for (auto& [id, row] : jobs_) {
    if (!key.empty() && KeyOf(row.job) == key && Active(row.job.status) &&
        (head == nullptr || row.position < head->position)) {
      head = &row;
    }
  }
  return head;
}

bool FakeJobStore::Ready(const std::string& key) const {
  if (key.empty()) return false;
  bool pending = false;
  for (const auto& [id, row] : jobs_) {
    if (KeyOf(row.job) != key) continue;
    if (row.job.status == JobStatus::kProcessing) return false;
    pending = pending || row.job.status == JobStatus::kPending;
  }
  return pending;
}

void FakeJobStore::Reconsider(const std::string& key, bool was_ready) {
  if (!Ready(key)) return;
  Conversation& c = conversations_[key];
  // One that was ready keeps its place in line; one that becomes ready goes
  // to the back; either waits for its head to be due.
  const absl::Time since =
      was_ready ? std::min(c.ready_since, absl::Now()) : absl::Now();
  c.ready_since = std::max(since, Head(key)->job.run_after);
}

void FakeJobStore::StartAttempt(Job& job, absl::Duration lease) {
  absl::Duration limit = job.max_run_time;
  if (auto it = max_run_times_.find(job.queue);
      limit == absl::ZeroDuration() && it != max_run_times_.end()) {
    limit = it->second;
  }
  job.run_deadline =
      limit > absl::ZeroDuration() ? Now() + limit : absl::InfiniteFuture();
  job.lease_expires_at = std::min(Now() + lease, job.run_deadline);
}

void FakeJobStore::Lease(Row& row, const std::string& worker_id,
                         absl::Duration lease) {
  Job& job = row.job;
  job.status = JobStatus::kProcessing;
  job.attempts += 1;
  job.lease_token = NewUuid();
  StartAttempt(job, lease);
  job.worker_id = worker_id;
  job.updated_at = Now();
  Entered(job);
}

void FakeJobStore::EndLease(Row& row, const std::string& last_error,
                            bool retryable, std::optional<RetryBackoff> backoff,
                            bool cancel) {
  Job& job = row.job;
  const bool again = !cancel && retryable && job.attempts < job.max_attempts;
  job.status = cancel  ? JobStatus::kCancelled
               : again ? JobStatus::kPending
                       : JobStatus::kFailed;
  Entered(job);
  job.lease_token.clear();
  job.lease_expires_at = absl::InfinitePast();
  job.run_deadline = absl::InfiniteFuture();
  job.last_error = last_error;
  job.updated_at = Now();
  job.attempt_errors.push_back({.attempt = job.attempts,
                                .error = last_error,
                                .worker_id = job.worker_id,
                                .failed_at = Now()});
  if (job.attempt_errors.size() > kMaxAttemptErrors) {
    job.attempt_errors.erase(job.attempt_errors.begin());
  }
  if (!backoff.has_value()) {
    job.run_after = Now();
  } else if (again) {
    thread_local absl::BitGen gen;
    const absl::Duration d =
        std::min(backoff->max, backoff->base * std::pow(2, job.attempts - 1));
    job.run_after = Now() + d * absl::Uniform(gen, 0.5, 1.0);
  }
  if (!again && !cancel) DeadLetterOf(job);
}

void FakeJobStore::DeadLetterOf(const Job& job) {
  for (DeadLetter& d : dead_letters_) {
    if (d.source == "jobqueue.jobs" && d.delivery_id == job.id) {
      d.attempts += 1;
      d.last_seen_at = Now();
      d.reason = job.last_error;
      return;
    }
  }
  dead_letters_.push_back({.id = NewUuid(),
                           .source = "jobqueue.jobs",
                           .delivery_id = job.id,
                           .reason = job.last_error,
                           .raw_payload_json = job.payload_json,
                           .attempts = 1,
                           .first_seen_at = Now(),
                           .last_seen_at = Now(),
                           .job_id = job.id});
}

absl::StatusOr<UpsertUserResult> FakeJobStore::UpsertUser(
    const std::string& phone_number, const std::string& first_name,
    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("UpsertUser", deadline); !s.ok()) return s;
  if (!IsPhoneNumber(phone_number)) return Invalid("phone_number");
  auto [it, created] =
      users_.try_emplace(phone_number, User{.phone_number = phone_number,
                                            .first_name = first_name,
                                            .created_at = Now()});
  if (!first_name.empty()) it->second.first_name = first_name;
  return UpsertUserResult{.user = it->second, .created = created};
}

absl::StatusOr<EnqueueResult> FakeJobStore::Enqueue(const NewJob& job,
                                                    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  new_job_ = job;
  if (absl::Status s = Begin("Enqueue", deadline); !s.ok()) return s;
  if (absl::Status s = CheckEnqueue(job); !s.ok()) return s;
  return Insert(job);
}

absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>>
FakeJobStore::EnqueueJobs(const std::vector<NewJob>& jobs,
                          absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("EnqueueJobs", deadline); !s.ok()) return s;
  // One statement: a job that breaks a rule stores nothing of any job.
  for (const NewJob& job : jobs) {
    if (absl::Status s = CheckEnqueue(job); !s.ok()) return s;
  }
  std::vector<absl::StatusOr<EnqueueResult>> results;
  for (const NewJob& job : jobs) results.push_back(Insert(job));
  return results;
}

const FakeJobStore::Row* FakeJobStore::ByKey(const std::string& key) const {
  if (key.empty()) return nullptr;
  for (const auto& [id, row] : jobs_) {
    if (row.job.idempotency_key == key) return &row;
  }
  return nullptr;
}

absl::Status FakeJobStore::CheckEnqueue(const NewJob& job) const {
  if (!IsPhoneNumber(job.user_phone)) return Invalid("user_phone");
  // A job whose key is taken is not checked (no row is written).
  if (ByKey(job.idempotency_key) != nullptr) return absl::OkStatus();
  return CheckNewJob(job);
}

EnqueueResult FakeJobStore::Insert(const NewJob& job) {
  // The user is written even when the key is taken.
  User& user = users_[job.user_phone];
  if (user.phone_number.empty()) {
    user = {.phone_number = job.user_phone, .created_at = Now()};
  }
  if (!job.user_first_name.empty()) user.first_name = job.user_first_name;
  if (const Row* taken = ByKey(job.idempotency_key); taken != nullptr) {
    return EnqueueResult{.job = taken->job, .created = false};
  }
  const absl::Time now = Now();
  const absl::Time due =
      std::max(absl::FromUnixMicros(absl::ToUnixMicros(job.run_at)),
               absl::FromUnixMicros(absl::ToUnixMicros(now + job.delay)));
  const bool scheduled = due > now;
  // A scheduled job is in no conversation until it is due.
  const std::string key =
      scheduled ? "" : KeyOf(job.queue, job.source_channel_id, job.ordered);
  const bool was_ready = Ready(key);
  Row row;
  row.seq = next_seq_++;
  row.position = key.empty() ? 0 : ++conversations_[key].last_position;
  row.job = RequestedJob(job);
  row.job.id = NewUuid();
  row.job.status = scheduled ? JobStatus::kScheduled : JobStatus::kPending;
  row.job.created_at = now;
  row.job.updated_at = now;
  row.job.run_after = due;
  const Job stored = row.job;
  jobs_.emplace(stored.id, std::move(row));
  Reconsider(key, was_ready);
  return EnqueueResult{.job = stored, .created = true};
}

absl::StatusOr<Job> FakeJobStore::GetJob(const std::string& id,
                                         absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("GetJob", deadline); !s.ok()) return s;
  absl::StatusOr<Row*> row = Find(id);
  if (!row.ok()) return row.status();
  return (*row)->job;
}

absl::StatusOr<Job> FakeJobStore::UpdateStatus(const StatusChange& change,
                                               absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  status_change_ = change;
  if (absl::Status s = Begin("UpdateStatus", deadline); !s.ok()) return s;
  absl::StatusOr<Row*> found = Find(change.job_id);
  if (!found.ok()) return found.status();
  Row& row = **found;
  Job& job = row.job;
  const std::string& id = change.job_id;
  const std::string from(JobStatusName(job.status));
  const std::string to(JobStatusName(change.to));
  if (change.expected.has_value() && job.status != *change.expected) {
    return Refused(id, absl::StrCat(" is '", from, "', not the expected '",
                                    JobStatusName(*change.expected), "'"));
  }
  if (!job.lease_token.empty()) {
    // Compared as text, as the statement does.
    if (job.lease_token != change.lease_token) {
      return Refused(id, " is leased; pass its current lease_token");
    }
    if (job.lease_expires_at <= Now()) return Refused(id, kLeaseExpired);
  }
  const std::string channel = KeyOf(job);
  if (change.to == JobStatus::kProcessing &&
      job.status == JobStatus::kPending && !channel.empty()) {
    if (const Row* head = Head(channel); head != &row) {
      return Refused(id, absl::StrCat(" waits for job ", head->job.id,
                                      ", earlier in its conversation"));
    }
    if (!Ready(channel)) {
      return Refused(id,
                     " waits: another job of its conversation is processing");
    }
  }
  static const std::pair<JobStatus, JobStatus> kMoves[] = {
      {JobStatus::kPending, JobStatus::kProcessing},
      {JobStatus::kProcessing, JobStatus::kComplete},
      {JobStatus::kProcessing, JobStatus::kFailed},
      {JobStatus::kProcessing, JobStatus::kPending},
      {JobStatus::kFailed, JobStatus::kPending},
      {JobStatus::kScheduled, JobStatus::kPending}};
  if (std::find(std::begin(kMoves), std::end(kMoves),
                std::make_pair(job.status, change.to)) == std::end(kMoves)) {
    return Refused(
        id, absl::StrCat(" cannot move from '", from, "' to '", to, "'"));
  }
  const bool was_ready = Ready(channel);
  if (job.status == JobStatus::kProcessing &&
      job.cancel_requested_at != absl::InfinitePast()) {
    return CancelRequested(row);
  }
  if ((job.status == JobStatus::kFailed ||
       job.status == JobStatus::kScheduled) &&
      !channel.empty()) {
    row.position = ++conversations_[channel].last_position;
  }
  if (job.status == JobStatus::kScheduled) {
    job.run_after = std::min(job.run_after, Now());
  }
  job.status = change.to;
  job.lease_token = change.to == JobStatus::kProcessing ? NewUuid() : "";
  job.lease_expires_at = absl::InfinitePast();
  job.run_deadline = absl::InfiniteFuture();
  if (change.to == JobStatus::kProcessing) StartAttempt(job, change.lease);
  if (change.to == JobStatus::kProcessing) job.attempts += 1;
  job.updated_at = Now();
  Entered(job);
  const Job updated = job;
  Reconsider(channel, was_ready);
  return updated;
}

absl::StatusOr<JobPage> FakeJobStore::ListJobs(
    const JobFilter& filter, const std::optional<JobCursor>& after, int limit,
    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  filter_ = filter;
  if (absl::Status s = Begin("ListJobs", deadline); !s.ok()) return s;
  if (limit < 1) {
    return absl::InvalidArgumentError("page size must be at least 1");
  }
  std::optional<Job> cursor;
  if (after.has_value()) {
    cursor =
        Job{.id = CanonicalUuid(after->id), .created_at = after->created_at};
    if (cursor->id.empty()) return NotAUuid(after->id);
  }
  std::vector<Job> found;
  for (const auto& [id, row] : jobs_) {
    if (Matches(row.job, filter) && (!cursor || Newer(*cursor, row.job))) {
      found.push_back(row.job);
    }
  }
  std::sort(found.begin(), found.end(), Newer);
  JobPage page;
  for (const Job& job : found) {
    if (static_cast<int>(page.jobs.size()) == limit) break;
    page.jobs.push_back(job);
  }
  if (static_cast<int>(found.size()) > limit && !page.jobs.empty()) {
    page.next = JobCursor{page.jobs.back().created_at, page.jobs.back().id};
  }
  return page;
}

std::vector<FakeJobStore::Row*> FakeJobStore::OldestMatching(
    const JobFilter& filter, const std::function<bool(const Job&)>& also,
    size_t max_rows) {
  std::vector<Row*> found;
  for (auto& [id, row] : jobs_) {
    if (Matches(row.job, filter) && also(row.job)) found.push_back(&row);
  }
  std::sort(found.begin(), found.end(), [](const Row* a, const Row* b) {
    return std::tie(a->job.created_at, a->position, a->job.id) <
           std::tie(b->job.created_at, b->position, b->job.id);
  });
  if (found.size() > max_rows) found.resize(max_rows);
  return found;
}

absl::StatusOr<std::vector<Job>> FakeJobStore::ClaimJobs(
    const ClaimRequest& request, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  claim_ = request;
  if (absl::Status s = Begin("ClaimJobs", deadline); !s.ok()) return s;
  const absl::Time now = Now();
  auto listed = [](const std::vector<std::string>& list,
                   const std::string& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  // In conversation order only a head is asked: one of another content
  // type leaves its conversation out of this claim.
  auto wanted = [&](const Job& job) {
    return job.status == JobStatus::kPending && job.run_after <= now &&
           (request.source_type.empty() ||
            job.source_type == request.source_type) &&
           (request.content_types.empty() ||
            listed(request.content_types, job.content_type)) &&
           listed(request.queues, job.queue) && pauses_.count(job.queue) == 0;
  };
  // Candidates in the order the claim takes them.
  // (minus priority, due, seq): the highest priority first.
  std::vector<std::pair<std::tuple<int, absl::Time, int64_t>, Row*>> candidates;
  if (request.ignore_conversation_order) {
    for (auto& [id, row] : jobs_) {
      if (wanted(row.job)) {
        candidates.push_back(
            {{-row.job.priority, absl::InfinitePast(), row.seq}, &row});
      }
    }
  } else {
    for (const auto& [key, c] : conversations_) {
      Row* head = Head(key);
      if (head != nullptr && Ready(key) && c.ready_since <= absl::Now() &&
          wanted(head->job)) {
        candidates.push_back(
            {{-head->job.priority, c.ready_since, head->seq}, head});
      }
    }
    // Unordered jobs, by when they are due.
    for (auto& [id, row] : jobs_) {
      if (!row.job.ordered && wanted(row.job)) {
        candidates.push_back(
            {{-row.job.priority, row.job.run_after, row.seq}, &row});
      }
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  // A rate-limited queue gives at most its whole tokens; the other queues
  // fill the claim.
  std::map<std::string, int> caps;
  for (const std::string& queue : request.queues) {
    auto bucket = buckets_.find(queue);
    if (bucket != buckets_.end()) {
      caps[queue] = static_cast<int>(std::floor(bucket->second.At(now)));
    }
  }
  std::vector<Row*> claimed;
  for (auto& [order, row] : candidates) {
    if (static_cast<int>(claimed.size()) >= request.max_jobs) break;
    auto cap = caps.find(row->job.queue);
    if (cap != caps.end()) {
      if (cap->second == 0) continue;
      --cap->second;
      Bucket& bucket = buckets_[row->job.queue];
      bucket.tokens = bucket.At(now) - 1;
      bucket.refilled_at = std::max(bucket.refilled_at, now);
    }
    Lease(*row, request.worker_id, request.lease);
    claimed.push_back(row);
  }
  std::sort(claimed.begin(), claimed.end(),
            [](const Row* a, const Row* b) { return a->seq < b->seq; });
  std::vector<Job> jobs;
  for (const Row* row : claimed) jobs.push_back(row->job);
  return jobs;
}

absl::StatusOr<Job> FakeJobStore::ExtendLease(const std::string& id,
                                              const std::string& lease_token,
                                              absl::Duration lease,
                                              absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("ExtendLease", deadline); !s.ok()) return s;
  absl::StatusOr<Row*> row = Leased(id, lease_token);
  if (!row.ok()) {
    absl::StatusOr<Row*> found = Find(id);
    return found.ok() ? WithLastAttempt(row.status(), (*found)->job)
                      : row.status();
  }
  (*row)->job.lease_expires_at =
      std::min(Now() + lease, (*row)->job.run_deadline);
  (*row)->job.updated_at = Now();
  return (*row)->job;
}

absl::StatusOr<Job> FakeJobStore::CompleteLocked(const JobLease& lease) {
  absl::StatusOr<Row*> row = Leased(lease.job_id, lease.lease_token);
  if (!row.ok()) return row.status();
  if (!lease.result_json.empty() && !LooksLikeObject(lease.result_json)) {
    return Invalid("result");
  }
  Job& job = (*row)->job;
  job.status = JobStatus::kComplete;
  Entered(job);
  job.result_json = lease.result_json;
  job.lease_token.clear();
  job.lease_expires_at = absl::InfinitePast();
  job.last_error.clear();
  job.updated_at = Now();
  const Job done = job;
  Reconsider(KeyOf(done), /*was_ready=*/false);
  return done;
}

absl::StatusOr<Job> FakeJobStore::CompleteJob(const JobLease& lease,
                                              absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  leases_ = {lease};
  if (absl::Status s = Begin("CompleteJob", deadline); !s.ok()) return s;
  return CompleteLocked(lease);
}

std::vector<absl::Status> FakeJobStore::CompleteJobs(
    const std::vector<JobLease>& leases, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  leases_ = leases;
  if (absl::Status s = Begin("CompleteJobs", deadline); !s.ok()) {
    return std::vector<absl::Status>(leases.size(), s);
  }
  std::vector<absl::Status> statuses;
  for (const JobLease& lease : leases) {
    statuses.push_back(CompleteLocked(lease).status());
  }
  return statuses;
}

absl::StatusOr<Job> FakeJobStore::FailJob(const std::string& id,
                                          const std::string& lease_token,
                                          const std::string& last_error,
                                          bool retryable, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("FailJob", deadline); !s.ok()) return s;
  absl::StatusOr<Row*> row = Leased(id, lease_token);
  if (!row.ok()) return row.status();
  Job& job = (*row)->job;
  const bool final = !retryable || job.attempts >= job.max_attempts;
  // The dead letter's reason may not be empty.
  if (final && last_error.empty()) return Invalid("reason");
  EndLease(**row, last_error, retryable, backoff_);
  const Job failed = job;
  Reconsider(KeyOf(failed), /*was_ready=*/false);
  return failed;
}

absl::StatusOr<Job> FakeJobStore::SnoozeJob(const std::string& id,
                                            const std::string& lease_token,
                                            absl::Duration delay,
                                            absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("SnoozeJob", deadline); !s.ok()) return s;
  absl::StatusOr<Row*> row = Leased(id, lease_token);
  if (!row.ok()) return row.status();
  Job& job = (*row)->job;
  job.status = JobStatus::kPending;
  job.attempts = std::max(job.attempts - 1, 0);
  job.run_after = Now() + delay;
  job.lease_token.clear();
  job.lease_expires_at = absl::InfinitePast();
  job.updated_at = Now();
  const Job snoozed = job;
  Reconsider(KeyOf(snoozed), /*was_ready=*/false);
  return snoozed;
}

absl::Status FakeJobStore::ReleaseJobs(const std::vector<JobLease>& leases,
                                       absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("ReleaseJobs", deadline); !s.ok()) return s;
  released_.insert(released_.end(), leases.begin(), leases.end());
  for (const JobLease& lease : leases) {
    if (CanonicalUuid(lease.job_id).empty()) return NotAUuid(lease.job_id);
    if (CanonicalUuid(lease.lease_token).empty()) {
      return NotAUuid(lease.lease_token);
    }
  }
  for (const JobLease& lease : leases) {
    auto it = jobs_.find(CanonicalUuid(lease.job_id));
    if (it == jobs_.end()) continue;
    Job& job = it->second.job;
    if (job.lease_token.empty() ||
        job.lease_token != CanonicalUuid(lease.lease_token)) {
      continue;
    }
    if (auto bucket = buckets_.find(job.queue); bucket != buckets_.end()) {
      Bucket& b = bucket->second;
      const absl::Time now = Now();
      b.tokens = std::min<double>(b.limit.burst, b.At(now) + 1);
      b.refilled_at = std::max(b.refilled_at, now);
    }
    job.status = job.cancel_requested_at == absl::InfinitePast()
                     ? JobStatus::kPending
                     : JobStatus::kCancelled;
    job.attempts = std::max(job.attempts - 1, 0);
    job.lease_token.clear();
    job.lease_expires_at = absl::InfinitePast();
    job.updated_at = Now();
    Reconsider(KeyOf(job), /*was_ready=*/false);
  }
  return absl::OkStatus();
}

double FakeJobStore::Bucket::At(absl::Time now) const {
  const double elapsed =
      std::max(0.0, absl::ToDoubleSeconds(now - refilled_at));
  return std::min<double>(limit.burst,
                          tokens + elapsed * limit.jobs_per_second);
}

absl::StatusOr<QueueSettings> FakeJobStore::SetQueueRateLimit(
    const std::string& queue, const std::optional<RateLimit>& limit,
    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("SetQueueRateLimit", deadline); !s.ok()) {
    return s;
  }
  if (!IsQueueName(queue)) return Invalid("queues_name");
  if (!limit.has_value()) {
    buckets_.erase(queue);
    return SettingsOf(queue);
  }
  // As the queues_rate_limit constraint: NaN fails every comparison.
  if (!(limit->jobs_per_second > 0 && limit->jobs_per_second <= 100000) ||
      limit->burst < 1 || limit->burst > 100000) {
    return Invalid("queues_rate_limit");
  }
  const absl::Time now = Now();
  auto it = buckets_.find(queue);
  const double tokens =
      it == buckets_.end() ? limit->burst
                           : std::min<double>(limit->burst, it->second.At(now));
  buckets_[queue] =
      Bucket{.limit = *limit, .tokens = tokens, .refilled_at = now};
  return SettingsOf(queue);
}

absl::StatusOr<QueueSettings> FakeJobStore::SetQueueMaxRunTime(
    const std::string& queue, absl::Duration max_run_time,
    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("SetQueueMaxRunTime", deadline); !s.ok()) {
    return s;
  }
  if (!IsQueueName(queue)) return Invalid("queues_name");
  if (max_run_time != absl::ZeroDuration() &&
      (max_run_time < absl::Seconds(1) || max_run_time > absl::Hours(24))) {
    return Invalid("queues_max_run_ms_range");
  }
  if (max_run_time == absl::ZeroDuration()) {
    max_run_times_.erase(queue);
  } else {
    max_run_times_[queue] = max_run_time;
  }
  return SettingsOf(queue);
}

QueueSettings FakeJobStore::SettingsOf(const std::string& name) const {
  QueueSettings settings{.name = name};
  if (auto it = buckets_.find(name); it != buckets_.end()) {
    settings.rate_limit = it->second.limit;
  }
  if (auto it = max_run_times_.find(name); it != max_run_times_.end()) {
    settings.max_run_time = it->second;
  }
  if (auto it = pauses_.find(name); it != pauses_.end()) {
    settings.paused_at = it->second.at;
    settings.pause_reason = it->second.reason;
  }
  return settings;
}

absl::StatusOr<QueueSettings> FakeJobStore::GetQueue(const std::string& name,
                                                     absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("GetQueue", deadline); !s.ok()) return s;
  return SettingsOf(name);
}

absl::StatusOr<TokenWait> FakeJobStore::NextTokenIn(
    const std::vector<std::string>& queues, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("NextTokenIn", deadline); !s.ok()) return s;
  const absl::Time now = Now();
  TokenWait wait;
  size_t waiting = 0;
  for (const std::string& queue : queues) {
    auto it = buckets_.find(queue);
    if (it == buckets_.end() || pauses_.count(queue) > 0) continue;
    const double tokens = it->second.At(now);
    const double rate = it->second.limit.jobs_per_second;
    if (tokens >= 1) continue;
    ++waiting;
    if (absl::Seconds((1 - tokens) / rate) < wait.next) {
      wait.next = absl::Seconds((1 - tokens) / rate);
      wait.interval = absl::Seconds(1 / rate);
    }
  }
  wait.every_queue = waiting > 0 && waiting == queues.size();
  return wait;
}

absl::StatusOr<Job> FakeJobStore::RetryJob(const std::string& id,
                                           absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("RetryJob", deadline); !s.ok()) return s;
  return RetryLocked(id);
}

absl::StatusOr<Job> FakeJobStore::RetryLocked(const std::string& id) {
  absl::StatusOr<Row*> found = Find(id);
  if (!found.ok()) return found.status();
  Row& row = **found;
  if (row.job.status != JobStatus::kFailed) {
    return Refused(id, absl::StrCat(" is '", JobStatusName(row.job.status),
                                    "'; only failed jobs can be retried"));
  }
  Retry(row);
  return row.job;
}

void FakeJobStore::Retry(Row& row) {
  Job& job = row.job;
  const std::string key = KeyOf(job);
  const bool was_ready = Ready(key);
  row.position = key.empty() ? 0 : ++conversations_[key].last_position;
  job.status = JobStatus::kPending;
  job.attempts = 0;
  job.run_after = Now();
  job.updated_at = Now();
  Reconsider(key, was_ready);
}

absl::StatusOr<Job> FakeJobStore::CancelJob(const std::string& id,
                                            const std::string& idempotency_key,
                                            absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("CancelJob", deadline); !s.ok()) return s;
  Row* row = nullptr;
  if (!id.empty()) {
    absl::StatusOr<Row*> found = Find(id);
    if (!found.ok()) return found.status();
    row = *found;
  } else {
    for (auto& [job_id, r] : jobs_) {
      if (r.job.idempotency_key == idempotency_key) row = &r;
    }
    if (row == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("no job has idempotency_key ", idempotency_key));
    }
  }
  Job& job = row->job;
  if (job.status == JobStatus::kComplete || job.status == JobStatus::kFailed) {
    return Refused(job.id, absl::StrCat(" is '", JobStatusName(job.status),
                                        "'; only scheduled, pending or "
                                        "processing jobs can be cancelled"));
  }
  Cancel(*row);
  return job;
}

void FakeJobStore::Cancel(Row& row) {
  Job& job = row.job;
  if (job.status == JobStatus::kPending ||
      job.status == JobStatus::kScheduled) {
    const std::string key = KeyOf(job);
    const bool was_ready = Ready(key);
    job.status = JobStatus::kCancelled;
    job.updated_at = Now();
    Reconsider(key, was_ready);
  } else if (job.status == JobStatus::kProcessing &&
             job.cancel_requested_at == absl::InfinitePast()) {
    job.cancel_requested_at = Now();
    job.updated_at = Now();
  }
}

absl::StatusOr<MaintenanceReport> FakeJobStore::RunMaintenance(
    absl::Duration retention, int max_deletes, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("RunMaintenance", deadline); !s.ok()) return s;
  MaintenanceReport report;
  const absl::Time now = Now();
  for (auto& [id, row] : jobs_) {
    Job& job = row.job;
    if (job.status != JobStatus::kProcessing || job.lease_expires_at >= now) {
      continue;
    }
    const bool cancel = job.cancel_requested_at != absl::InfinitePast();
    // A lease its run-time limit ended: a failed attempt, with a backoff.
    const bool over_limit = job.run_deadline <= job.lease_expires_at;
    const std::string why =
        over_limit ? absl::StrCat("run-time limit reached at ",
                                  absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ",
                                                   job.run_deadline,
                                                   absl::UTCTimeZone()))
                   : "lease expired";
    EndLease(row, absl::StrCat(why, " (worker ", job.worker_id, ")"),
             /*retryable=*/true,
             over_limit ? std::optional<RetryBackoff>(backoff_) : std::nullopt,
             cancel);
    ++(cancel                              ? report.cancelled
       : job.status == JobStatus::kPending ? report.rescued
                                           : report.dead_lettered);
    Reconsider(KeyOf(job), /*was_ready=*/false);
  }
  if (retention <= absl::ZeroDuration()) return report;
  for (auto it = jobs_.begin();
       it != jobs_.end() && report.deleted < max_deletes;) {
    const Job& job = it->second.job;
    if ((job.status == JobStatus::kComplete ||
         job.status == JobStatus::kCancelled) &&
        job.updated_at < now - retention) {
      it = jobs_.erase(it);
      ++report.deleted;
    } else {
      ++it;
    }
  }
  return report;
}

absl::StatusOr<int> FakeJobStore::PromoteScheduled(int max_jobs,
                                                   absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("PromoteScheduled", deadline); !s.ok()) return s;
  const absl::Time now = Now();
  std::vector<Row*> due;
  for (auto& [id, row] : jobs_) {
    if (row.job.status == JobStatus::kScheduled && row.job.run_after <= now) {
      due.push_back(&row);
    }
  }
  std::sort(due.begin(), due.end(), [](const Row* a, const Row* b) {
    return std::tie(a->job.run_after, a->job.id) <
           std::tie(b->job.run_after, b->job.id);
  });
  if (static_cast<int>(due.size()) > max_jobs) {
    due.resize(std::max(1, max_jobs));
  }
  for (Row* row : due) {
    const std::string key = KeyOf(row->job);
    const bool was_ready = Ready(key);
    row->position = key.empty() ? 0 : ++conversations_[key].last_position;
    row->job.status = JobStatus::kPending;
    row->job.updated_at = now;
    Reconsider(key, was_ready);
  }
  return static_cast<int>(due.size());
}

absl::StatusOr<DeadLetter> FakeJobStore::RecordDeadLetter(
    const NewDeadLetter& letter, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("RecordDeadLetter", deadline); !s.ok()) return s;
  if (letter.source.empty()) return Invalid("source");
  if (letter.reason.empty()) return Invalid("reason");
  for (DeadLetter& d : dead_letters_) {
    if (!letter.delivery_id.empty() && d.source == letter.source &&
        d.delivery_id == letter.delivery_id) {
      d.attempts += 1;
      d.last_seen_at = Now();
      d.reason = letter.reason;
      d.raw_payload_json = letter.raw_payload_json;
      return d;
    }
  }
  dead_letters_.push_back({.id = NewUuid(),
                           .source = letter.source,
                           .delivery_id = letter.delivery_id,
                           .reason = letter.reason,
                           .raw_payload_json = letter.raw_payload_json,
                           .attempts = 1,
                           .first_seen_at = Now(),
                           .last_seen_at = Now()});
  return dead_letters_.back();
}

absl::StatusOr<User> FakeJobStore::GetUser(const std::string& phone_number,
                                           absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("GetUser", deadline); !s.ok()) return s;
  auto it = users_.find(phone_number);
  if (it == users_.end()) {
    return absl::NotFoundError(
        absl::StrCat("user ", phone_number, " not found"));
  }
  return it->second;
}

absl::StatusOr<UserPage> FakeJobStore::ListUsers(
    const UserFilter& filter, const std::optional<UserCursor>& after, int limit,
    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  user_filter_ = filter;
  if (absl::Status s = Begin("ListUsers", deadline); !s.ok()) return s;
  if (limit < 1) {
    return absl::InvalidArgumentError("page size must be at least 1");
  }
  std::optional<User> cursor;
  if (after.has_value()) {
    cursor = User{.phone_number = after->phone_number,
                  .created_at = after->created_at};
  }
  std::vector<User> found;
  for (const auto& [phone, user] : users_) {
    if (user.created_at >= filter.created_after &&
        user.created_at < filter.created_before &&
        (!cursor || NewerUser(*cursor, user))) {
      found.push_back(user);
    }
  }
  std::sort(found.begin(), found.end(), NewerUser);
  UserPage page;
  for (const User& user : found) {
    if (static_cast<int>(page.users.size()) == limit) break;
    page.users.push_back(user);
  }
  if (static_cast<int>(found.size()) > limit) {
    page.next = UserCursor{page.users.back().created_at,
                           page.users.back().phone_number};
  }
  return page;
}

}  // namespace jobqueue
