// jobqueue_server as operators run it: the migrate command, serving, and a
// graceful stop on SIGTERM that lets calls in flight finish.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "storage/embedded_migrations.h"
#include "tests/support/child_process.h"
#include "tests/support/client_calls.h"
#include "tests/support/lock_waiters.h"
#include "tests/support/test_database.h"

namespace jobqueue {
namespace {

const std::string& ServerBinary() {
  static const std::string path = RunfilePath("service/jobqueue_server");
  return path;
}

std::unique_ptr<ChildProcess> StartServer(
    const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env = {}) {
  auto p = ChildProcess::Start(ServerBinary(), args, env);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? std::move(*p) : nullptr;
}

std::unique_ptr<grpc::ClientContext> Context(int seconds = 10) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(seconds));
  return context;
}

TEST(ServerProcessTest, MigrateAppliesPendingFilesOnce) {
  auto db = TestDatabase::CreateEmpty();
  ASSERT_TRUE(db.ok()) << db.status();
  auto first = StartServer({"migrate", "--database_url=" + (*db)->url()});
  ASSERT_EQ(*first->Wait(absl::Seconds(30)), 0) << first->output();
  const size_t files = EmbeddedMigrationFiles().size();
  EXPECT_NE(first->output().find(absl::StrCat(files, " applied")),
            std::string::npos)
      << first->output();
  auto second = StartServer({"migrate"}, {{"DATABASE_URL", (*db)->url()}});
  ASSERT_EQ(*second->Wait(absl::Seconds(30)), 0) << second->output();
  EXPECT_NE(second->output().find(
                absl::StrCat("0 applied, ", files, " already applied")),
            std::string::npos)
      << second->output();
}

TEST(ServerProcessTest, RefusesToStartWithoutADatabase) {
  auto p = StartServer({"serve"}, {{"DATABASE_URL", ""}});
  EXPECT_EQ(*p->Wait(absl::Seconds(10)), 2);
  EXPECT_NE(p->output().find("DATABASE_URL"), std::string::npos);
}

