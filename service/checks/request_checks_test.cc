#include "service/checks/request_checks.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace jobqueue {
namespace {

// The message of an INVALID_ARGUMENT status; fails the test for any other.
template <typename T>
std::string Invalid(const absl::StatusOr<T>& result) {
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  return std::string(result.status().message());
}
std::string Invalid(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

v1::EnqueueJobRequest AJob() {
  v1::EnqueueJobRequest r;
  r.set_user_phone("+15551234567");
  r.set_source_channel_id("whatsapp:+15551234567");
  r.set_source_type(v1::SOURCE_TYPE_DM);
  (*r.mutable_payload()->mutable_fields())["Body"].set_string_value("hello");
  return r;
}

constexpr char kUuid[] = "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab";
constexpr char kOtherUuid[] = "0b7c3a4e-54f1-4c53-8a8e-4f1e9b2a7c11";

TEST(ToNewJobTest, FillsDefaults) {
  absl::StatusOr<NewJob> job = ToNewJob(AJob(), 1024);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->source_type, "dm");
  EXPECT_EQ(job->content_type, "text");
  EXPECT_EQ(job->max_attempts, kDefaultMaxAttempts);
  EXPECT_EQ(job->payload_json, R"({"Body":"hello"})");
}

TEST(ToNewJobTest, NamesTheFieldThatIsWrong) {
  v1::EnqueueJobRequest r = AJob();
  r.set_user_phone("5551234567");
  EXPECT_NE(Invalid(ToNewJob(r, 1024)).find("user_phone"), std::string::npos);
  r = AJob();
  r.set_source_channel_id("");
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)), "source_channel_id is required");
  r = AJob();
  r.set_source_type(v1::SOURCE_TYPE_UNSPECIFIED);
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)), "source_type is required");
  r = AJob();
  r.set_max_attempts(101);
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)),
            "max_attempts must be between 0 and 100, got 101");
  r = AJob();
  r.set_idempotency_key(std::string(kMaxIdentifierBytes + 1, 'k'));
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)),
            "idempotency_key is 256 bytes; the limit is 255");
}

TEST(ToNewJobTest, MeasuresThePayloadAsJson) {
  EXPECT_EQ(Invalid(ToNewJob(AJob(), 10)),
            "payload is 16 bytes as JSON; the limit is 10");
  EXPECT_TRUE(ToNewJob(AJob(), 16).ok());
}

TEST(ToStatusChangeTest, TypedStatusesAndOptionalParts) {
  v1::UpdateStatusRequest r;
  r.set_id(kUuid);
  r.set_status(v1::JOB_STATUS_PROCESSING);
  absl::StatusOr<StatusChange> change = ToStatusChange(r);
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_EQ(change->to, JobStatus::kProcessing);
  EXPECT_EQ(change->expected, std::nullopt);
  EXPECT_EQ(change->lease_token, "");

  r.set_expected_status(v1::JOB_STATUS_PENDING);
  r.set_lease_token(kOtherUuid);
  change = ToStatusChange(r);
  ASSERT_TRUE(change.ok()) << change.status();
  EXPECT_EQ(change->expected, JobStatus::kPending);
  EXPECT_EQ(change->lease_token, kOtherUuid);

  r.set_lease_token("not-a-token");
  EXPECT_NE(Invalid(ToStatusChange(r)).find("lease_token"), std::string::npos);
  r.clear_lease_token();
  r.set_status(v1::JOB_STATUS_UNSPECIFIED);
  EXPECT_EQ(Invalid(ToStatusChange(r)), "status is required");
  r.set_id("42");
  EXPECT_NE(Invalid(ToStatusChange(r)).find("id must be a UUID"),
            std::string::npos);
}

TEST(ToFilterTest, UnsetFiltersMatchAnything) {
  absl::StatusOr<JobFilter> any = ToFilter(v1::ListJobsRequest());
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->status, std::nullopt);
  EXPECT_EQ(any->created_after, absl::InfinitePast());
  EXPECT_EQ(any->created_before, absl::InfiniteFuture());

  v1::ListJobsRequest r;
  r.set_status(v1::JOB_STATUS_FAILED);
  r.mutable_created_after()->set_seconds(100);
  absl::StatusOr<JobFilter> some = ToFilter(r);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(some->status, JobStatus::kFailed);
  EXPECT_EQ(some->created_after, absl::FromUnixSeconds(100));
  r.set_user_id("nobody");
  EXPECT_NE(Invalid(ToFilter(r)).find("user_id"), std::string::npos);
}

TEST(PageSizeTest, ZeroIsTheDefaultAndTheRangeIsChecked) {
  EXPECT_EQ(*PageSize(0), kDefaultPageSize);
  EXPECT_EQ(*PageSize(kMaxPageSize), kMaxPageSize);
  EXPECT_EQ(Invalid(PageSize(-1)),
            "page_size must be between 1 and 1000 (0 means 50), got -1");
  Invalid(PageSize(kMaxPageSize + 1));
}

