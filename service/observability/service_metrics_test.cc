#include "service/observability/service_metrics.h"

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(ServiceMetricsTest, CountsAndTimesRpcsByMethodAndCode) {
  metrics::Registry registry;
  ServiceMetrics metrics(&registry, {});
  metrics.RecordRpc("GetJob", "OK", absl::Microseconds(300));
  metrics.RecordRpc("GetJob", "OK", absl::Milliseconds(3));
  metrics.RecordRpc("GetJob", "INVALID_ARGUMENT", absl::Microseconds(100));
  const std::string text = registry.Render();
  EXPECT_TRUE(Has(text, "jobqueue_rpcs_total{method=\"GetJob\",code=\"OK\"} 2"))
      << text;
  EXPECT_TRUE(Has(
      text,
      "jobqueue_rpcs_total{method=\"GetJob\",code=\"INVALID_ARGUMENT\"} 1"));
  EXPECT_TRUE(Has(
      text,
      "jobqueue_rpc_duration_seconds_bucket{method=\"GetJob\",le=\"0.0005\"} "
      "2"));
  EXPECT_TRUE(
      Has(text, "jobqueue_rpc_duration_seconds_count{method=\"GetJob\"} 3"));
}

TEST(ServiceMetricsTest, CountsAndTimesStatementsByName) {
  metrics::Registry registry;
  StatementMetrics statements(&registry);
  std::unique_ptr<StatementObserver::Sink> get_job =
      statements.ForStatement("get_job");
  statements.ForStatement("claim_in_order");
  get_job->Observe(true, absl::Microseconds(300));
  get_job->Observe(false, absl::Milliseconds(3));
  const std::string text = registry.Render();
  EXPECT_TRUE(Has(text,
                  "jobqueue_sql_statements_total{statement=\"get_job\","
                  "outcome=\"ok\"} 1"))
      << text;
  EXPECT_TRUE(Has(text,
                  "jobqueue_sql_statements_total{statement=\"get_job\","
                  "outcome=\"error\"} 1"));
  EXPECT_TRUE(Has(
      text, "jobqueue_sql_duration_seconds_count{statement=\"get_job\"} 2"));
  // Known statements are shown before they first run.
  EXPECT_TRUE(Has(text,
                  "jobqueue_sql_statements_total{statement=\"claim_in_order\","
                  "outcome=\"ok\"} 0"));
}

TEST(ServiceMetricsTest, ClaimsAndBatchesHaveTheirOwnSeries) {
  metrics::Registry registry;
  ServiceMetrics metrics(&registry, {});
  metrics.RecordClaim(absl::Seconds(2), 3);
  metrics.RecordClaim(absl::Seconds(20), 0);
  metrics.RecordEnqueueBatch(10);
  const std::string text = registry.Render();
  EXPECT_TRUE(
      Has(text, "jobqueue_claim_wait_seconds_count{outcome=\"jobs\"} 1"));
  EXPECT_TRUE(
      Has(text, "jobqueue_claim_wait_seconds_sum{outcome=\"empty\"} 20"));
  EXPECT_TRUE(Has(text, "jobqueue_claimed_jobs_total 3"));
  EXPECT_TRUE(Has(text, "jobqueue_enqueue_batch_size_bucket{le=\"8\"} 0"));
  EXPECT_TRUE(Has(text, "jobqueue_enqueue_batch_size_bucket{le=\"16\"} 1"));
}

TEST(ServiceMetricsTest, EachScrapeSamplesThePoolItIsGiven) {
  metrics::Registry registry;
  ConnectionPool::Stats stats{.in_use = 2, .idle = 1, .max_size = 5};
  ServiceMetrics metrics(&registry, {.pool = [&] { return stats; }});
  std::string text = registry.Render();
  EXPECT_TRUE(Has(text, "jobqueue_db_pool_connections{state=\"in_use\"} 2"))
      << text;
  EXPECT_TRUE(Has(text, "jobqueue_db_pool_connections{state=\"idle\"} 1"));
  EXPECT_TRUE(Has(text, "jobqueue_db_pool_max_connections 5"));
  EXPECT_TRUE(Has(text, "jobqueue_db_pool_waiting 0"));
  stats.waiting = 3;
  text = registry.Render();
  EXPECT_TRUE(Has(text, "jobqueue_db_pool_waiting 3")) << text;
  EXPECT_EQ(text.find("jobqueue_jobs"), std::string::npos);
}

TEST(ServiceMetricsTest, WithoutSourcesNoStorageGauges) {
  metrics::Registry registry;
  ServiceMetrics metrics(&registry, {});
  const std::string text = registry.Render();
  EXPECT_EQ(text.find("jobqueue_db_pool"), std::string::npos) << text;
  EXPECT_EQ(text.find("jobqueue_jobs"), std::string::npos);
}

}  // namespace
}  // namespace jobqueue
