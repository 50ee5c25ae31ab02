#include "metrics/gauge.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace jobqueue::metrics {
namespace {

TEST(GaugeTest, AddsFromManyThreadsWithoutLosingAny) {
  Gauge gauge;
  gauge.Set(10);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        gauge.Add(1);
        gauge.Add(-0.5);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(gauge.value(), 2010);
}

TEST(GaugeTest, WritesItsValue) {
  Gauge gauge;
  gauge.Set(0.25);
  std::string out;
  gauge.AppendSamples("age_seconds", "", &out);
  EXPECT_EQ(out, "age_seconds 0.25\n");
}

}  // namespace
}  // namespace jobqueue::metrics