TEST(ToClaimRequestTest, DefaultsAndLimits) {
  v1::ClaimJobsRequest r;
  r.set_worker_id("w1");
  absl::StatusOr<ClaimRequest> claim = ToClaimRequest(r);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->max_jobs, 1);
  EXPECT_EQ(claim->lease, kDefaultLease);
  EXPECT_EQ(*ClaimWait(r), absl::ZeroDuration());

  r.mutable_lease_duration()->set_nanos(500000000);
  EXPECT_EQ(Invalid(ToClaimRequest(r)),
            "lease_duration must be between 1s and 1h, got 500ms");
  r.clear_lease_duration();
  r.set_max_jobs(kMaxClaimBatch + 1);
  EXPECT_EQ(Invalid(ToClaimRequest(r)),
            "max_jobs must be between 0 and 100, got 101");
  r.set_max_jobs(0);
  r.mutable_wait_timeout()->set_seconds(61);
  EXPECT_EQ(Invalid(ClaimWait(r)),
            "wait_timeout must be between 0 and 1m, got 1m1s");
  r.set_worker_id("");
  EXPECT_EQ(Invalid(ToClaimRequest(r)), "worker_id is required");
}

TEST(ToJobLeasesTest, RejectsTheWholeBatchNamingTheEntry) {
  v1::CompleteJobsRequest r;
  EXPECT_EQ(Invalid(ToJobLeases(r)),
            "number of jobs must be between 1 and 1000, got 0");
  for (const char* id : {kUuid, kOtherUuid}) {
    v1::CompleteJobRequest* job = r.add_jobs();
    job->set_job_id(id);
    job->set_lease_token(kUuid);
  }
  absl::StatusOr<std::vector<JobLease>> leases = ToJobLeases(r);
  ASSERT_TRUE(leases.ok()) << leases.status();
  EXPECT_EQ(leases->size(), 2u);
  EXPECT_EQ((*leases)[1].job_id, kOtherUuid);

  r.mutable_jobs(1)->set_job_id(kUuid);
  EXPECT_EQ(Invalid(ToJobLeases(r)), "jobs[1].job_id repeats jobs[0]");
  r.mutable_jobs(1)->set_lease_token("x");
  EXPECT_EQ(Invalid(ToJobLeases(r)),
            "jobs[1].lease_token must be a UUID, got \"x\"");
}

TEST(ToNewJobTest, TakesTheQueueAndOrder) {
  v1::EnqueueJobRequest r = AJob();
  EXPECT_EQ(ToNewJob(r, 1024)->queue, "default");
  EXPECT_TRUE(ToNewJob(r, 1024)->ordered);
  r.set_queue("media.v2:eu-1_x");
  r.set_unordered(true);
  EXPECT_EQ(ToNewJob(r, 1024)->queue, "media.v2:eu-1_x");
  EXPECT_FALSE(ToNewJob(r, 1024)->ordered);
  for (const std::string& bad : std::vector<std::string>{
           "has space", "-x", "_x", "é", "a/b", std::string(65, 'q')}) {
    r.set_queue(bad);
    EXPECT_EQ(Invalid(ToNewJob(r, 1024)).rfind("queue must be", 0), 0u) << bad;
  }
  r.set_queue(std::string(64, 'q'));
  EXPECT_TRUE(ToNewJob(r, 1024).ok());
  r.set_priority(9);
  EXPECT_EQ(ToNewJob(r, 1024)->priority, 9);
  r.set_priority(10);
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)),
            "priority must be between 0 and 9, got 10");
  r.set_priority(-1);
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)),
            "priority must be between 0 and 9, got -1");
}

TEST(ToNewJobTest, TakesARunAtOrADelayWithinAYear) {
  v1::EnqueueJobRequest r = AJob();
  EXPECT_EQ(ToNewJob(r, 1024)->run_at, absl::InfinitePast());
  EXPECT_EQ(ToNewJob(r, 1024)->delay, absl::ZeroDuration());
  r.mutable_delay()->set_seconds(90);
  EXPECT_EQ(ToNewJob(r, 1024)->delay, absl::Seconds(90));
  r.mutable_delay()->set_seconds(366 * 24 * 3600);
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)),
            "delay must be between 0 and 8760h, got 8784h");
  r.mutable_delay()->set_seconds(-1);
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)),
            "delay must be between 0 and 8760h, got -1s");
  r.mutable_delay()->set_seconds(1);
  const absl::Time at = absl::Now() + absl::Hours(2);
  r.mutable_run_at()->set_seconds(absl::ToUnixSeconds(at));
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)), "set at most one of run_at and delay");
  r.clear_delay();
  EXPECT_EQ(ToNewJob(r, 1024)->run_at,
            absl::FromUnixSeconds(absl::ToUnixSeconds(at)));
  // The past means now.
  r.mutable_run_at()->set_seconds(1);
  EXPECT_EQ(ToNewJob(r, 1024)->run_at, absl::FromUnixSeconds(1));
  r.mutable_run_at()->set_seconds(
      absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 366)));
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)).rfind("run_at must be at most", 0), 0u);
  r.mutable_run_at()->set_seconds(1);
  r.mutable_run_at()->set_nanos(-1);
  EXPECT_EQ(Invalid(ToNewJob(r, 1024)),
            "run_at.nanos must be between 0 and 999999999, got -1");
}

