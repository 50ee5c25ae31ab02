// JobStore's records, for every store (see job_store_suite.h): enqueue and
// its user, reads and pages, and dead letters.

#include <algorithm>
#include <set>
#include <tuple>

#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

TEST_P(JobStoreSuite, EnqueueStoresAPendingJob) {
  const absl::Time before = absl::Now() - absl::Seconds(1);
  NewJob job = AJob("whatsapp:+15551234567");
  job.content_type = "image";
  auto r = store_->Enqueue(job, Deadline());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->created);
  const Job& stored = r->job;
  EXPECT_FALSE(stored.id.empty());
  EXPECT_EQ(stored.user_id, kPhone);
  EXPECT_EQ(stored.user_phone, kPhone);
  EXPECT_EQ(stored.source_channel_id, "whatsapp:+15551234567");
  EXPECT_EQ(stored.source_type, "dm");
  EXPECT_EQ(stored.payload_json, R"({"Body": "hi"})");
  EXPECT_EQ(stored.content_type, "image");
  EXPECT_EQ(stored.status, JobStatus::kPending);
  EXPECT_EQ(stored.attempts, 0);
  EXPECT_EQ(stored.max_attempts, 5);
  EXPECT_EQ(stored.idempotency_key, "");
  EXPECT_EQ(stored.lease_token, "");
  EXPECT_EQ(stored.worker_id, "");
  EXPECT_EQ(stored.last_error, "");
  EXPECT_GT(stored.created_at, before);
  EXPECT_LE(stored.run_after, absl::Now());

  const Job read = Get(stored.id);
  EXPECT_EQ(read.id, stored.id);
  EXPECT_EQ(read.created_at, stored.created_at);
  EXPECT_EQ(read.payload_json, stored.payload_json);
}

// Every field of `answered` (what an enqueue returned) as `read` (GetJob).
void ExpectSameJob(const Job& answered, const Job& read) {
  EXPECT_EQ(answered.id, read.id);
  EXPECT_EQ(answered.user_id, read.user_id);
  EXPECT_EQ(answered.source_channel_id, read.source_channel_id);
  EXPECT_EQ(answered.source_type, read.source_type);
  EXPECT_EQ(answered.user_phone, read.user_phone);
  EXPECT_EQ(answered.payload_json, read.payload_json);
  EXPECT_EQ(answered.status, read.status);
  EXPECT_EQ(answered.content_type, read.content_type);
  EXPECT_EQ(answered.idempotency_key, read.idempotency_key);
  EXPECT_EQ(answered.created_at, read.created_at);
  EXPECT_EQ(answered.updated_at, read.updated_at);
  EXPECT_EQ(answered.attempts, read.attempts);
  EXPECT_EQ(answered.max_attempts, read.max_attempts);
  EXPECT_EQ(answered.run_after, read.run_after);
  EXPECT_EQ(answered.lease_token, read.lease_token);
  EXPECT_EQ(answered.lease_expires_at, read.lease_expires_at);
  EXPECT_EQ(answered.worker_id, read.worker_id);
  EXPECT_EQ(answered.last_error, read.last_error);
  EXPECT_EQ(answered.queue, read.queue);
  EXPECT_EQ(answered.ordered, read.ordered);
  EXPECT_EQ(answered.priority, read.priority);
  EXPECT_EQ(answered.cancel_requested_at, read.cancel_requested_at);
  EXPECT_EQ(answered.result_json, read.result_json);
  EXPECT_EQ(answered.attempt_errors.size(), read.attempt_errors.size());
  EXPECT_EQ(answered.max_run_time, read.max_run_time);
  EXPECT_EQ(answered.run_deadline, read.run_deadline);
}

