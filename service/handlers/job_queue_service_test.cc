// The service's own rules, with a fake store and no database or network:
// a bad request never reaches the store, the store gets the call's deadline,
// and the store's answer is mapped back unchanged.

#include "service/handlers/job_queue_service.h"

#include <grpcpp/server_context.h>

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/fake_job_store.h"
#include "storage/job_notifier.h"

namespace jobqueue {
namespace {

using ::testing::HasSubstr;

constexpr char kJobId[] = "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab";
constexpr char kToken[] = "0b7c3a4e-54f1-4c53-8a8e-4f1e9b2a7c11";

class JobQueueServiceTest : public ::testing::Test {
 protected:
  JobQueueServiceTest()
      : service_(
            &store_, /*notifier=*/nullptr,
            {.max_payload_bytes = 1024, .default_deadline = absl::Seconds(7)}) {
  }

  static v1::EnqueueJobRequest AJob() {
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id("whatsapp:+15551234567");
    r.set_source_type(v1::SOURCE_TYPE_DM);
    (*r.mutable_payload()->mutable_fields())["Body"].set_string_value("hi");
    return r;
  }

  // A job of `channel` enqueued and claimed straight in the store.
  Job Leased(const std::string& channel) {
    auto enqueued = store_.Enqueue({.user_phone = "+15551234567",
                                    .source_channel_id = channel,
                                    .source_type = "dm",
                                    .payload_json = "{}",
                                    .content_type = "text"},
                                   absl::InfiniteFuture());
    EXPECT_TRUE(enqueued.ok()) << enqueued.status();
    auto claimed = store_.ClaimJobs({.worker_id = "w"}, absl::InfiniteFuture());
    EXPECT_TRUE(claimed.ok() && claimed->size() == 1u);
    return claimed.ok() && !claimed->empty() ? claimed->front() : Job();
  }