TEST(ToNewJobsTest, NamesTheEntryWhoseTimeIsWrong) {
  v1::EnqueueJobsRequest r;
  for (int i = 0; i < 3; ++i) *r.add_jobs() = AJob();
  r.mutable_jobs(1)->mutable_delay()->set_seconds(5);
  r.mutable_jobs(2)->mutable_run_at()->set_seconds(
      absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 400)));
  EXPECT_EQ(Invalid(ToNewJobs(r, 1024)).rfind("jobs[2].run_at must be", 0), 0u);
  r.mutable_jobs(1)->mutable_run_at()->set_seconds(1);
  EXPECT_EQ(Invalid(ToNewJobs(r, 1024)),
            "set at most one of jobs[1].run_at and jobs[1].delay");
}

TEST(ToClaimRequestTest, TakesOneToSixteenDistinctQueues) {
  v1::ClaimJobsRequest r;
  r.set_worker_id("w");
  EXPECT_EQ(ToClaimRequest(r)->queues, std::vector<std::string>{"default"});
  r.add_queues("replies");
  r.add_queues("media");
  EXPECT_EQ(ToClaimRequest(r)->queues,
            (std::vector<std::string>{"replies", "media"}));
  r.add_queues("replies");
  EXPECT_EQ(Invalid(ToClaimRequest(r)), "queues[2] repeats replies");
  r.set_queues(2, "bad queue");
  EXPECT_EQ(Invalid(ToClaimRequest(r)).rfind("queues[2] must be", 0), 0u);
  r.clear_queues();
  for (int i = 0; i < 17; ++i) r.add_queues(absl::StrCat("q", i));
  EXPECT_EQ(Invalid(ToClaimRequest(r)),
            "number of queues must be between 0 and 16, got 17");
}

TEST(ToClaimRequestTest, TakesDistinctContentTypesAsStored) {
  v1::ClaimJobsRequest r;
  r.set_worker_id("w");
  EXPECT_TRUE(ToClaimRequest(r)->content_types.empty()) << "none: any";
  r.add_content_types(v1::CONTENT_TYPE_AUDIO);
  r.add_content_types(v1::CONTENT_TYPE_TEXT);
  EXPECT_EQ(ToClaimRequest(r)->content_types,
            (std::vector<std::string>{"audio", "text"}));
  r.add_content_types(v1::CONTENT_TYPE_AUDIO);
  EXPECT_EQ(Invalid(ToClaimRequest(r)),
            "content_types[2] repeats CONTENT_TYPE_AUDIO");
  r.set_content_types(2, v1::CONTENT_TYPE_UNSPECIFIED);
  EXPECT_EQ(Invalid(ToClaimRequest(r)),
            "content_types[2] must not be CONTENT_TYPE_UNSPECIFIED");
  r.set_content_types(1, static_cast<v1::ContentType>(42));
  EXPECT_EQ(Invalid(ToClaimRequest(r)),
            "content_types[1] has an unknown value 42");
  r.clear_content_types();
  for (int i = 1; i <= 7; ++i) {
    r.add_content_types(static_cast<v1::ContentType>(i));
  }
  EXPECT_EQ(ToClaimRequest(r)->content_types,
            (std::vector<std::string>{"text", "image", "audio", "video",
                                      "document", "location", "other"}));
  r.add_content_types(v1::CONTENT_TYPE_TEXT);
  EXPECT_EQ(Invalid(ToClaimRequest(r)),
            "number of content_types must be between 0 and 7, got 8");
}

TEST(ToJobLeaseTest, TakesAResultOfAtMost64KiBOfJson) {
  v1::CompleteJobRequest r;
  r.set_job_id(kUuid);
  r.set_lease_token(kOtherUuid);
  absl::StatusOr<JobLease> none = ToJobLease(r);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->result_json, "");
  (*r.mutable_result()->mutable_fields())["reply"].set_string_value("hi");
  absl::StatusOr<JobLease> some = ToJobLease(r);
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ(some->result_json, R"({"reply":"hi"})");
  // {"reply":"..."} is 12 bytes around the text.
  (*r.mutable_result()->mutable_fields())["reply"].set_string_value(
      std::string(kMaxResultBytes - 12, 'x'));
  EXPECT_TRUE(ToJobLease(r).ok());
  (*r.mutable_result()->mutable_fields())["reply"].set_string_value(
      std::string(kMaxResultBytes - 11, 'x'));
  EXPECT_EQ(Invalid(ToJobLease(r)),
            "result is 65537 bytes as JSON; the limit is 65536");
  v1::CompleteJobsRequest batch;
  *batch.add_jobs() = r;
  batch.mutable_jobs(0)->clear_result();
  *batch.add_jobs() = r;
  batch.mutable_jobs(1)->set_job_id(kOtherUuid);
  EXPECT_EQ(Invalid(ToJobLeases(batch)),
            "jobs[1].result is 65537 bytes as JSON; the limit is 65536");
}

