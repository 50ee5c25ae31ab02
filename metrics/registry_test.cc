#include "metrics/registry.h"

#include "gtest/gtest.h"

namespace jobqueue::metrics {
namespace {

TEST(RegistryTest, RendersFamiliesInTheOrderAddedAfterRunningHooks) {
  Registry registry;
  Family<Counter>* rpcs =
      registry.AddCounter("rpcs_total", "RPCs served.", {"code"});
  Family<Gauge>* idle = registry.AddGauge("idle", "Idle connections.");
  int scrapes = 0;
  registry.AddScrapeHook([&] { idle->WithLabels({}).Set(++scrapes); });
  rpcs->WithLabels({"OK"}).Increment();

  EXPECT_EQ(registry.Render(),
            "# HELP rpcs_total RPCs served.\n"
            "# TYPE rpcs_total counter\n"
            "rpcs_total{code=\"OK\"} 1\n"
            "# HELP idle Idle connections.\n"
            "# TYPE idle gauge\n"
            "idle 1\n");
  EXPECT_NE(registry.Render().find("idle 2\n"), std::string::npos);
}

TEST(RegistryTest, HistogramsGetTheirBounds) {
  Registry registry;
  registry.AddHistogram("wait_seconds", "Waits.", {"outcome"}, {0.1})
      ->WithLabels({"jobs"})
      .Observe(0.05);
  EXPECT_EQ(registry.Render(),
            "# HELP wait_seconds Waits.\n"
            "# TYPE wait_seconds histogram\n"
            "wait_seconds_bucket{outcome=\"jobs\",le=\"0.1\"} 1\n"
            "wait_seconds_bucket{outcome=\"jobs\",le=\"+Inf\"} 1\n"
            "wait_seconds_sum{outcome=\"jobs\"} 0.05\n"
            "wait_seconds_count{outcome=\"jobs\"} 1\n");
}

}  // namespace
}  // namespace jobqueue::metrics
