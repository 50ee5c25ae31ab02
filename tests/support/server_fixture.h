// PgTest with a JobQueue server in the test's process over its database,
// and a stub to it: started by SetUp with ServerOptions(), or, for a
// fixture built with kByTest, by the test with StartServer.
//
//   class ApiTest : public ServerTest {};
//   TEST_F(ApiTest, X) { stub_->EnqueueJob(CallContext().get(), r, &out); }

#ifndef JOBQUEUE_TESTS_SUPPORT_SERVER_FIXTURE_H_
#define JOBQUEUE_TESTS_SUPPORT_SERVER_FIXTURE_H_

#include <memory>

#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/in_process_server.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {

class ServerTest : public PgTest {
 protected:
  enum Start { kAtSetUp, kByTest };
  explicit ServerTest(Start start = kAtSetUp) : start_(start) {}

  void SetUp() override;
  // The options SetUp starts the server with: this test's database.
  virtual InProcessServer::Options ServerOptions() {
    return {.database_url = url()};
  }
  // Stops the server running, if any, and starts one with `options`; an
  // empty database_url is this test's database.
  void StartServer(InProcessServer::Options options);

  std::unique_ptr<InProcessServer> server_;
  std::unique_ptr<v1::JobQueue::Stub> stub_;

 private:
  const Start start_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_SERVER_FIXTURE_H_