TEST(ToJobRefTest, TakesExactlyOneOfIdAndKey) {
  v1::CancelJobRequest r;
  EXPECT_EQ(Invalid(ToJobRef(r)),
            "exactly one of id and idempotency_key must be set");
  r.set_id(absl::AsciiStrToUpper(kUuid));
  absl::StatusOr<JobRef> by_id = ToJobRef(r);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->id, kUuid);
  r.set_idempotency_key("SM1");
  EXPECT_EQ(Invalid(ToJobRef(r)),
            "exactly one of id and idempotency_key must be set");
  r.clear_id();
  absl::StatusOr<JobRef> by_key = ToJobRef(r);
  ASSERT_TRUE(by_key.ok()) << by_key.status();
  EXPECT_EQ(by_key->idempotency_key, "SM1");
  r.set_idempotency_key(std::string(256, 'k'));
  EXPECT_NE(Invalid(ToJobRef(r)).find("idempotency_key"), std::string::npos);
  r.clear_idempotency_key();
  r.set_id("x");
  EXPECT_EQ(Invalid(ToJobRef(r)), "id must be a UUID, got \"x\"");
}

TEST(ToNewJobsTest, RejectsTheWholeBatchNamingTheEntry) {
  v1::EnqueueJobsRequest r;
  EXPECT_EQ(Invalid(ToNewJobs(r, 1024)),
            "number of jobs must be between 1 and 1000, got 0");
  for (int i = 0; i < 3; ++i) *r.add_jobs() = AJob();
  absl::StatusOr<std::vector<NewJob>> jobs = ToNewJobs(r, 1024);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->size(), 3u);
  EXPECT_EQ((*jobs)[2].max_attempts, kDefaultMaxAttempts);

  r.mutable_jobs(2)->set_source_channel_id("");
  EXPECT_EQ(Invalid(ToNewJobs(r, 1024)),
            "jobs[2].source_channel_id is required");
  r.mutable_jobs(2)->set_source_channel_id("c");
  r.mutable_jobs(1)->set_max_attempts(101);
  EXPECT_EQ(Invalid(ToNewJobs(r, 1024)),
            "jobs[1].max_attempts must be between 0 and 100, got 101");
  r.mutable_jobs(1)->set_max_attempts(0);
  (*r.mutable_jobs(0)->mutable_payload()->mutable_fields())["Big"]
      .set_string_value(std::string(2000, 'x'));
  EXPECT_NE(Invalid(ToNewJobs(r, 1024)).find("jobs[0].payload"),
            std::string::npos);
  r.mutable_jobs(0)->clear_payload();
  for (int i = 3; i < 1001; ++i) *r.add_jobs() = AJob();
  EXPECT_EQ(Invalid(ToNewJobs(r, 1024)),
            "number of jobs must be between 1 and 1000, got 1001");
}

TEST(ToUuidTest, UuidsAreComparedInCanonicalForm) {
  EXPECT_EQ(*ToUuid("id", "7D3F2F0C-2B9E-4A55-9C1E-0123456789AB"), kUuid);
  v1::CompleteJobsRequest r;
  for (const std::string& id :
       {std::string(kUuid),
        std::string("7D3F2F0C-2B9E-4A55-9C1E-0123456789AB")}) {
    v1::CompleteJobRequest* job = r.add_jobs();
    job->set_job_id(id);
    job->set_lease_token("0B7C3A4E-54F1-4C53-8A8E-4F1E9B2A7C11");
  }
  EXPECT_EQ(Invalid(ToJobLeases(r)), "jobs[1].job_id repeats jobs[0]");
  r.mutable_jobs()->RemoveLast();
  EXPECT_EQ((*ToJobLeases(r))[0].lease_token, kOtherUuid);
}

TEST(OtherRequestsTest, EachNamesItsField) {
  v1::CreateUserRequest user;
  user.set_phone_number("+15551234567");
  user.set_first_name(std::string(kMaxNameBytes + 1, 'a'));
  EXPECT_EQ(Invalid(CheckCreateUser(user)),
            "first_name is 257 bytes; the limit is 256");

  v1::RecordDeadLetterRequest letter;
  letter.set_source("twilio.messages");
  EXPECT_EQ(Invalid(ToNewDeadLetter(letter, 1024)), "reason is required");
  letter.set_reason("no sender");
  (*letter.mutable_raw_payload()->mutable_fields())["Body"].set_string_value(
      "0123456789");
  EXPECT_EQ(Invalid(ToNewDeadLetter(letter, 10)),
            "raw_payload is 21 bytes as JSON; the limit is 10");
  EXPECT_TRUE(ToNewDeadLetter(letter, 1024).ok());

  v1::ExtendLeaseRequest extend;
  extend.set_job_id(kUuid);
  extend.set_lease_token(kOtherUuid);
  EXPECT_EQ(ToLeaseExtension(extend)->duration, kDefaultLease);
  extend.mutable_lease_duration()->set_seconds(7200);
  EXPECT_NE(Invalid(ToLeaseExtension(extend)).find("lease_duration"),
            std::string::npos);

  v1::FailJobRequest fail;
  fail.set_job_id(kUuid);
  fail.set_lease_token(kOtherUuid);
  EXPECT_EQ(Invalid(ToFailedLease(fail)), "error is required");
}