// An enqueue answers with the job as it was stored, every field, alone or
// in a batch, due now or later, whatever the request set.
TEST_P(JobStoreSuite, AnEnqueueAnswersTheJobAsStored) {
  NewJob job = AJob("c", "key-1");
  job.payload_json = R"({"n": 2, "Body": "hi", "list": [true, null]})";
  job.content_type = "image";
  job.max_attempts = 3;
  job.queue = "replies";
  job.priority = 7;
  // Stored in whole milliseconds.
  job.max_run_time = absl::Milliseconds(1500) + absl::Microseconds(700);
  NewJob unordered = AJob("c", "key-2");
  unordered.ordered = false;
  NewJob later = AJob("c", "key-3");
  later.delay = absl::Hours(1);
  NewJob in_batch = AJob("d", "key-4");
  in_batch.source_type = "group";
  NewJob later_in_batch = AJob("d", "key-5");
  later_in_batch.run_at = absl::Now() + absl::Hours(2);

  std::vector<Job> answered;
  for (const NewJob& one : {job, unordered, later}) {
    absl::StatusOr<EnqueueResult> r = store_->Enqueue(one, Deadline());
    ASSERT_TRUE(r.ok()) << r.status();
    answered.push_back(r->job);
  }
  auto batch = store_->EnqueueJobs({in_batch, later_in_batch}, Deadline());
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (const absl::StatusOr<EnqueueResult>& r : *batch) {
    ASSERT_TRUE(r.ok()) << r.status();
    answered.push_back(r->job);
  }
  EXPECT_EQ(answered[0].max_run_time, absl::Milliseconds(1500));
  EXPECT_EQ(answered[2].status, JobStatus::kScheduled);
  EXPECT_EQ(answered[4].status, JobStatus::kScheduled);
  for (const Job& a : answered) {
    SCOPED_TRACE(a.idempotency_key);
    ExpectSameJob(a, Get(a.id));
  }
}

TEST_P(JobStoreSuite, EnqueueCreatesTheUserAndSetsOnlyAGivenName) {
  NewJob job = AJob("c");
  job.user_first_name = "Ada";
  ASSERT_TRUE(store_->Enqueue(job, Deadline()).ok());
  auto user = store_->UpsertUser(kPhone, "", Deadline());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_FALSE(user->created);
  EXPECT_EQ(user->user.first_name, "Ada");

  job.user_first_name = "";
  ASSERT_TRUE(store_->Enqueue(job, Deadline()).ok());
  EXPECT_EQ(store_->UpsertUser(kPhone, "", Deadline())->user.first_name, "Ada");
  job.user_first_name = "Grace";
  ASSERT_TRUE(store_->Enqueue(job, Deadline()).ok());
  EXPECT_EQ(store_->UpsertUser(kPhone, "", Deadline())->user.first_name,
            "Grace");
}

