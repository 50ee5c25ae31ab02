// The service's /metrics endpoint and request log over a real gRPC channel,
// a real HTTP scrape and a fresh PostgreSQL database, as an operator sees
// them.

#include <grpcpp/grpcpp.h>

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/client_calls.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

constexpr char kToken[] = "sekret-bearer-value";

class MetricsTest : public ServerTest {
 protected:
  MetricsTest() : ServerTest(kByTest) {}

  // Without the promoter of scheduled jobs or the recurring loop, whose
  // rounds would take pool connections and run statements beside the ones
  // these tests count.
  void StartServer(RequestLogLevel log_requests) {
    ServerTest::StartServer({.bearer_token = kToken,
                             .schedule_interval = absl::ZeroDuration(),
                             .recurring_interval = absl::ZeroDuration(),
                             .log_requests = log_requests});
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = CallContext();
    context->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    return context;
  }

  v1::Job Enqueue(const std::string& body) {
    v1::EnqueueJobResponse response;
    grpc::Status s = stub_->EnqueueJob(
        Context().get(), EnqueueRequest("whatsapp:+15551234567", body),
        &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job();
  }

  grpc::Status GetJob(const std::string& id) {
    v1::GetJobRequest r;
    r.set_id(id);
    v1::Job job;
    return stub_->GetJob(Context().get(), r, &job);
  }

  // Claims one job and completes it; returns its lease token.
  std::string ClaimAndComplete() {
    v1::ClaimJobsRequest claim;
    claim.set_worker_id("w1");
    claim.set_max_jobs(1);
    v1::ClaimJobsResponse claimed;
    EXPECT_TRUE(stub_->ClaimJobs(Context().get(), claim, &claimed).ok());
    if (claimed.jobs_size() != 1) {
      ADD_FAILURE() << "claimed " << claimed.jobs_size() << " jobs";
      return "";
    }
    v1::CompleteJobRequest complete;
    complete.set_job_id(claimed.jobs(0).id());
    complete.set_lease_token(claimed.jobs(0).lease_token());
    v1::Job job;
    EXPECT_TRUE(stub_->CompleteJob(Context().get(), complete, &job).ok());
    return claimed.jobs(0).lease_token();
  }

  // The body of GET /metrics, checked to be Prometheus text.
  std::string Scrape() { return Scrape(*server_); }
  static std::string Scrape(const InProcessServer& server) {
    httplib::Client client(absl::StrCat("http://", server.metrics_address()));
    httplib::Result response = client.Get("/metrics");
    if (!response) {
      ADD_FAILURE() << "GET /metrics: " << httplib::to_string(response.error());
      return "";
    }
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->get_header_value("Content-Type"),
              "text/plain; version=0.0.4");
    return response->body;
  }
};

// The value of `series` (name and labels exactly as written) in `text`, or
// -1 when it is missing.
double Value(const std::string& text, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, series) && absl::ConsumePrefix(&line, " ")) {
      double value;
      if (absl::SimpleAtod(line, &value)) return value;
    }
  }
  return -1;
}

// The request log lines in `output`.
std::vector<std::string> RpcLines(const std::string& output) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, "jobqueue: rpc ")) lines.emplace_back(line);
  }
  return lines;
}

