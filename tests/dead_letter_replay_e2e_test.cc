// Dead letters end to end: two servers over one PostgreSQL database, as two
// replicas, over real gRPC channels. A message the shim could not enqueue
// (recorded as the shim records it: its Twilio parameters, its MessageSid),
// one it could not map (no From), and a job that failed for good are
// listed, filtered and paged; replaying them makes the message a job, re-
// queues the failed job (both then claimable) and records the unmappable
// one's refusal; a second replay makes nothing new; and operators replaying
// one dead letter at once on both servers make one job, answered to all.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/in_process_server.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

using Params = std::vector<std::pair<std::string, std::string>>;

// An SMS as Twilio posts it to the shim.
Params Sms(const std::string& sid) {
  return {{"MessageSid", sid},    {"SmsMessageSid", sid},
          {"AccountSid", "AC0"},  {"From", "+14158675309"},
          {"To", "+18005551212"}, {"Body", "hello again"},
          {"NumMedia", "0"}};
}

class DeadLetterReplayTest : public PgTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    for (int i = 0; i < 2; ++i) {
      absl::StatusOr<std::unique_ptr<InProcessServer>> server =
          InProcessServer::Start({.database_url = url()});
      ASSERT_TRUE(server.ok()) << server.status();
      stubs_.push_back((*server)->NewStub());
      servers_.push_back(*std::move(server));
    }
  }

  // The dead letter the shim records for a delivery it could not enqueue:
  // source twilio.messages, the MessageSid, every parameter as a string.
  std::string ShimDeadLetter(const Params& params, const std::string& reason) {
    v1::RecordDeadLetterRequest r;
    r.set_source("twilio.messages");
    for (const auto& [name, value] : params) {
      if (name == "MessageSid") r.set_delivery_id(value);
      (*r.mutable_raw_payload()->mutable_fields())[name].set_string_value(
          value);
    }
    r.set_reason(reason);
    v1::DeadLetter stored;
    grpc::Status s =
        stubs_[0]->RecordDeadLetter(CallContext().get(), r, &stored);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return stored.id();
  }

  // A job of `channel` failed for good through the workers' calls.
  std::string FailedJob(const std::string& channel) {
    v1::EnqueueJobRequest enqueue;
    enqueue.set_user_phone("+15551234567");
    enqueue.set_source_channel_id(channel);
    enqueue.set_source_type(v1::SOURCE_TYPE_DM);
    enqueue.set_max_attempts(1);
    (*enqueue.mutable_payload()->mutable_fields())["Body"].set_string_value(
        "transcribe me");
    v1::EnqueueJobResponse enqueued;
    EXPECT_TRUE(
        stubs_[0]->EnqueueJob(CallContext().get(), enqueue, &enqueued).ok());
    const std::vector<v1::Job> claimed = Claim(*stubs_[0]);
    EXPECT_EQ(claimed.size(), 1u);
    if (claimed.empty()) return "";
    v1::FailJobRequest fail;
    fail.set_job_id(claimed[0].id());
    fail.set_lease_token(claimed[0].lease_token());
    fail.set_error("model timeout");
    v1::Job failed;
    EXPECT_TRUE(stubs_[0]->FailJob(CallContext().get(), fail, &failed).ok());
    EXPECT_EQ(failed.status(), v1::JOB_STATUS_FAILED);
    return failed.id();
  }

  // The id of failed job `job_id`'s dead letter; "" when it has none.
  std::string DeadLetterOf(const std::string& job_id) const {
    const pqxx::result r = Sql(absl::StrCat(
        "SELECT id::text FROM dlq_jobs WHERE job_id = '", job_id, "'"));
    return r.size() == 1 ? r[0][0].as<std::string>() : "";
  }

  static std::vector<v1::Job> Claim(v1::JobQueue::Stub& stub) {
    v1::ClaimJobsRequest r;
    r.set_worker_id("w");
    r.set_max_jobs(10);
    v1::ClaimJobsResponse response;
    grpc::Status s = stub.ClaimJobs(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.jobs().begin(), response.jobs().end()};
  }

  // Every page of `r` through `stub`: the dead letters' ids in order.
  static std::vector<std::string> ListAll(v1::JobQueue::Stub& stub,
                                          v1::ListDeadLettersRequest r) {
    std::vector<std::string> ids;
    for (int page = 0; page < 20; ++page) {
      v1::ListDeadLettersResponse response;
      grpc::Status s = stub.ListDeadLetters(CallContext().get(), r, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
      for (const v1::DeadLetter& d : response.dead_letters()) {
        ids.push_back(d.id());
      }
      if (response.next_page_token().empty()) break;
      r.set_page_token(response.next_page_token());
    }
    return ids;
  }

  static v1::ReplayDeadLettersResponse Replay(
      v1::JobQueue::Stub& stub, const std::vector<std::string>& ids,
      const std::string& who) {
    v1::ReplayDeadLettersRequest r;
    for (const std::string& id : ids) r.add_ids(id);
    r.set_requested_by(who);
    v1::ReplayDeadLettersResponse response;
    grpc::Status s = stub.ReplayDeadLetters(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.results_size(), static_cast<int>(ids.size()));
    return response;
  }

  std::vector<std::unique_ptr<InProcessServer>> servers_;
  std::vector<std::unique_ptr<v1::JobQueue::Stub>> stubs_;
};