  FakeJobStore store_;
  JobQueueService service_;
  grpc::ServerContext context_;
};

TEST_F(JobQueueServiceTest, ABadRequestNeverReachesTheStore) {
  v1::EnqueueJobRequest enqueue = AJob();
  enqueue.set_user_phone("nope");
  v1::EnqueueJobResponse enqueued;
  EXPECT_EQ(service_.EnqueueJob(&context_, &enqueue, &enqueued).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetJobRequest get;
  get.set_id("1");
  v1::Job job;
  EXPECT_EQ(service_.GetJob(&context_, &get, &job).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::FailJobRequest fail;
  fail.set_job_id(kJobId);
  fail.set_lease_token(kToken);
  EXPECT_EQ(service_.FailJob(&context_, &fail, &job).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ClaimJobsRequest claim;
  v1::ClaimJobsResponse claimed;
  EXPECT_EQ(service_.ClaimJobs(&context_, &claim, &claimed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListJobsRequest list;
  list.set_page_token("forged");
  v1::ListJobsResponse listed;
  EXPECT_EQ(service_.ListJobs(&context_, &list, &listed).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(store_.calls().empty());
}

TEST_F(JobQueueServiceTest, ACallWithoutDeadlineGetsTheDefault) {
  v1::EnqueueJobRequest r = AJob();
  v1::EnqueueJobResponse response;
  const absl::Time before = absl::Now();
  ASSERT_TRUE(service_.EnqueueJob(&context_, &r, &response).ok());
  ASSERT_EQ(store_.calls().size(), 1u);
  EXPECT_EQ(store_.calls()[0].method, "Enqueue");
  EXPECT_GE(store_.calls()[0].deadline, before + absl::Seconds(7));
  EXPECT_LE(store_.calls()[0].deadline, absl::Now() + absl::Seconds(7));
  EXPECT_EQ(store_.new_job().max_attempts, 5);
  EXPECT_TRUE(response.created());
  auto stored = store_.ListJobs({}, std::nullopt, 2, absl::InfiniteFuture());
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->jobs.size(), 1u);
  EXPECT_EQ(response.job().id(), stored->jobs[0].id);
}

TEST_F(JobQueueServiceTest, UpdateStatusPassesATypedChange) {
  const Job leased = Leased("c");
  v1::UpdateStatusRequest r;
  r.set_id(leased.id);
  r.set_status(v1::JOB_STATUS_COMPLETE);
  r.set_expected_status(v1::JOB_STATUS_PROCESSING);
  r.set_lease_token(leased.lease_token);
  v1::Job job;
  ASSERT_TRUE(service_.UpdateStatus(&context_, &r, &job).ok());
  EXPECT_EQ(store_.status_change().to, JobStatus::kComplete);
  EXPECT_EQ(store_.status_change().expected, JobStatus::kProcessing);
  EXPECT_EQ(store_.status_change().lease_token, leased.lease_token);
  EXPECT_EQ(job.status(), v1::JOB_STATUS_COMPLETE);
}

TEST_F(JobQueueServiceTest, TheStoresErrorIsTheAnswer) {
  store_.error = absl::FailedPreconditionError("job x is 'failed'");
  v1::RetryJobRequest r;
  r.set_job_id(kJobId);
  v1::Job job;
  const grpc::Status s = service_.RetryJob(&context_, &r, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "job x is 'failed'");
}

TEST_F(JobQueueServiceTest, CompleteJobsAnswersEachLeaseInOrder) {
  const Job current = Leased("a");
  const Job stale = Leased("b");
  v1::CompleteJobsRequest r;
  for (const JobLease& lease : {JobLease{current.id, current.lease_token},
                                JobLease{stale.id, kToken}}) {
    v1::CompleteJobRequest* job = r.add_jobs();
    job->set_job_id(lease.job_id);
    job->set_lease_token(lease.lease_token);
  }
  v1::CompleteJobsResponse response;
  ASSERT_TRUE(service_.CompleteJobs(&context_, &r, &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).job_id(), current.id);
  EXPECT_EQ(response.results(0).code(), 0);
  EXPECT_EQ(response.results(1).job_id(), stale.id);
  EXPECT_EQ(response.results(1).code(),
            static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_THAT(response.results(1).message(),
              HasSubstr("is not leased with this lease_token"));
}

TEST_F(JobQueueServiceTest, ListJobsHandsOutATokenForTheSameFiltersOnly) {
  for (int i = 0; i < 2; ++i) {
    v1::EnqueueJobRequest enqueue = AJob();
    v1::EnqueueJobResponse enqueued;
    ASSERT_TRUE(service_.EnqueueJob(&context_, &enqueue, &enqueued).ok());
  }
  const size_t calls = store_.calls().size();
  v1::ListJobsRequest r;
  r.set_status(v1::JOB_STATUS_PENDING);
  r.set_page_size(1);
  v1::ListJobsResponse first;
  ASSERT_TRUE(service_.ListJobs(&context_, &r, &first).ok());
  EXPECT_EQ(store_.filter().status, JobStatus::kPending);
  ASSERT_FALSE(first.next_page_token().empty());

  r.set_page_token(first.next_page_token());
  v1::ListJobsResponse second;
  EXPECT_TRUE(service_.ListJobs(&context_, &r, &second).ok());
  r.set_status(v1::JOB_STATUS_FAILED);
  EXPECT_EQ(service_.ListJobs(&context_, &r, &second).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(store_.calls().size(), calls + 2);
}

TEST_F(JobQueueServiceTest, GetUserChecksTheNumberAndMapsTheUser) {
  v1::GetUserRequest r;
  r.set_phone_number("5551234567");
  v1::User user;
  grpc::Status s = service_.GetUser(&context_, &r, &user);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("phone_number"));
  EXPECT_TRUE(store_.calls().empty());

  r.set_phone_number("+15551234567");
  s = service_.GetUser(&context_, &r, &user);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("+15551234567"));

  auto created =
      store_.UpsertUser("+15551234567", "Ada", absl::InfiniteFuture());
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(service_.GetUser(&context_, &r, &user).ok());
  EXPECT_EQ(user.phone_number(), "+15551234567");
  EXPECT_EQ(user.first_name(), "Ada");
  EXPECT_EQ(user.created_at().seconds(),
            absl::ToUnixSeconds(created->user.created_at));
  EXPECT_EQ(store_.calls().back().method, "GetUser");
}

TEST_F(JobQueueServiceTest, ListUsersHandsOutATokenForTheSameFiltersOnly) {
  for (const char* phone : {"+15550000001", "+15550000002", "+15550000003"}) {
    ASSERT_TRUE(store_.UpsertUser(phone, "", absl::InfiniteFuture()).ok());
  }
  const size_t calls = store_.calls().size();
  v1::ListUsersRequest r;
  r.mutable_created_after()->set_seconds(0);
  r.set_page_size(2);
  v1::ListUsersResponse first;
  ASSERT_TRUE(service_.ListUsers(&context_, &r, &first).ok());
  EXPECT_EQ(store_.user_filter().created_after, absl::UnixEpoch());
  EXPECT_EQ(store_.user_filter().created_before, absl::InfiniteFuture());
  ASSERT_EQ(first.users_size(), 2);
  ASSERT_FALSE(first.next_page_token().empty());

  r.set_page_token(first.next_page_token());
  v1::ListUsersResponse second;
  ASSERT_TRUE(service_.ListUsers(&context_, &r, &second).ok());
  ASSERT_EQ(second.users_size(), 1);
  EXPECT_TRUE(second.next_page_token().empty());
  std::set<std::string> phones = {second.users(0).phone_number()};
  for (const v1::User& u : first.users()) phones.insert(u.phone_number());
  EXPECT_EQ(phones.size(), 3u);

  // Other filters, a forged token, a ListJobs token, a bad page size: none
  // reaches the store.
  r.mutable_created_after()->set_seconds(1);
  v1::ListUsersResponse refused;
  grpc::Status s = service_.ListUsers(&context_, &r, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
  r.mutable_created_after()->set_seconds(0);
  r.set_page_token("forged");
  EXPECT_EQ(service_.ListUsers(&context_, &r, &refused).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListJobsRequest jobs;
  jobs.set_page_size(1);
  for (int i = 0; i < 2; ++i) {
    v1::EnqueueJobRequest enqueue = AJob();
    v1::EnqueueJobResponse enqueued;
    ASSERT_TRUE(service_.EnqueueJob(&context_, &enqueue, &enqueued).ok());
  }
  v1::ListJobsResponse listed;
  ASSERT_TRUE(service_.ListJobs(&context_, &jobs, &listed).ok());
  ASSERT_FALSE(listed.next_page_token().empty());
  const size_t before = store_.calls().size();
  r.clear_created_after();
  r.set_page_token(listed.next_page_token());
  s = service_.ListUsers(&context_, &r, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
  r.clear_page_token();
  r.set_page_size(1001);
  s = service_.ListUsers(&context_, &r, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_size"));
  EXPECT_EQ(store_.calls().size(), before);
  EXPECT_EQ(before, calls + 2 + 3);  // two pages, two enqueues, one list
}

TEST_F(JobQueueServiceTest, WithoutANotifierAClaimDoesNotWait) {
  v1::ClaimJobsRequest r;
  r.set_worker_id("w1");
  r.mutable_wait_timeout()->set_seconds(30);
  v1::ClaimJobsResponse response;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(service_.ClaimJobs(&context_, &r, &response).ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(response.jobs_size(), 0);
  EXPECT_EQ(store_.claim().worker_id, "w1");
}

TEST_F(JobQueueServiceTest, QueueSettingsAreCheckedThenSetAndRead) {
  v1::SetQueueRateLimitRequest set;
  set.set_queue("replies");
  set.set_jobs_per_second(-1);
  v1::Queue queue;
  grpc::Status s = service_.SetQueueRateLimit(&context_, &set, &queue);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("jobs_per_second"));
  EXPECT_TRUE(store_.calls().empty());

  set.set_jobs_per_second(1.5);
  ASSERT_TRUE(service_.SetQueueRateLimit(&context_, &set, &queue).ok());
  EXPECT_EQ(queue.name(), "replies");
  EXPECT_EQ(queue.rate_limit().jobs_per_second(), 1.5);
  EXPECT_EQ(queue.rate_limit().burst(), 2);

  v1::GetQueueRequest get;
  get.set_name("replies");
  queue.Clear();
  ASSERT_TRUE(service_.GetQueue(&context_, &get, &queue).ok());
  EXPECT_EQ(queue.rate_limit().burst(), 2);
  get.set_name("other");
  queue.Clear();
  ASSERT_TRUE(service_.GetQueue(&context_, &get, &queue).ok());
  EXPECT_EQ(queue.name(), "other");
  EXPECT_FALSE(queue.has_rate_limit());
  get.set_name("");
  s = service_.GetQueue(&context_, &get, &queue);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("name"));
}

TEST_F(JobQueueServiceTest, PauseAndResumeAreCheckedThenSetAndShown) {
  v1::PauseQueueRequest pause;
  pause.set_queue("sms-out");
  pause.set_reason(std::string(1025, 'x'));
  v1::Queue queue;
  grpc::Status s = service_.PauseQueue(&context_, &pause, &queue);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("reason"));
  EXPECT_TRUE(store_.calls().empty());

  pause.set_reason("provider down");
  ASSERT_TRUE(service_.PauseQueue(&context_, &pause, &queue).ok());
  EXPECT_EQ(queue.name(), "sms-out");
  EXPECT_TRUE(queue.has_paused_at());
  EXPECT_EQ(queue.pause_reason(), "provider down");
  v1::GetQueueRequest get;
  get.set_name("sms-out");
  v1::Queue seen;
  ASSERT_TRUE(service_.GetQueue(&context_, &get, &seen).ok());
  EXPECT_EQ(seen.paused_at().seconds(), queue.paused_at().seconds());
  EXPECT_EQ(seen.paused_at().nanos(), queue.paused_at().nanos());
  EXPECT_EQ(seen.pause_reason(), "provider down");

  v1::ResumeQueueRequest resume;
  s = service_.ResumeQueue(&context_, &resume, &queue);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("queue"));
  resume.set_queue("sms-out");
  queue.Clear();
  ASSERT_TRUE(service_.ResumeQueue(&context_, &resume, &queue).ok());
  EXPECT_EQ(queue.name(), "sms-out");
  EXPECT_FALSE(queue.has_paused_at());
  EXPECT_EQ(queue.pause_reason(), "");
}

TEST_F(JobQueueServiceTest, DeadLettersAreListedAndReplayedThroughTheShimMap) {
  // As the shim stores a message it could not enqueue: Twilio's parameters.
  auto shim = store_.RecordDeadLetter(
      {.source = "twilio.messages",
       .delivery_id = "SM1",
       .reason = "EnqueueJob rejected the delivery: database down",
       .raw_payload_json = R"({"From": "whatsapp:+15551234567",)"
                           R"( "MessageSid": "SM1", "Body": "hi"})"},
      absl::InfiniteFuture());
  auto other = store_.RecordDeadLetter(
      {.source = "billing", .reason = "r", .raw_payload_json = "{}"},
      absl::InfiniteFuture());
  ASSERT_TRUE(shim.ok() && other.ok());

  v1::ListDeadLettersRequest list;
  list.set_source("twilio.messages");
  v1::ListDeadLettersResponse listed;
  ASSERT_TRUE(service_.ListDeadLetters(&context_, &list, &listed).ok());
  ASSERT_EQ(listed.dead_letters_size(), 1);
  EXPECT_EQ(listed.dead_letters(0).id(), shim->id);
  EXPECT_EQ(
      listed.dead_letters(0).raw_payload().fields().at("Body").string_value(),
      "hi");
  EXPECT_FALSE(listed.dead_letters(0).has_replay());

  v1::ReplayDeadLettersRequest replay;
  replay.add_ids(shim->id);
  replay.add_ids(other->id);
  replay.add_ids(kJobId);
  replay.set_requested_by("ops@example.com");
  v1::ReplayDeadLettersResponse replayed;
  ASSERT_TRUE(service_.ReplayDeadLetters(&context_, &replay, &replayed).ok());
  ASSERT_EQ(replayed.results_size(), 3);
  const v1::ReplayDeadLetterResult& made = replayed.results(0);
  EXPECT_EQ(made.code(), 0) << made.message();
  EXPECT_TRUE(made.replayed_now());
  auto job = store_.GetJob(made.replay().job_id(), absl::InfiniteFuture());
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->user_phone, "+15551234567");
  EXPECT_EQ(job->source_channel_id, "whatsapp:+15551234567");
  EXPECT_EQ(job->idempotency_key, "SM1");
  EXPECT_EQ(replayed.results(1).code(),
            static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_THAT(replayed.results(1).message(),
              HasSubstr("source billing has no mapping to a job"));
  EXPECT_EQ(replayed.results(1).replay().error(),
            replayed.results(1).message());
  EXPECT_EQ(replayed.results(2).dead_letter_id(), kJobId);
  EXPECT_EQ(replayed.results(2).code(),
            static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_FALSE(replayed.results(2).has_replay());

  replay.clear_ids();
  replay.add_ids(shim->id);
  replayed.Clear();
  ASSERT_TRUE(service_.ReplayDeadLetters(&context_, &replay, &replayed).ok());
  EXPECT_FALSE(replayed.results(0).replayed_now());
  EXPECT_EQ(replayed.results(0).replay().job_id(), job->id);

  replay.set_requested_by("");
  const size_t calls = store_.calls().size();
  grpc::Status s = service_.ReplayDeadLetters(&context_, &replay, &replayed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("requested_by"));
  EXPECT_EQ(store_.calls().size(), calls);
}

TEST_F(JobQueueServiceTest, QueueStatsAreCheckedThenReadAndMapped) {
  v1::GetQueueStatsRequest request;
  request.set_minutes(61);
  v1::GetQueueStatsResponse response;
  grpc::Status s = service_.GetQueueStats(&context_, &request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("minutes"));
  EXPECT_TRUE(store_.calls().empty());

  v1::PauseQueueRequest pause;
  pause.set_queue("sms-out");
  pause.set_reason("provider down");
  v1::Queue queue;
  ASSERT_TRUE(service_.PauseQueue(&context_, &pause, &queue).ok());
  request.set_minutes(0);
  ASSERT_TRUE(service_.GetQueueStats(&context_, &request, &response).ok());
  ASSERT_EQ(response.queues_size(), 1);
  const v1::QueueStats& stats = response.queues(0);
  EXPECT_EQ(stats.queue(), "sms-out");
  EXPECT_TRUE(stats.paused());
  EXPECT_EQ(stats.pause_reason(), "provider down");
  EXPECT_EQ(stats.minutes_size(), 15);
  EXPECT_FALSE(stats.has_rate_limit());
}

TEST_F(JobQueueServiceTest, ConversationsPageThroughWithTheirTokens) {
  for (const char* channel : {"c1", "c2", "c3"}) {
    v1::EnqueueJobRequest enqueue = AJob();
    enqueue.set_source_channel_id(channel);
    v1::EnqueueJobResponse enqueued;
    ASSERT_TRUE(service_.EnqueueJob(&context_, &enqueue, &enqueued).ok());
  }
  v1::ListConversationsRequest request;
  request.set_page_size(2);
  v1::ListConversationsResponse first;
  ASSERT_TRUE(service_.ListConversations(&context_, &request, &first).ok());
  ASSERT_EQ(first.conversations_size(), 2);
  EXPECT_EQ(first.conversations(0).head_wait(), v1::HEAD_WAIT_READY);
  EXPECT_EQ(first.conversations(0).head().status(), v1::JOB_STATUS_PENDING);
  EXPECT_EQ(first.conversations(0).head().lease_token(), "");
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_page_token(first.next_page_token());
  v1::ListConversationsResponse second;
  ASSERT_TRUE(service_.ListConversations(&context_, &request, &second).ok());
  ASSERT_EQ(second.conversations_size(), 1);
  EXPECT_EQ(second.next_page_token(), "");
  std::set<std::string> seen;
  for (const auto* page : {&first, &second}) {
    for (const v1::Conversation& c : page->conversations()) {
      seen.insert(c.source_channel_id());
    }
  }
  EXPECT_EQ(seen.size(), 3u);
  // The token is bound to its queue.
  request.set_queue("other");
  grpc::Status s = service_.ListConversations(&context_, &request, &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
}

TEST_F(JobQueueServiceTest, BulkActionsAreCheckedThenMapped) {
  v1::RetryJobsRequest retry;
  v1::RetryJobsResponse retried;
  grpc::Status s = service_.RetryJobs(&context_, &retry, &retried);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("all=true"));
  EXPECT_TRUE(store_.calls().empty());

  const Job leased = Leased("c");
  ASSERT_TRUE(store_
                  .FailJob(leased.id, leased.lease_token, "boom", false,
                           absl::InfiniteFuture())
                  .ok());
  retry.set_user_id("+15551234567");
  retry.set_dry_run(true);
  ASSERT_TRUE(service_.RetryJobs(&context_, &retry, &retried).ok());
  EXPECT_EQ(retried.retried(), 1);
  EXPECT_FALSE(retried.more());
  EXPECT_EQ(store_.calls().back().method, "RetryJobs");
  EXPECT_EQ(store_.bulk_jobs().limit, 100);
  EXPECT_TRUE(store_.bulk_jobs().dry_run);

  v1::CancelJobsRequest cancel;
  cancel.set_all(true);
  cancel.set_limit(1001);
  v1::CancelJobsResponse cancelled;
  s = service_.CancelJobs(&context_, &cancel, &cancelled);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("limit"));
  EXPECT_EQ(store_.calls().back().method, "RetryJobs");
  cancel.set_limit(1);
  Leased("d");
  ASSERT_TRUE(service_.RetryJobs(&context_, &retry, &retried).ok());
  retry.set_dry_run(false);
  ASSERT_TRUE(service_.RetryJobs(&context_, &retry, &retried).ok());
  EXPECT_EQ(retried.retried(), 1);
  ASSERT_TRUE(service_.CancelJobs(&context_, &cancel, &cancelled).ok());
  // The oldest first: the retried job, then the processing one.
  EXPECT_EQ(cancelled.cancelled(), 1);
  EXPECT_EQ(cancelled.cancel_requested(), 0);
  EXPECT_TRUE(cancelled.more());
  EXPECT_EQ(store_.calls().back().method, "CancelJobs");
  EXPECT_LE(store_.calls().back().deadline, absl::Now() + absl::Seconds(7));
  ASSERT_TRUE(service_.CancelJobs(&context_, &cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.cancelled(), 0);
  EXPECT_EQ(cancelled.cancel_requested(), 1);
  EXPECT_FALSE(cancelled.more());
}

// A notifier that never fires (no database): only the queue's next token
// can wake the claim before the recheck, set 20 s away.
TEST_F(JobQueueServiceTest, AWaitingClaimTakesARateLimitedQueuesNextToken) {
  JobNotifier polling("");
  JobQueueService service(&store_, &polling,
                          {.claim_recheck = absl::Seconds(20)});
  ASSERT_TRUE(store_
                  .SetQueueRateLimit("default", RateLimit{20, 1},
                                     absl::InfiniteFuture())
                  .ok());
  Leased("a");  // spends the one token
  store_
      .Enqueue({.user_phone = "+15551234567",
                .source_channel_id = "b",
                .source_type = "dm",
                .payload_json = "{}",
                .content_type = "text"},
               absl::InfiniteFuture())
      .IgnoreError();
  v1::ClaimJobsRequest r;
  r.set_worker_id("w1");
  r.mutable_wait_timeout()->set_seconds(30);
  v1::ClaimJobsResponse response;
  const absl::Time start = absl::Now();
  ASSERT_TRUE(service.ClaimJobs(&context_, &r, &response).ok());
  EXPECT_EQ(response.jobs_size(), 1);
  // The token is due 50 ms after the first claim; the recheck at 20 s.
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace jobqueue
