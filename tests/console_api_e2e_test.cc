// The console's HTTP API (POST /console/api/<Method> on the metrics port)
// through real HTTP requests to a server in this process, over a real
// PostgreSQL: it answers as the gRPC API does, and refuses what a browser on
// another site or a caller without the token could send, changing nothing.

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/job_queue_server.h"
#include "tests/support/client_calls.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

constexpr char kToken[] = "console-test-token";

class ConsoleApiTest : public ServerTest {
 protected:
  InProcessServer::Options ServerOptions() override {
    return {.database_url = url(), .bearer_token = kToken};
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = CallContext();
    context->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    return context;
  }

  httplib::Result Post(const std::string& method, const std::string& body,
                       httplib::Headers headers = {},
                       const std::string& type = "application/json") {
    httplib::Client client(absl::StrCat("http://", server_->metrics_address()));
    headers.emplace("X-Jobqueue-Console", "1");
    return client.Post(absl::StrCat("/console/api/", method), headers, body,
                       type.c_str());
  }
  httplib::Result PostWithToken(const std::string& method,
                                const std::string& body) {
    return Post(method, body,
                {{"Authorization", absl::StrCat("Bearer ", kToken)}});
  }

  bool Paused(const std::string& queue) {
    v1::GetQueueRequest request;
    request.set_name(queue);
    v1::Queue answer;
    EXPECT_TRUE(stub_->GetQueue(Context().get(), request, &answer).ok());
    return answer.has_paused_at();
  }
};

TEST_F(ConsoleApiTest, AnswersAsTheGrpcApiDoesInJson) {
  v1::EnqueueJobResponse enqueued;
  ASSERT_TRUE(stub_
                  ->EnqueueJob(Context().get(),
                               EnqueueRequest("whatsapp:+15551234567", "hi"),
                               &enqueued)
                  .ok());
  httplib::Result got = PostWithToken(
      "GetJob", absl::StrCat(R"({"id": ")", enqueued.job().id(), R"("})"));
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  EXPECT_EQ(got->status, 200) << got->body;
  EXPECT_TRUE(absl::StrContains(got->body, enqueued.job().id()));
  EXPECT_TRUE(absl::StrContains(got->body, R"("status":"JOB_STATUS_PENDING")"))
      << got->body;

  // The service's own checks answer, with its words and an HTTP status.
  httplib::Result bad = PostWithToken("GetJob", R"({"id": "nope"})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_TRUE(absl::StrContains(bad->body, R"("code":"INVALID_ARGUMENT")"));
  EXPECT_TRUE(absl::StrContains(bad->body, "id must be a UUID")) << bad->body;

  httplib::Result unknown = PostWithToken("GetJob", R"({"job": 1})");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_TRUE(absl::StrContains(unknown->body, "jobqueue.v1.GetJobRequest"))
      << unknown->body;

  httplib::Result paused =
      PostWithToken("PauseQueue", R"({"queue": "default", "reason": "x"})");
  ASSERT_TRUE(paused);
  EXPECT_EQ(paused->status, 200) << paused->body;
  EXPECT_TRUE(Paused("default"));
}

TEST_F(ConsoleApiTest, RefusesCallsWithoutTheTokenChangingNothing) {
  httplib::Result none = Post("PauseQueue", R"({"queue": "default"})");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_TRUE(absl::StrContains(none->body, "UNAUTHENTICATED"));
  httplib::Result wrong = Post("PauseQueue", R"({"queue": "default"})",
                               {{"Authorization", "Bearer not-it"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_FALSE(Paused("default"));
}

TEST_F(ConsoleApiTest, RefusesCrossSiteRequestsChangingNothing) {
  const httplib::Headers token = {
      {"Authorization", absl::StrCat("Bearer ", kToken)}};
  // What an HTML form on another site can send: text/plain, no header.
  httplib::Result form =
      Post("PauseQueue", R"({"queue": "default"})", token, "text/plain");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 403);
  EXPECT_TRUE(absl::StrContains(form->body, "Content-Type")) << form->body;

  httplib::Headers foreign = token;
  foreign.emplace("Origin", "http://evil.example");
  httplib::Result origin =
      Post("PauseQueue", R"({"queue": "default"})", foreign);
  ASSERT_TRUE(origin);
  EXPECT_EQ(origin->status, 403);

  httplib::Headers fetch_site = token;
  fetch_site.emplace("Sec-Fetch-Site", "cross-site");
  httplib::Result cross =
      Post("PauseQueue", R"({"queue": "default"})", fetch_site);
  ASSERT_TRUE(cross);
  EXPECT_EQ(cross->status, 403);
  EXPECT_FALSE(Paused("default"));
}

TEST_F(ConsoleApiTest, ExposesNoWorkerMethod) {
  v1::EnqueueJobResponse enqueued;
  ASSERT_TRUE(stub_
                  ->EnqueueJob(Context().get(),
                               EnqueueRequest("whatsapp:+15551234567", "hi"),
                               &enqueued)
                  .ok());
  httplib::Result claim =
      PostWithToken("ClaimJobs", R"({"workerId": "console", "maxJobs": 10})");
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->status, 404);
  EXPECT_TRUE(absl::StrContains(claim->body, "ClaimJobs")) << claim->body;
  v1::ListJobsRequest list;
  list.set_status(v1::JOB_STATUS_PROCESSING);
  v1::ListJobsResponse listed;
  ASSERT_TRUE(stub_->ListJobs(Context().get(), list, &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 0);
}

TEST_F(ConsoleApiTest, ServesItsPagesWithAPolicyAgainstInjectedScripts) {
  httplib::Client client(absl::StrCat("http://", server_->metrics_address()));
  httplib::Result page = client.Get("/console");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(
      absl::StrContains(page->get_header_value("Content-Type"), "text/html"));
  EXPECT_TRUE(absl::StrContains(
      page->get_header_value("Content-Security-Policy"), "script-src 'self'"));
  EXPECT_EQ(page->get_header_value("X-Frame-Options"), "DENY");
  httplib::Result chart = client.Get("/console/assets/chart.min.js");
  ASSERT_TRUE(chart);
  EXPECT_EQ(chart->status, 200);
  EXPECT_TRUE(absl::StrContains(chart->body, "Chart.js v3"));
  httplib::Result missing = client.Get("/console/assets/nothing.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

// A metrics port other machines can reach serves no console without a
// token, and one with a token.
TEST_F(ConsoleApiTest, IsOffOnAnOpenPortWithoutAToken) {
  for (const bool with_token : {false, true}) {
    absl::StatusOr<std::unique_ptr<JobQueueServer>> open =
        JobQueueServer::Start({
            .database_url = url(),
            .listen = "127.0.0.1:0",
            .bearer_token = with_token ? kToken : "",
            .allow_unauthenticated = !with_token,
            .schedule_interval = absl::ZeroDuration(),
            .recurring_interval = absl::ZeroDuration(),
            .metrics_listen = "0.0.0.0:0",
        });
    ASSERT_TRUE(open.ok()) << open.status();
    EXPECT_EQ((*open)->console_served(), with_token);
    const std::string port = (*open)->metrics_address().substr(
        (*open)->metrics_address().rfind(':') + 1);
    httplib::Client client(absl::StrCat("http://127.0.0.1:", port));
    httplib::Result page = client.Get("/console");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, with_token ? 200 : 404);
    (*open)->Stop(absl::ZeroDuration());
  }
}

}  // namespace
}  // namespace jobqueue