TEST_F(DeadLetterReplayTest, ListedFilteredPagedAndReplayedOnce) {
  v1::JobQueue::Stub& a = *stubs_[0];
  v1::JobQueue::Stub& b = *stubs_[1];
  const std::string message =
      ShimDeadLetter(Sms("SM1"),
                     "EnqueueJob rejected the delivery: database "
                     "constraint jobs_payload_object");
  Params no_sender = Sms("SM2");
  no_sender.erase(no_sender.begin() + 3);  // From
  const std::string unmappable = ShimDeadLetter(no_sender, "From is missing");
  const std::string job_id = FailedJob("voice-notes");
  ASSERT_FALSE(job_id.empty());
  const std::string failed_letter = DeadLetterOf(job_id);
  ASSERT_FALSE(failed_letter.empty());

  // Newest first, on either server, in pages of one.
  v1::ListDeadLettersRequest all;
  all.set_page_size(1);
  EXPECT_THAT(ListAll(b, all), ElementsAre(failed_letter, unmappable, message));
  v1::ListDeadLettersRequest shim = all;
  shim.set_source("twilio.messages");
  EXPECT_THAT(ListAll(a, shim), ElementsAre(unmappable, message));
  v1::ListDeadLettersRequest timeouts;
  timeouts.set_reason_contains("TIMEOUT");
  EXPECT_THAT(ListAll(a, timeouts), ElementsAre(failed_letter));
  v1::ListDeadLettersRequest later;
  later.mutable_since()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 60);
  EXPECT_THAT(ListAll(a, later), ElementsAre());

  v1::ListDeadLettersResponse page;
  ASSERT_TRUE(a.ListDeadLetters(CallContext().get(), timeouts, &page).ok());
  ASSERT_EQ(page.dead_letters_size(), 1);
  EXPECT_EQ(page.dead_letters(0).source(), "jobqueue.jobs");
  EXPECT_EQ(page.dead_letters(0).job_id(), job_id);
  EXPECT_EQ(page.dead_letters(0).attempts(), 1);
  EXPECT_FALSE(page.dead_letters(0).has_replay());

  const v1::ReplayDeadLettersResponse replayed =
      Replay(a, {message, unmappable, failed_letter}, "ops@example.com");
  const v1::ReplayDeadLetterResult& made = replayed.results(0);
  EXPECT_EQ(made.code(), 0) << made.message();
  EXPECT_TRUE(made.replayed_now());
  EXPECT_EQ(made.replay().requested_by(), "ops@example.com");
  const v1::ReplayDeadLetterResult& refused = replayed.results(1);
  EXPECT_EQ(refused.code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.message(), HasSubstr("From"));
  EXPECT_EQ(refused.replay().error(), refused.message());
  EXPECT_EQ(refused.replay().job_id(), "");
  const v1::ReplayDeadLetterResult& requeued = replayed.results(2);
  EXPECT_EQ(requeued.code(), 0) << requeued.message();
  EXPECT_EQ(requeued.replay().job_id(), job_id);

  // Both jobs are claimable, on the other server: the message as the shim
  // would have enqueued it.
  const std::vector<v1::Job> claimed = Claim(b);
  std::set<std::string> ids;
  for (const v1::Job& job : claimed) {
    ids.insert(job.id());
    if (job.id() == made.replay().job_id()) {
      EXPECT_EQ(job.idempotency_key(), "SM1");
      EXPECT_EQ(job.user_phone(), "+14158675309");
      EXPECT_EQ(job.source_channel_id(), "+14158675309");
      EXPECT_EQ(job.payload().fields().at("Body").string_value(),
                "hello again");
    }
  }
  EXPECT_THAT(ids, UnorderedElementsAre(made.replay().job_id(), job_id));

  // Again, on the other server: nothing new, the recorded outcomes.
  const int64_t jobs = SqlInt("SELECT count(*) FROM jobs");
  const v1::ReplayDeadLettersResponse again =
      Replay(b, {message, failed_letter}, "someone-else");
  for (const v1::ReplayDeadLetterResult& r : again.results()) {
    EXPECT_EQ(r.code(), 0) << r.message();
    EXPECT_FALSE(r.replayed_now());
    EXPECT_EQ(r.replay().requested_by(), "ops@example.com");
  }
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), jobs);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'processing'"), 2);
  // The refused one is tried again, and refused again.
  const v1::ReplayDeadLettersResponse retried =
      Replay(b, {unmappable}, "someone-else");
  EXPECT_TRUE(retried.results(0).replayed_now());
  EXPECT_EQ(retried.results(0).replay().tries(), 2);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM dead_letter_replays"), 3);

  // The list shows each replay.
  v1::ListDeadLettersResponse shown;
  ASSERT_TRUE(b.ListDeadLetters(CallContext().get(), shim, &shown).ok());
  ASSERT_EQ(shown.dead_letters_size(), 1);
  EXPECT_EQ(shown.dead_letters(0).replay().requested_by(), "someone-else");
  EXPECT_FALSE(shown.dead_letters(0).replay().error().empty());
}

