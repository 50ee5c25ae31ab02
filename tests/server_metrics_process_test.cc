// jobqueue_server's metrics and request log flags on the real binary:
// --metrics_listen serves /metrics, --log_requests=all logs every call, and
// a metrics port in use does not keep the service from serving.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/client_calls.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

constexpr char kToken[] = "sekret-metrics-token";

class ServerMetricsProcessTest : public PgTest {
 protected:
  // Starts jobqueue_server on a free port with `flags` added.
  std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& flags) {
    address_ = absl::StrCat("127.0.0.1:", UnusedTcpPort());
    std::vector<std::string> args = {"serve", "--database_url=" + db_->url(),
                                     "--listen=" + address_};
    args.insert(args.end(), flags.begin(), flags.end());
    auto p = ChildProcess::Start(RunfilePath("service/jobqueue_server"), args,
                                 {{"JOBQUEUE_BEARER_TOKEN", kToken}});
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? std::move(*p) : nullptr;
  }

  grpc::Status Enqueue() {
    auto stub = v1::JobQueue::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    const v1::EnqueueJobRequest request =
        EnqueueRequest("+15551234567", /*body=*/"");
    v1::EnqueueJobResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    return stub->EnqueueJob(&context, request, &response);
  }

  std::string address_;
};

TEST_F(ServerMetricsProcessTest, ServesMetricsAndLogsEveryCallWhenAsked) {
  const std::string metrics = absl::StrCat("127.0.0.1:", UnusedTcpPort());
  auto server = Start({"--metrics_listen=" + metrics, "--log_requests=all"});
  ASSERT_TRUE(
      server->WaitForOutput("serving on " + address_, absl::Seconds(20)))
      << server->output();
  EXPECT_TRUE(absl::StrContains(
      server->output(),
      absl::StrCat("metrics on http://", metrics, "/metrics")))
      << server->output();
  ASSERT_TRUE(Enqueue().ok());

  httplib::Client client(absl::StrCat("http://", metrics));
  httplib::Result response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_TRUE(absl::StrContains(
      response->body,
      "jobqueue_rpcs_total{method=\"EnqueueJob\",code=\"OK\"} 1\n"))
      << response->body;
  EXPECT_TRUE(absl::StrContains(response->body,
                                "jobqueue_jobs{status=\"pending\"} 1\n"));
  EXPECT_TRUE(server->WaitForOutput("jobqueue: rpc method=EnqueueJob code=OK",
                                    absl::Seconds(5)))
      << server->output();

  ASSERT_TRUE(server->Signal(SIGTERM).ok());
  EXPECT_EQ(*server->Wait(absl::Seconds(20)), 0) << server->output();
  EXPECT_FALSE(absl::StrContains(server->output(), kToken));
}

TEST_F(ServerMetricsProcessTest, AMetricsPortInUseOnlyTurnsMetricsOff) {
  httplib::Server taken;
  const int port = taken.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  auto server = Start({absl::StrCat("--metrics_listen=127.0.0.1:", port)});
  ASSERT_TRUE(
      server->WaitForOutput("serving on " + address_, absl::Seconds(20)))
      << server->output();
  EXPECT_TRUE(absl::StrContains(server->output(), "metrics are off"))
      << server->output();
  EXPECT_TRUE(Enqueue().ok());
}

TEST_F(ServerMetricsProcessTest, RefusesBadMetricsAndLogFlags) {
  auto malformed = Start({"--metrics_listen=localhost"});
  EXPECT_EQ(*malformed->Wait(absl::Seconds(20)), 2) << malformed->output();
  EXPECT_TRUE(absl::StrContains(malformed->output(), "host:port"));

  auto level = Start({"--log_requests=loud"});
  EXPECT_NE(*level->Wait(absl::Seconds(20)), 0);
  EXPECT_TRUE(absl::StrContains(level->output(), "must be all, errors or none"))
      << level->output();
}

}  // namespace
}  // namespace jobqueue