TEST(ToUserPhoneTest, OnlyAnE164NumberNamesAUser) {
  v1::GetUserRequest r;
  r.set_phone_number("+15551234567");
  absl::StatusOr<std::string> phone = ToUserPhone(r);
  ASSERT_TRUE(phone.ok()) << phone.status();
  EXPECT_EQ(*phone, "+15551234567");
  for (const std::string bad :
       {"", "15551234567", "+1234567", "+1234567890123456", "+1555 1234567"}) {
    r.set_phone_number(bad);
    EXPECT_NE(Invalid(ToUserPhone(r)).find("phone_number must be an E.164"),
              std::string::npos)
        << bad;
  }
}

TEST(ToUserFilterTest, UnsetTimesMatchAnything) {
  absl::StatusOr<UserFilter> f = ToUserFilter(v1::ListUsersRequest());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->created_after, absl::InfinitePast());
  EXPECT_EQ(f->created_before, absl::InfiniteFuture());

  v1::ListUsersRequest r;
  r.mutable_created_after()->set_seconds(1700000000);
  r.mutable_created_before()->set_seconds(1700000001);
  r.mutable_created_before()->set_nanos(5000);
  f = ToUserFilter(r);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->created_after, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(f->created_before,
            absl::FromUnixSeconds(1700000001) + absl::Microseconds(5));
  // The epoch itself is a time, not "unset".
  r.Clear();
  r.mutable_created_after();
  f = ToUserFilter(r);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->created_after, absl::UnixEpoch());
}

TEST(ToQueueRateLimitTest, ARateWithABurstOrItsDefault) {
  v1::SetQueueRateLimitRequest r;
  r.set_queue("replies");
  r.set_jobs_per_second(2.5);
  absl::StatusOr<QueueRateLimit> limit = ToQueueRateLimit(r);
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_EQ(limit->queue, "replies");
  ASSERT_TRUE(limit->limit.has_value());
  EXPECT_EQ(limit->limit->jobs_per_second, 2.5);
  EXPECT_EQ(limit->limit->burst, 3) << "ceil(2.5)";
  r.set_jobs_per_second(0.1);
  EXPECT_EQ(ToQueueRateLimit(r)->limit->burst, 1);
  r.set_burst(100000);
  EXPECT_EQ(ToQueueRateLimit(r)->limit->burst, 100000);
  r.set_jobs_per_second(0);
  r.set_burst(0);
  limit = ToQueueRateLimit(r);
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_FALSE(limit->limit.has_value()) << "0 removes the limit";
}

TEST(ToQueueRateLimitTest, EachBadValueNamesItsField) {
  struct Case {
    std::string queue;
    double rate;
    int burst;
    std::string message;
  };
  const Case cases[] = {
      {"", 1, 0, "queue must be 1 to 64"},
      {"two words", 1, 0, "queue must be 1 to 64"},
      {"q", -1, 0, "jobs_per_second must be over 0"},
      {"q", std::nan(""), 0, "jobs_per_second must be over 0"},
      {"q", INFINITY, 0, "jobs_per_second must be over 0"},
      {"q", 100000.5, 0, "jobs_per_second must be over 0"},
      {"q", 1, -1, "burst must be between 0 and 100000"},
      {"q", 1, 100001, "burst must be between 0 and 100000"},
      {"q", 0, 5, "burst must be 0 when jobs_per_second is 0"},
  };
  for (const Case& c : cases) {
    v1::SetQueueRateLimitRequest r;
    r.set_queue(c.queue);
    r.set_jobs_per_second(c.rate);
    r.set_burst(c.burst);
    EXPECT_NE(Invalid(ToQueueRateLimit(r)).find(c.message), std::string::npos)
        << c.queue << " " << c.rate << " " << c.burst;
  }
}

TEST(ToQueueNameTest, OnlyAQueueName) {
  v1::GetQueueRequest r;
  r.set_name("media:transcribe");
  EXPECT_EQ(ToQueueName(r).value(), "media:transcribe");
  r.set_name("-x");
  EXPECT_NE(Invalid(ToQueueName(r)).find("name must be 1 to 64"),
            std::string::npos);
}

TEST(ToQueuePauseTest, AQueueAndAnOptionalReason) {
  v1::PauseQueueRequest r;
  r.set_queue("sms-out");
  absl::StatusOr<QueuePause> pause = ToQueuePause(r);
  ASSERT_TRUE(pause.ok()) << pause.status();
  EXPECT_EQ(pause->queue, "sms-out");
  EXPECT_EQ(pause->reason, "");
  r.set_reason(std::string(kMaxPauseReasonBytes, 'x'));
  pause = ToQueuePause(r);
  ASSERT_TRUE(pause.ok()) << pause.status();
  EXPECT_EQ(pause->reason.size(), kMaxPauseReasonBytes);
}

TEST(ToQueuePauseTest, EachBadValueNamesItsField) {
  v1::PauseQueueRequest r;
  EXPECT_NE(Invalid(ToQueuePause(r)).find("queue must be 1 to 64"),
            std::string::npos)
      << "no queue is not the default queue";
  r.set_queue("two words");
  EXPECT_NE(Invalid(ToQueuePause(r)).find("queue must be 1 to 64"),
            std::string::npos);
  r.set_queue("sms-out");
  r.set_reason(std::string(kMaxPauseReasonBytes + 1, 'x'));
  EXPECT_NE(Invalid(ToQueuePause(r)).find("reason is 1025 bytes"),
            std::string::npos);
}

