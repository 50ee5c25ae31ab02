#include "tests/support/server_fixture.h"

namespace jobqueue {

void ServerTest::SetUp() {
  ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
  if (start_ == kAtSetUp) {
    ASSERT_NO_FATAL_FAILURE(StartServer(ServerOptions()));
  }
}

void ServerTest::StartServer(InProcessServer::Options options) {
  if (options.database_url.empty()) options.database_url = url();
  stub_.reset();
  server_.reset();
  auto server = InProcessServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
  stub_ = server_->NewStub();
}

}  // namespace jobqueue