TEST(ServerProcessTest, ReadsTheBearerTokenFromAFile) {
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/bearer-token");
  std::ofstream(path) << "  file-t0ken \n";
  const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
  auto server = StartServer(
      {"serve", "--database_url=" + (*db)->url(), "--listen=" + address,
       "--metrics_listen=", "--bearer_token_file=" + path});
  ASSERT_TRUE(
      server->WaitForOutput("(bearer token required)", absl::Seconds(20)))
      << server->output();
  auto stub = v1::JobQueue::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::GetJobRequest get;
  get.set_id("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab");
  v1::Job job;
  EXPECT_EQ(stub->GetJob(Context().get(), get, &job).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  auto context = Context();
  context->AddMetadata("authorization", "Bearer file-t0ken");
  EXPECT_EQ(stub->GetJob(context.get(), get, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(ServerProcessTest, RefusesAnEmptyTokenFileAndAnUnknownReflectionMode) {
  const std::string path =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/empty-token");
  std::ofstream(path) << "\n";
  auto empty = StartServer({"serve", "--bearer_token_file=" + path},
                           {{"DATABASE_URL", "postgresql://127.0.0.1:1/x"}});
  EXPECT_EQ(*empty->Wait(absl::Seconds(10)), 2) << empty->output();
  EXPECT_NE(empty->output().find("--bearer_token_file"), std::string::npos);

  auto reflection =
      StartServer({"serve", "--reflection=auth"},
                  {{"DATABASE_URL", "postgresql://127.0.0.1:1/x"}});
  EXPECT_NE(*reflection->Wait(absl::Seconds(10)), 0);
  EXPECT_NE(reflection->output().find("must be open or off"), std::string::npos)
      << reflection->output();
}

// The port of the address a server printed as "serving on HOST:PORT".
int ServingPort(ChildProcess& server) {
  const std::string address = TextAfter(server.output(), "serving on ");
  const std::string host_port = address.substr(0, address.find(' '));
  return std::atoi(host_port.c_str() + host_port.rfind(':') + 1);
}

// Every job's payload (message bodies, phone numbers) is served to whoever
// reaches the port: off loopback, only with a token or the explicit flag.
TEST(ServerProcessTest, RefusesANetworkAddressWithoutATokenUnlessAllowed) {
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  const std::vector<std::pair<std::string, std::string>> no_token = {
      {"JOBQUEUE_BEARER_TOKEN", ""}, {"JOBQUEUE_AUTH_TOKEN", ""}};
  for (const char* listen : {"0.0.0.0:0", "[::]:0"}) {
    auto refused =
        StartServer({"serve", "--database_url=" + (*db)->url(),
                     absl::StrCat("--listen=", listen), "--metrics_listen="},
                    no_token);
    EXPECT_EQ(refused->Wait(absl::Seconds(20)).value_or(-1), 2)
        << refused->output();
    EXPECT_NE(refused->output().find("--allow_unauthenticated"),
              std::string::npos)
        << refused->output();
    EXPECT_NE(refused->output().find("--bearer_token_file"), std::string::npos)
        << refused->output();
    EXPECT_EQ(refused->output().find("serving on"), std::string::npos)
        << refused->output();
  }

  auto allowed = StartServer(
      {"serve", "--database_url=" + (*db)->url(), "--listen=0.0.0.0:0",
       "--metrics_listen=", "--allow_unauthenticated"},
      no_token);
  ASSERT_TRUE(allowed->WaitForOutput("serving on 0.0.0.0:", absl::Seconds(20)))
      << allowed->output();
  EXPECT_NE(allowed->output().find("without a bearer token"), std::string::npos)
      << allowed->output();
  auto stub = v1::JobQueue::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", ServingPort(*allowed)),
                          grpc::InsecureChannelCredentials()));
  v1::GetJobRequest get;
  get.set_id("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab");
  v1::Job job;
  EXPECT_EQ(stub->GetJob(Context().get(), get, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);

  auto with_token = StartServer({"serve", "--database_url=" + (*db)->url(),
                                 "--listen=0.0.0.0:0", "--metrics_listen="},
                                {{"JOBQUEUE_BEARER_TOKEN", "network-t0ken"}});
  ASSERT_TRUE(
      with_token->WaitForOutput("(bearer token required)", absl::Seconds(20)))
      << with_token->output();
  EXPECT_NE(with_token->output().find("travel in plaintext"), std::string::npos)
      << with_token->output();
  EXPECT_EQ(with_token->output().find("network-t0ken"), std::string::npos);
  stub = v1::JobQueue::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", ServingPort(*with_token)),
                          grpc::InsecureChannelCredentials()));
  auto context = Context();
  context->AddMetadata("authorization", "Bearer network-t0ken");
  EXPECT_EQ(stub->GetJob(context.get(), get, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(ServerProcessTest, LoopbackWithoutATokenServesWithoutWarnings) {
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  auto server =
      StartServer({"serve", "--database_url=" + (*db)->url(),
                   "--listen=127.0.0.1:0", "--metrics_listen="},
                  {{"JOBQUEUE_BEARER_TOKEN", ""}, {"JOBQUEUE_AUTH_TOKEN", ""}});
  ASSERT_TRUE(server->WaitForOutput("serving on 127.0.0.1:", absl::Seconds(20)))
      << server->output();
  EXPECT_EQ(server->output().find("warning"), std::string::npos)
      << server->output();
}

TEST(ServerProcessTest, RefusesAListenAddressThatIsNotHostPort) {
  auto p = StartServer({"serve", "--listen=localhost"},
                       {{"DATABASE_URL", "postgresql://127.0.0.1:1/x"},
                        {"JOBQUEUE_BEARER_TOKEN", "t"}});
  EXPECT_EQ(p->Wait(absl::Seconds(10)).value_or(-1), 2) << p->output();
  EXPECT_NE(p->output().find("--listen: \"localhost\" is not host:port"),
            std::string::npos)
      << p->output();
}

TEST(ServerProcessTest, SigtermLetsTheCallInFlightFinishThenExits) {
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  const int port = UnusedTcpPort();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto server = StartServer({"serve", "--database_url=" + (*db)->url(),
                             "--listen=" + address, "--shutdown_grace=20s"},
                            {{"JOBQUEUE_AUTH_TOKEN", "sekret-value"}});
  ASSERT_TRUE(server->WaitForOutput("serving on " + address, absl::Seconds(20)))
      << server->output();

  auto stub = v1::JobQueue::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  const v1::EnqueueJobRequest enqueue =
      EnqueueRequest("+15551234567", /*body=*/"");
  v1::EnqueueJobResponse enqueued;
  auto context = Context();
  context->AddMetadata("authorization", "Bearer sekret-value");
  ASSERT_TRUE(stub->EnqueueJob(context.get(), enqueue, &enqueued).ok());

  // Hold the job's row lock so the next UpdateStatus stays in flight.
  RowLock lock((*db)->url(), "SELECT 1 FROM jobs FOR UPDATE");
  auto in_flight = std::async(std::launch::async, [&] {
    v1::UpdateStatusRequest r;
    r.set_id(enqueued.job().id());
    r.set_status(v1::JOB_STATUS_PROCESSING);
    v1::Job job;
    auto c = Context(30);
    c->AddMetadata("authorization", "Bearer sekret-value");
    return stub->UpdateStatus(c.get(), r, &job);
  });
  const absl::Status stuck = WaitForLockWaiters((*db)->url(), 1);
  ASSERT_TRUE(stuck.ok()) << stuck;
  ASSERT_TRUE(server->Signal(SIGTERM).ok());
  ASSERT_TRUE(server->WaitForOutput("draining", absl::Seconds(10)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(in_flight.wait_for(std::chrono::milliseconds(0)),
            std::future_status::timeout)
      << "the call finished before its row lock was released";
  lock.Release();

  grpc::Status finished = in_flight.get();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  absl::StatusOr<int> code = server->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << server->output();
  EXPECT_EQ(*code, 0) << server->output();
  EXPECT_NE(server->output().find("stopped"), std::string::npos);
  EXPECT_EQ(server->output().find("sekret-value"), std::string::npos)
      << "the token was logged";

  pqxx::connection check((*db)->url());
  EXPECT_EQ(pqxx::nontransaction(check)
                .exec1("SELECT status FROM jobs")[0]
                .as<std::string>(),
            "processing");
}

}  // namespace
}  // namespace jobqueue