TEST_F(MetricsTest, CountsRpcsByMethodAndCodeAndTimesThem) {
  StartServer(RequestLogLevel::kNone);
  const v1::Job job = Enqueue("hello");
  Enqueue("again");
  EXPECT_TRUE(GetJob(job.id()).ok());
  EXPECT_EQ(GetJob("not-a-uuid").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  const std::string text = Scrape();
  EXPECT_EQ(
      Value(text, R"(jobqueue_rpcs_total{method="EnqueueJob",code="OK"})"), 2)
      << text;
  EXPECT_EQ(Value(text, R"(jobqueue_rpcs_total{method="GetJob",code="OK"})"),
            1);
  EXPECT_EQ(
      Value(text,
            R"(jobqueue_rpcs_total{method="GetJob",code="INVALID_ARGUMENT"})"),
      1);
  EXPECT_EQ(
      Value(text,
            R"(jobqueue_rpc_duration_seconds_count{method="EnqueueJob"})"),
      2);
  EXPECT_EQ(
      Value(
          text,
          R"(jobqueue_rpc_duration_seconds_bucket{method="GetJob",le="+Inf"})"),
      2);
  EXPECT_GT(
      Value(text, R"(jobqueue_rpc_duration_seconds_sum{method="GetJob"})"), 0);
}

TEST_F(MetricsTest, ShowsWhichQueuesArePaused) {
  StartServer(RequestLogLevel::kNone);
  v1::PauseQueueRequest pause;
  pause.set_queue("sms-out");
  pause.set_reason("provider down");
  v1::Queue queue;
  ASSERT_TRUE(stub_->PauseQueue(Context().get(), pause, &queue).ok());
  std::string text = Scrape();
  EXPECT_EQ(Value(text, R"(jobqueue_queue_paused{queue="sms-out"})"), 1)
      << text;
  v1::ResumeQueueRequest resume;
  resume.set_queue("sms-out");
  ASSERT_TRUE(stub_->ResumeQueue(Context().get(), resume, &queue).ok());
  text = Scrape();
  EXPECT_EQ(Value(text, R"(jobqueue_queue_paused{queue="sms-out"})"), 0)
      << text;
}

TEST_F(MetricsTest, ShowsThePoolJobsByStatusAndTheOldestPendingJob) {
  StartServer(RequestLogLevel::kNone);
  for (int i = 0; i < 3; ++i) Enqueue("job");
  ClaimAndComplete();
  {
    pqxx::connection c(db_->url());
    pqxx::nontransaction(c).exec0(
        "UPDATE jobs SET created_at = now() - interval '90 seconds' "
        "WHERE status = 'pending'");
  }

  const std::string text = Scrape();
  EXPECT_EQ(Value(text, R"(jobqueue_jobs{status="pending"})"), 2) << text;
  EXPECT_EQ(Value(text, R"(jobqueue_jobs{status="complete"})"), 1);
  EXPECT_EQ(Value(text, R"(jobqueue_jobs{status="processing"})"), 0);
  EXPECT_EQ(Value(text, R"(jobqueue_jobs{status="failed"})"), 0);
  EXPECT_GE(Value(text, "jobqueue_oldest_pending_job_age_seconds"), 90);
  EXPECT_LT(Value(text, "jobqueue_oldest_pending_job_age_seconds"), 120);
  EXPECT_EQ(Value(text, "jobqueue_queue_stats_up"), 1);
  // Calls ran one at a time: one connection, back in the pool.
  EXPECT_EQ(Value(text, R"(jobqueue_db_pool_connections{state="in_use"})"), 0);
  EXPECT_EQ(Value(text, R"(jobqueue_db_pool_connections{state="idle"})"), 1);
  EXPECT_EQ(Value(text, "jobqueue_db_pool_max_connections"), 8);
  EXPECT_EQ(Value(text, "jobqueue_db_pool_waiting"), 0);
  EXPECT_EQ(Value(text, R"(jobqueue_claim_wait_seconds_count{outcome="jobs"})"),
            1);
  EXPECT_EQ(Value(text, "jobqueue_claimed_jobs_total"), 1);
  // One caller at a time: each enqueue was a batch of one.
  EXPECT_EQ(Value(text, "jobqueue_enqueue_batch_size_count"), 3);
  EXPECT_EQ(Value(text, R"(jobqueue_enqueue_batch_size_bucket{le="1"})"), 3);
}

TEST_F(MetricsTest, TwoServersInOneProcessReportTheirOwnPools) {
  auto small =
      InProcessServer::Start({.database_url = db_->url(),
                              .bearer_token = kToken,
                              .schedule_interval = absl::ZeroDuration(),
                              .recurring_interval = absl::ZeroDuration(),
                              .pool_size = 3});
  ASSERT_TRUE(small.ok()) << small.status();
  auto large =
      InProcessServer::Start({.database_url = db_->url(),
                              .bearer_token = kToken,
                              .schedule_interval = absl::ZeroDuration(),
                              .recurring_interval = absl::ZeroDuration(),
                              .pool_size = 5});
  ASSERT_TRUE(large.ok()) << large.status();
  stub_ = (*small)->NewStub();
  Enqueue("job");  // one connection of the small server's pool

  const std::string small_text = Scrape(**small);
  const std::string large_text = Scrape(**large);
  EXPECT_EQ(Value(small_text, "jobqueue_db_pool_max_connections"), 3)
      << small_text;
  EXPECT_EQ(Value(large_text, "jobqueue_db_pool_max_connections"), 5)
      << large_text;
  EXPECT_EQ(Value(small_text, R"(jobqueue_db_pool_connections{state="idle"})"),
            1);
  EXPECT_EQ(Value(large_text, R"(jobqueue_db_pool_connections{state="idle"})"),
            0);
}

TEST_F(MetricsTest, MethodsTheServerDoesNotHaveShareOneLabel) {
  StartServer(RequestLogLevel::kNone);
  for (const char* method : {"/jobqueue.v1.JobQueue/DropTables", "/x.Y/Z"}) {
    EXPECT_EQ(
        CallByName(server_->channel(), method, Context().get()).error_code(),
        grpc::StatusCode::UNIMPLEMENTED);
  }
  const std::string text = Scrape();
  EXPECT_EQ(
      Value(text,
            R"(jobqueue_rpcs_total{method="unknown",code="UNIMPLEMENTED"})"),
      2)
      << text;
  EXPECT_EQ(text.find("DropTables"), std::string::npos) << text;
  EXPECT_EQ(text.find("x.Y"), std::string::npos);
}

TEST_F(MetricsTest, LogsEveryRpcWithMethodCodeTimeAndJobButNoSecrets) {
  StartServer(RequestLogLevel::kAll);
  testing::internal::CaptureStderr();
  const v1::Job job = Enqueue("private words");
  const std::string lease_token = ClaimAndComplete();
  GetJob("not-a-uuid");
  const std::string output = testing::internal::GetCapturedStderr();

  const std::vector<std::string> lines = RpcLines(output);
  ASSERT_EQ(lines.size(), 4u) << output;
  EXPECT_TRUE(
      absl::StartsWith(lines[0], "jobqueue: rpc method=EnqueueJob code=OK ms="))
      << lines[0];
  EXPECT_TRUE(absl::EndsWith(lines[0], " job_id=" + job.id())) << lines[0];
  EXPECT_TRUE(absl::StartsWith(lines[1], "jobqueue: rpc method=ClaimJobs "))
      << lines[1];
  EXPECT_TRUE(absl::StartsWith(lines[2],
                               "jobqueue: rpc method=CompleteJob code=OK ms="))
      << lines[2];
  EXPECT_TRUE(absl::EndsWith(lines[2], " job_id=" + job.id())) << lines[2];
  EXPECT_TRUE(absl::StartsWith(
      lines[3], "jobqueue: rpc method=GetJob code=INVALID_ARGUMENT ms="))
      << lines[3];
  EXPECT_FALSE(absl::StrContains(lines[3], "not-a-uuid"));
  ASSERT_FALSE(lease_token.empty());
  EXPECT_FALSE(absl::StrContains(output, lease_token)) << output;
  EXPECT_FALSE(absl::StrContains(output, kToken)) << output;
  EXPECT_FALSE(absl::StrContains(output, "private words")) << output;
}

TEST_F(MetricsTest, AtTheErrorsLevelOnlyFailedRpcsAreLogged) {
  StartServer(RequestLogLevel::kErrors);
  testing::internal::CaptureStderr();
  const v1::Job job = Enqueue("hello");
  GetJob(job.id());
  GetJob("00000000-0000-4000-8000-000000000000");
  const std::string output = testing::internal::GetCapturedStderr();

  const std::vector<std::string> lines = RpcLines(output);
  ASSERT_EQ(lines.size(), 1u) << output;
  EXPECT_TRUE(absl::StartsWith(
      lines[0], "jobqueue: rpc method=GetJob code=NOT_FOUND ms="))
      << lines[0];
  EXPECT_TRUE(
      absl::EndsWith(lines[0], " job_id=00000000-0000-4000-8000-000000000000"));
}

// Each SQL statement the store runs is counted and timed under its block
// name in storage/queries.
TEST_F(MetricsTest, CountsAndTimesSqlStatementsByName) {
  StartServer(RequestLogLevel::kNone);
  Enqueue("hello");
  const std::string text = Scrape();
  const std::string statement = "statement=\"enqueue_keep_name\"";
  EXPECT_EQ(Value(text, absl::StrCat("jobqueue_sql_statements_total{",
                                     statement, ",outcome=\"ok\"}")),
            1)
      << text;
  EXPECT_EQ(Value(text, absl::StrCat("jobqueue_sql_statements_total{",
                                     statement, ",outcome=\"error\"}")),
            0);
  EXPECT_EQ(Value(text, absl::StrCat("jobqueue_sql_duration_seconds_count{",
                                     statement, "}")),
            1);
}

}  // namespace
}  // namespace jobqueue
