#include "metrics/counter.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace jobqueue::metrics {
namespace {

TEST(CounterTest, CountsEveryIncrementFromManyThreads) {
  Counter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) counter.Increment();
    });
  }
  for (std::thread& t : threads) t.join();
  counter.Increment(5);
  EXPECT_EQ(counter.value(), 80005u);
}

TEST(CounterTest, WritesAnIntegerSample) {
  Counter counter;
  counter.Increment(12345678901);
  std::string out;
  counter.AppendSamples("bytes_total", "dir=\"in\"", &out);
  EXPECT_EQ(out, "bytes_total{dir=\"in\"} 12345678901\n");
}

}  // namespace
}  // namespace jobqueue::metrics