TEST(ToQueueNameTest, ResumeTakesOnlyAQueueName) {
  v1::ResumeQueueRequest r;
  for (const std::string good : {"sms-out", "default", "media:transcribe"}) {
    r.set_queue(good);
    EXPECT_EQ(ToQueueName(r).value(), good);
  }
  for (const std::string bad : {"", "-x", "two words"}) {
    r.set_queue(bad);
    EXPECT_NE(Invalid(ToQueueName(r)).find("queue must be 1 to 64"),
              std::string::npos)
        << bad;
  }
}

TEST(ToDeadLetterFilterTest, EachFilterWhenSet) {
  absl::StatusOr<DeadLetterFilter> f =
      ToDeadLetterFilter(v1::ListDeadLettersRequest());
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->source, "");
  EXPECT_EQ(f->reason_contains, "");
  EXPECT_EQ(f->since, absl::InfinitePast());
  EXPECT_EQ(f->until, absl::InfiniteFuture());

  v1::ListDeadLettersRequest r;
  r.set_source("twilio.messages");
  r.set_reason_contains("From");
  r.mutable_since()->set_seconds(1700000000);
  r.mutable_until()->set_seconds(1700000001);
  r.mutable_until()->set_nanos(5000);
  f = ToDeadLetterFilter(r);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->source, "twilio.messages");
  EXPECT_EQ(f->reason_contains, "From");
  EXPECT_EQ(f->since, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(f->until,
            absl::FromUnixSeconds(1700000001) + absl::Microseconds(5));
}

TEST(ToDeadLetterFilterTest, LongTextsAndPageSizesAreRefused) {
  v1::ListDeadLettersRequest r;
  r.set_source(std::string(kMaxIdentifierBytes + 1, 's'));
  EXPECT_EQ(Invalid(ToDeadLetterFilter(r)),
            "source is 256 bytes; the limit is 255");
  r.clear_source();
  r.set_reason_contains(std::string(kMaxReasonFilterBytes + 1, 'r'));
  EXPECT_EQ(Invalid(ToDeadLetterFilter(r)),
            "reason_contains is 1025 bytes; the limit is 1024");
  EXPECT_EQ(*PageSize(0, kMaxDeadLetterPageSize), 50);
  EXPECT_EQ(*PageSize(500, kMaxDeadLetterPageSize), 500);
  EXPECT_EQ(Invalid(PageSize(501, kMaxDeadLetterPageSize)),
            "page_size must be between 1 and 500 (0 means 50), got 501");
}

TEST(ToDeadLetterReplayTest, DistinctCanonicalIdsAndWhoAsked) {
  v1::ReplayDeadLettersRequest r;
  r.add_ids(absl::AsciiStrToUpper(kUuid));
  r.add_ids(kOtherUuid);
  r.set_requested_by("ops@example.com");
  absl::StatusOr<DeadLetterReplayRequest> replay = ToDeadLetterReplay(r);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->ids, (std::vector<std::string>{kUuid, kOtherUuid}));
  EXPECT_EQ(replay->requested_by, "ops@example.com");
}

TEST(ToDeadLetterReplayTest, EachBadValueRefusesTheWholeCall) {
  v1::ReplayDeadLettersRequest r;
  r.set_requested_by("ops");
  EXPECT_EQ(Invalid(ToDeadLetterReplay(r)),
            "number of ids must be between 1 and 100, got 0");
  for (int i = 0; i <= kMaxReplayBatch; ++i) r.add_ids(kUuid);
  EXPECT_EQ(Invalid(ToDeadLetterReplay(r)),
            "number of ids must be between 1 and 100, got 101");
  r.clear_ids();
  r.add_ids(kUuid);
  r.add_ids("x");
  EXPECT_EQ(Invalid(ToDeadLetterReplay(r)), "ids[1] must be a UUID, got \"x\"");
  r.set_ids(1, absl::AsciiStrToUpper(kUuid));
  EXPECT_EQ(Invalid(ToDeadLetterReplay(r)), "ids[1] repeats ids[0]");
  r.set_ids(1, kOtherUuid);
  r.clear_requested_by();
  EXPECT_EQ(Invalid(ToDeadLetterReplay(r)), "requested_by is required");
  r.set_requested_by(std::string(kMaxIdentifierBytes + 1, 'o'));
  EXPECT_EQ(Invalid(ToDeadLetterReplay(r)),
            "requested_by is 256 bytes; the limit is 255");
}

TEST(ToQueueStatsQueryTest, AnOptionalQueueAndMinutesDefaultingTo15) {
  v1::GetQueueStatsRequest r;
  absl::StatusOr<QueueStatsQuery> q = ToQueueStatsQuery(r);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->queue, "");
  EXPECT_EQ(q->minutes, 15);
  r.set_queue("media:transcribe");
  r.set_minutes(60);
  q = ToQueueStatsQuery(r);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->queue, "media:transcribe");
  EXPECT_EQ(q->minutes, 60);
}

