#include "metrics/http_server.h"

#include "gtest/gtest.h"

namespace jobqueue::metrics {
namespace {

TEST(HttpServerTest, ServesTheRegistryAsPrometheusText) {
  metrics::Registry registry;
  registry.AddCounter("scrapes_total", "Scrapes.")->WithLabels({}).Increment();
  auto server = HttpServer::Start("127.0.0.1:0", &registry);
  ASSERT_TRUE(server.ok()) << server.status();

  httplib::Client client(absl::StrCat("http://", (*server)->address()));
  httplib::Result response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->get_header_value("Content-Type"),
            "text/plain; version=0.0.4");
  EXPECT_EQ(response->body,
            "# HELP scrapes_total Scrapes.\n"
            "# TYPE scrapes_total counter\n"
            "scrapes_total 1\n");
  EXPECT_EQ(client.Get("/")->status, 404);
}

TEST(HttpServerTest, RefusesAMalformedOrTakenAddress) {
  metrics::Registry registry;
  EXPECT_EQ(HttpServer::Start("localhost", &registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = HttpServer::Start("127.0.0.1:0", &registry);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(HttpServer::Start((*first)->address(), &registry).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(HttpServerTest, StopsRightAfterStarting) {
  metrics::Registry registry;
  for (int i = 0; i < 20; ++i) {
    auto server = HttpServer::Start("127.0.0.1:0", &registry);
    ASSERT_TRUE(server.ok());
  }
}

}  // namespace
}  // namespace jobqueue::metrics