TEST_F(DeadLetterReplayTest, ConcurrentReplaysOnTwoServersMakeOneJob) {
  const std::string message =
      ShimDeadLetter(Sms("SM3"), "EnqueueJob rejected the delivery: x");
  const std::string job_id = FailedJob("c");
  ASSERT_FALSE(job_id.empty());
  const std::string failed_letter = DeadLetterOf(job_id);
  ASSERT_FALSE(failed_letter.empty());
  const int64_t jobs_before = SqlInt("SELECT count(*) FROM jobs");

  constexpr int kOperators = 8;
  std::vector<v1::ReplayDeadLettersResponse> answers(kOperators);
  std::vector<std::thread> operators;
  for (int i = 0; i < kOperators; ++i) {
    operators.emplace_back([&, i] {
      answers[i] = Replay(*stubs_[i % 2], {message, failed_letter},
                          absl::StrCat("operator-", i));
    });
  }
  for (std::thread& t : operators) t.join();

  for (int entry = 0; entry < 2; ++entry) {
    SCOPED_TRACE(entry == 0 ? "message" : "failed job");
    std::set<std::string> jobs;
    int made = 0;
    for (const v1::ReplayDeadLettersResponse& answer : answers) {
      ASSERT_EQ(answer.results_size(), 2);
      const v1::ReplayDeadLetterResult& r = answer.results(entry);
      EXPECT_EQ(r.code(), 0) << r.message();
      jobs.insert(r.replay().job_id());
      made += r.replayed_now() ? 1 : 0;
    }
    EXPECT_EQ(made, 1);
    EXPECT_EQ(jobs.size(), 1u);
  }
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"), jobs_before + 1);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM dead_letter_replays"), 2);
  EXPECT_EQ(Claim(*stubs_[1]).size(), 2u);
}

}  // namespace
}  // namespace jobqueue