TEST(ToQueueStatsQueryTest, EachBadValueNamesItsField) {
  v1::GetQueueStatsRequest r;
  r.set_queue("two words");
  EXPECT_NE(Invalid(ToQueueStatsQuery(r)).find("queue must be 1 to 64"),
            std::string::npos);
  r.set_queue("q");
  for (int bad : {-1, 61}) {
    r.set_minutes(bad);
    EXPECT_NE(Invalid(ToQueueStatsQuery(r)).find("minutes"), std::string::npos)
        << bad;
  }
}

TEST(ToConversationsQueueTest, EmptyIsEveryQueueElseAQueueName) {
  v1::ListConversationsRequest r;
  EXPECT_EQ(ToConversationsQueue(r).value(), "");
  r.set_queue("sms-out");
  EXPECT_EQ(ToConversationsQueue(r).value(), "sms-out");
  r.set_queue("-x");
  EXPECT_NE(Invalid(ToConversationsQueue(r)).find("queue must be 1 to 64"),
            std::string::npos);
}

TEST(ToBulkRetryTest, AFilterOrAllThenTheDefaultLimit) {
  v1::RetryJobsRequest r;
  r.set_source_channel_id("whatsapp:+15551234567");
  r.mutable_created_after()->set_seconds(1700000000);
  absl::StatusOr<BulkJobs> jobs = ToBulkRetry(r);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->filter.source_channel_id, "whatsapp:+15551234567");
  EXPECT_EQ(jobs->filter.created_after, absl::FromUnixSeconds(1700000000));
  EXPECT_FALSE(jobs->filter.status.has_value());
  EXPECT_EQ(jobs->limit, kDefaultBulkLimit);
  EXPECT_FALSE(jobs->all);
  EXPECT_FALSE(jobs->dry_run);
  v1::RetryJobsRequest every;
  every.set_all(true);
  every.set_limit(kMaxBulkLimit);
  every.set_dry_run(true);
  jobs = ToBulkRetry(every);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_TRUE(jobs->all);
  EXPECT_EQ(jobs->limit, 1000);
  EXPECT_TRUE(jobs->dry_run);
}

TEST(ToBulkRetryTest, EachBadValueNamesItsField) {
  v1::RetryJobsRequest r;
  EXPECT_NE(Invalid(ToBulkRetry(r)).find("set a filter, or all=true"),
            std::string::npos)
      << "no filter is not every job";
  r.set_user_id("+15551234567");
  r.set_all(true);
  EXPECT_NE(Invalid(ToBulkRetry(r)).find("all must be false"),
            std::string::npos);
  r.set_all(false);
  for (int limit : {-1, 1001}) {
    r.set_limit(limit);
    EXPECT_NE(Invalid(ToBulkRetry(r))
                  .find(absl::StrCat("limit must be between 1 and 1000, got ",
                                     limit)),
              std::string::npos);
  }
  r.set_limit(0);
  r.set_user_id("5551234567");
  EXPECT_NE(Invalid(ToBulkRetry(r)).find("user_id"), std::string::npos);
  r.set_user_id("");
  r.set_source_channel_id(std::string(kMaxChannelBytes + 1, 'c'));
  EXPECT_NE(Invalid(ToBulkRetry(r)).find("source_channel_id"),
            std::string::npos);
  r.set_source_channel_id("");
  r.set_source_type(static_cast<v1::SourceType>(9));
  EXPECT_NE(Invalid(ToBulkRetry(r)).find("source_type"), std::string::npos);
}

TEST(ToBulkCancelTest, AStatusIsAFilterOfTheThreeCancellable) {
  v1::CancelJobsRequest r;
  for (v1::JobStatus status : {v1::JOB_STATUS_SCHEDULED, v1::JOB_STATUS_PENDING,
                               v1::JOB_STATUS_PROCESSING}) {
    r.set_status(status);
    absl::StatusOr<BulkJobs> jobs = ToBulkCancel(r);
    ASSERT_TRUE(jobs.ok()) << jobs.status();
    EXPECT_TRUE(jobs->filter.status.has_value());
  }
  for (v1::JobStatus status : {v1::JOB_STATUS_COMPLETE, v1::JOB_STATUS_FAILED,
                               v1::JOB_STATUS_CANCELLED}) {
    r.set_status(status);
    EXPECT_NE(Invalid(ToBulkCancel(r))
                  .find("status must be scheduled, "
                        "pending or processing"),
              std::string::npos);
  }
  r.set_status(v1::JOB_STATUS_UNSPECIFIED);
  EXPECT_NE(Invalid(ToBulkCancel(r)).find("set a filter, or all=true"),
            std::string::npos);
  r.set_all(true);
  r.set_limit(1001);
  EXPECT_NE(Invalid(ToBulkCancel(r)).find("limit"), std::string::npos);
  r.set_limit(0);
  absl::StatusOr<BulkJobs> every = ToBulkCancel(r);
  ASSERT_TRUE(every.ok()) << every.status();
  EXPECT_FALSE(every->filter.status.has_value());
  EXPECT_EQ(every->limit, kDefaultBulkLimit);
}

}  // namespace
}  // namespace jobqueue

