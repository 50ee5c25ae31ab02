#include "metrics/histogram.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace jobqueue::metrics {
namespace {

TEST(HistogramTest, WritesCumulativeBucketsSumAndCount) {
  Histogram histogram({0.5, 1});
  for (double v : {0.25, 0.5, 0.75, 3.0}) histogram.Observe(v);
  std::string out;
  histogram.AppendSamples("rpc_seconds", "method=\"Get\"", &out);
  EXPECT_EQ(out,
            "rpc_seconds_bucket{method=\"Get\",le=\"0.5\"} 2\n"
            "rpc_seconds_bucket{method=\"Get\",le=\"1\"} 3\n"
            "rpc_seconds_bucket{method=\"Get\",le=\"+Inf\"} 4\n"
            "rpc_seconds_sum{method=\"Get\"} 4.5\n"
            "rpc_seconds_count{method=\"Get\"} 4\n");
}

TEST(HistogramTest, WithoutLabelsTheBucketHasOnlyLe) {
  Histogram histogram({1});
  std::string out;
  histogram.AppendSamples("batch", "", &out);
  EXPECT_EQ(out,
            "batch_bucket{le=\"1\"} 0\n"
            "batch_bucket{le=\"+Inf\"} 0\n"
            "batch_sum 0\n"
            "batch_count 0\n");
}

TEST(HistogramTest, KeepsEveryObservationFromManyThreads) {
  Histogram histogram({1, 2});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) histogram.Observe(2);
    });
  }
  for (std::thread& t : threads) t.join();
  std::string out;
  histogram.AppendSamples("h", "", &out);
  EXPECT_EQ(out,
            "h_bucket{le=\"1\"} 0\n"
            "h_bucket{le=\"2\"} 20000\n"
            "h_bucket{le=\"+Inf\"} 20000\n"
            "h_sum 40000\n"
            "h_count 20000\n");
}

}  // namespace
}  // namespace jobqueue::metrics
