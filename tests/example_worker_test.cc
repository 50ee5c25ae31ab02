// The example worker binary against a real server: it drains the queue,
// completing jobs and failing the ones whose payload asks for it.

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

}  // namespace
}  // namespace jobqueue
