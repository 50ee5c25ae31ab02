// The example worker binary against a real server: it drains the queue,
// completing jobs and failing the ones whose payload asks for it, and sends
// the bearer token from the variables the server reads.

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

using ExampleWorkerTest = ServerTest;

TEST_F(ExampleWorkerTest, DrainsTheQueue) {
  for (int i = 0; i < 6; ++i) {
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id(absl::StrCat("chat-", i % 2));
    r.set_source_type(v1::SOURCE_TYPE_DM);
    r.set_max_attempts(1);
    (*r.mutable_payload()->mutable_fields())["fail"].set_bool_value(i == 5);
    v1::EnqueueJobResponse response;
    ASSERT_TRUE(stub_->EnqueueJob(CallContext().get(), r, &response).ok());
  }
  auto worker = ChildProcess::Start(
      RunfilePath("examples/worker"),
      {"--server=" + server_->address(), "--work=10ms", "--exit_when_idle"});
  ASSERT_TRUE(worker.ok()) << worker.status();
  absl::StatusOr<int> code = (*worker)->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.ok()) << (*worker)->output();
  EXPECT_EQ(*code, 0) << (*worker)->output();

  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'complete'"), 5);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM dlq_jobs"), 1);
  EXPECT_NE((*worker)->output().find("completed"), std::string::npos);
}

// A server with a token: the worker takes it from $JOBQUEUE_BEARER_TOKEN (as
// the server and the shim do), still from the old $JOBQUEUE_AUTH_TOKEN, and
// the new name wins when both are set.
class ExampleWorkerWithTokenTest : public ServerTest {
 protected:
  InProcessServer::Options ServerOptions() override {
    return {.database_url = url(), .bearer_token = "w0rker-t0ken"};
  }
};

TEST_F(ExampleWorkerWithTokenTest, SendsTheBearerTokenTheServerReads) {
  struct Case {
    std::string bearer_token;
    std::string auth_token;
  };
  const Case cases[] = {
      {"w0rker-t0ken", ""},
      {"", "w0rker-t0ken"},
      {"w0rker-t0ken", "an-old-wrong-token"},
  };
  int completed = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("JOBQUEUE_BEARER_TOKEN='", c.bearer_token,
                              "' JOBQUEUE_AUTH_TOKEN='", c.auth_token, "'"));
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id("token-chat");
    r.set_source_type(v1::SOURCE_TYPE_DM);
    (*r.mutable_payload()->mutable_fields())["Body"].set_string_value("hi");
    v1::EnqueueJobResponse response;
    auto context = CallContext();
    context->AddMetadata("authorization", "Bearer w0rker-t0ken");
    ASSERT_TRUE(stub_->EnqueueJob(context.get(), r, &response).ok());

    auto worker = ChildProcess::Start(
        RunfilePath("examples/worker"),
        {"--server=" + server_->address(), "--work=10ms", "--exit_when_idle"},
        {{"JOBQUEUE_BEARER_TOKEN", c.bearer_token},
         {"JOBQUEUE_AUTH_TOKEN", c.auth_token}});
    ASSERT_TRUE(worker.ok()) << worker.status();
    // Without the token every claim fails and the worker retries forever.
    absl::StatusOr<int> code = (*worker)->Wait(absl::Seconds(20));
    ASSERT_TRUE(code.ok()) << (*worker)->output();
    EXPECT_EQ(*code, 0) << (*worker)->output();
    EXPECT_EQ((*worker)->output().find("stream ended"), std::string::npos)
        << (*worker)->output();

    EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'complete'"),
              ++completed);
  }
}

}  // namespace
}  // namespace jobqueue