TEST_P(JobStoreSuite, UpsertUserCreatesThenSetsOnlyANonEmptyName) {
  auto first = store_->UpsertUser("+15557654321", "", Deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->user.phone_number, "+15557654321");
  EXPECT_EQ(first->user.first_name, "");

  auto named = store_->UpsertUser("+15557654321", "Bob", Deadline());
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_FALSE(named->created);
  EXPECT_EQ(named->user.first_name, "Bob");
  EXPECT_EQ(named->user.created_at, first->user.created_at);
  EXPECT_EQ(store_->UpsertUser("+15557654321", "", Deadline())->user.first_name,
            "Bob");

  EXPECT_EQ(store_->UpsertUser("555-1234", "", Deadline()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(JobStoreSuite, ARepeatedIdempotencyKeyReturnsTheFirstJob) {
  auto first = store_->Enqueue(AJob("c", "SM-1"), Deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->job.idempotency_key, "SM-1");

  NewJob again = AJob("other", "SM-1");
  again.payload_json = R"({"Body": "changed"})";
  auto second = store_->Enqueue(again, Deadline());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->job.id, first->job.id);
  EXPECT_EQ(second->job.source_channel_id, "c");
  EXPECT_EQ(second->job.payload_json, R"({"Body": "hi"})");

  auto all = store_->ListJobs({}, std::nullopt, 10, Deadline());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->jobs.size(), 1u);
}

TEST_P(JobStoreSuite, AJobThatBreaksARuleWritesNothing) {
  std::vector<NewJob> bad(7, AJob("c"));
  bad[0].source_type = "carrier-pigeon";
  bad[1].source_channel_id = "";
  bad[2].content_type = "smell";
  bad[3].payload_json = "[1, 2]";
  bad[4].max_attempts = 0;
  bad[5].idempotency_key = std::string(256, 'k');
  bad[6].user_phone = "nope";
  for (const NewJob& job : bad) {
    EXPECT_EQ(store_->Enqueue(job, Deadline()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << job.source_type << " " << job.payload_json;
  }
  auto all = store_->ListJobs({}, std::nullopt, 10, Deadline());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->jobs.empty());
  auto user = store_->UpsertUser(kPhone, "", Deadline());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_TRUE(user->created) << "no user was written";
}

TEST_P(JobStoreSuite, GetJobFindsAnIdWrittenInAnyCase) {
  const Job job = Enqueue("c");
  std::string upper = job.id;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_EQ(Get(upper).id, job.id);
  EXPECT_EQ(store_->GetJob("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab", Deadline())
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetJob("not-a-uuid", Deadline()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(JobStoreSuite, ListJobsPagesNewestFirst) {
  std::set<std::string> enqueued;
  for (int i = 0; i < 5; ++i) enqueued.insert(Enqueue("c").id);
  std::vector<Job> seen;
  std::optional<JobCursor> after;
  for (int page = 0; page < 3; ++page) {
    auto r = store_->ListJobs({}, after, 2, Deadline());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->jobs.size(), page < 2 ? 2u : 1u);
    EXPECT_EQ(r->next.has_value(), page < 2);
    seen.insert(seen.end(), r->jobs.begin(), r->jobs.end());
    after = r->next;
  }
  std::vector<std::string> ids = Ids(seen);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), enqueued);
  for (size_t i = 1; i < seen.size(); ++i) {
    EXPECT_GT(std::tie(seen[i - 1].created_at, seen[i - 1].id),
              std::tie(seen[i].created_at, seen[i].id));
  }
}

TEST_P(JobStoreSuite, ListJobsRefusesAPageOfNoJobs) {
  Enqueue("c");
  for (int limit : {0, -1}) {
    auto r = store_->ListJobs({}, std::nullopt, limit, Deadline());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << limit;
  }
}

TEST_P(JobStoreSuite, ListJobsFilters) {
  const Job a = Enqueue("a");
  NewJob group = AJob("g");
  group.source_type = "group";
  group.user_phone = "+15550000002";
  auto g = store_->Enqueue(group, Deadline());
  ASSERT_TRUE(g.ok()) << g.status();
  absl::SleepFor(absl::Milliseconds(5));
  const Job late = Enqueue("a");
  ASSERT_EQ(ClaimOne().id, a.id);

  auto ids = [&](const JobFilter& filter) {
    auto r = store_->ListJobs(filter, std::nullopt, 10, Deadline());
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<std::string> found = r.ok() ? Ids(r->jobs) : Ids({});
    return std::set<std::string>(found.begin(), found.end());
  };
  using Set = std::set<std::string>;
  EXPECT_EQ(ids({.status = JobStatus::kProcessing}), Set({a.id}));
  EXPECT_EQ(ids({.status = JobStatus::kPending}), Set({g->job.id, late.id}));
  EXPECT_EQ(ids({.source_channel_id = "a"}), Set({a.id, late.id}));
  EXPECT_EQ(ids({.source_type = "group"}), Set({g->job.id}));
  EXPECT_EQ(ids({.user_id = "+15550000002"}), Set({g->job.id}));
  EXPECT_EQ(ids({.created_after = late.created_at}), Set({late.id}));
  EXPECT_EQ(ids({.created_before = late.created_at}), Set({a.id, g->job.id}));
  EXPECT_EQ(ids({.status = JobStatus::kFailed}), Set());
}

TEST_P(JobStoreSuite, ARepeatedDeadLetterCountsAttempts) {
  const NewDeadLetter letter = {.source = "twilio.webhook",
                                .delivery_id = "SM-9",
                                .reason = "no such user",
                                .raw_payload_json = R"({"Body": "a"})"};
  auto first = store_->RecordDeadLetter(letter, Deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->attempts, 1);
  EXPECT_EQ(first->source, "twilio.webhook");
  EXPECT_EQ(first->delivery_id, "SM-9");

  NewDeadLetter later = letter;
  later.reason = "still no such user";
  later.raw_payload_json = R"({"Body": "b"})";
  auto second = store_->RecordDeadLetter(later, Deadline());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->id, first->id);
  EXPECT_EQ(second->attempts, 2);
  EXPECT_EQ(second->reason, "still no such user");
  EXPECT_EQ(second->raw_payload_json, R"({"Body": "b"})");
  EXPECT_EQ(second->first_seen_at, first->first_seen_at);
  EXPECT_GE(second->last_seen_at, first->last_seen_at);
}

TEST_P(JobStoreSuite, DeadLettersWithoutADeliveryIdAreAlwaysNew) {
  const NewDeadLetter letter = {
      .source = "s", .reason = "r", .raw_payload_json = "{}"};
  auto a = store_->RecordDeadLetter(letter, Deadline());
  auto b = store_->RecordDeadLetter(letter, Deadline());
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(b->attempts, 1);
  EXPECT_EQ(b->delivery_id, "");

  NewDeadLetter no_reason = letter;
  no_reason.reason = "";
  EXPECT_EQ(store_->RecordDeadLetter(no_reason, Deadline()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jobqueue
