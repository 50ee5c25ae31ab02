#include "service/metrics_http_server.h"

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(MetricsHttpServerTest, ServesTheRegistryAsPrometheusText) {
  metrics::Registry registry;
  registry.AddCounter("scrapes_total", "Scrapes.")->WithLabels({}).Increment();
  auto server = MetricsHttpServer::Start("127.0.0.1:0", &registry);
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

TEST(MetricsHttpServerTest, RefusesAMalformedOrTakenAddress) {
  metrics::Registry registry;
  EXPECT_EQ(MetricsHttpServer::Start("localhost", &registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto first = MetricsHttpServer::Start("127.0.0.1:0", &registry);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(
      MetricsHttpServer::Start((*first)->address(), &registry).status().code(),
      absl::StatusCode::kUnavailable);
}

TEST(MetricsHttpServerTest, StopsRightAfterStarting) {
  metrics::Registry registry;
  for (int i = 0; i < 20; ++i) {
    auto server = MetricsHttpServer::Start("127.0.0.1:0", &registry);
    ASSERT_TRUE(server.ok());
  }
}

}  // namespace
}  // namespace jobqueue