namespace jobqueue {
namespace {

v1::StreamJobsRequest StreamOpen(int max_outstanding) {
  v1::StreamJobsRequest r;
  r.mutable_open()->set_worker_id("w");
  r.mutable_open()->set_max_outstanding(max_outstanding);
  return r;
}

TEST(ToStreamOpenTest, TakesTheClaimsFieldsAndMaxOutstanding) {
  v1::StreamJobsRequest r = StreamOpen(kMaxStreamOutstanding);
  r.mutable_open()->add_queues("sms-out");
  r.mutable_open()->add_content_types(v1::CONTENT_TYPE_TEXT);
  r.mutable_open()->mutable_lease_duration()->set_seconds(90);
  absl::StatusOr<jobqueue::StreamOpen> open = ToStreamOpen(r);
  ASSERT_TRUE(open.ok()) << open.status();
  EXPECT_EQ(open->max_outstanding, kMaxStreamOutstanding);
  EXPECT_EQ(open->claim.worker_id, "w");
  EXPECT_EQ(open->claim.queues, std::vector<std::string>{"sms-out"});
  EXPECT_EQ(open->claim.content_types, std::vector<std::string>{"text"});
  EXPECT_EQ(open->claim.lease, absl::Seconds(90));
}

TEST(ToStreamOpenTest, EachBadValueNamesItsField) {
  EXPECT_NE(Invalid(ToStreamOpen(v1::StreamJobsRequest())).find("open is"),
            std::string::npos);
  EXPECT_NE(Invalid(ToStreamOpen(StreamOpen(0))).find("open.max_outstanding"),
            std::string::npos);
  EXPECT_NE(Invalid(ToStreamOpen(StreamOpen(kMaxStreamOutstanding + 1)))
                .find("open.max_outstanding"),
            std::string::npos);
  v1::StreamJobsRequest r = StreamOpen(1);
  r.mutable_open()->set_worker_id("");
  EXPECT_NE(Invalid(ToStreamOpen(r)).find("open.worker_id"), std::string::npos);
  r = StreamOpen(1);
  r.mutable_open()->set_worker_id(std::string("a\0b", 3));
  EXPECT_NE(Invalid(ToStreamOpen(r)).find("open.worker_id"), std::string::npos);
  r = StreamOpen(1);
  r.mutable_open()->add_queues("two words");
  EXPECT_NE(Invalid(ToStreamOpen(r)).find("open.queues[0]"), std::string::npos);
  r = StreamOpen(1);
  r.add_items()->mutable_complete();
  EXPECT_NE(Invalid(ToStreamOpen(r)).find("items"), std::string::npos);
}

TEST(CheckStreamMessageTest, OneToAThousandItemsAndNoOpen) {
  v1::StreamJobsRequest r;
  EXPECT_FALSE(CheckStreamMessage(r).ok());
  r.add_items();
  EXPECT_TRUE(CheckStreamMessage(r).ok());
  r.mutable_open();
  EXPECT_NE(CheckStreamMessage(r).message().find("open"), std::string::npos);
  r.clear_open();
  for (int i = 1; i <= kMaxStreamItems; ++i) r.add_items();
  EXPECT_FALSE(CheckStreamMessage(r).ok());
}

TEST(ToStreamItemTest, EachKindIsCheckedAsItsUnaryRequest) {
  const std::string id = "123E4567-E89B-42D3-A456-426614174000";
  v1::StreamJobsItem item;
  item.mutable_complete()->set_job_id(id);
  item.mutable_complete()->set_lease_token(id);
  absl::StatusOr<StreamItem> checked = ToStreamItem(item);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->kind, v1::STREAM_JOBS_ITEM_KIND_COMPLETE);
  EXPECT_EQ(checked->lease.job_id, absl::AsciiStrToLower(id));

  item.mutable_fail()->set_job_id(id);
  item.mutable_fail()->set_lease_token(id);
  EXPECT_NE(Invalid(ToStreamItem(item)).find("error"), std::string::npos);
  item.mutable_fail()->set_error("broken");
  item.mutable_fail()->set_retryable(true);
  checked = ToStreamItem(item);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->kind, v1::STREAM_JOBS_ITEM_KIND_FAIL);
  EXPECT_EQ(checked->error, "broken");
  EXPECT_TRUE(checked->retryable);

  item.mutable_extend()->set_job_id(id);
  item.mutable_extend()->set_lease_token(id);
  item.mutable_extend()->mutable_lease_duration()->set_seconds(7200);
  EXPECT_NE(Invalid(ToStreamItem(item)).find("lease_duration"),
            std::string::npos);
  item.mutable_extend()->mutable_lease_duration()->set_seconds(120);
  checked = ToStreamItem(item);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->lease_duration, absl::Seconds(120));

  item.mutable_complete()->set_job_id("nope");
  EXPECT_NE(Invalid(ToStreamItem(item)).find("job_id"), std::string::npos);
  EXPECT_NE(Invalid(ToStreamItem(v1::StreamJobsItem())).find("one of"),
            std::string::npos);
}

}  // namespace
}  // namespace jobqueue
