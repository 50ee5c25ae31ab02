#include "shim/spool/backoff.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "gtest/gtest.h"

namespace jobqueue::shim {
namespace {

TEST(ExponentialBackoffTest, DoublesUpToTheBoundWithJitter) {
  ExponentialBackoff backoff(absl::Milliseconds(100), absl::Seconds(1));
  absl::Duration bound = absl::Milliseconds(100);
  for (int failure = 0; failure < 10; ++failure) {
    const absl::Duration wait = backoff.Next();
    EXPECT_GE(wait, bound / 2) << "failure " << failure;
    EXPECT_LE(wait, bound) << "failure " << failure;
    bound = std::min(absl::Seconds(1), bound * 2);
  }
}

TEST(ExponentialBackoffTest, NeverWaitsLongerThanTheMaximum) {
  ExponentialBackoff backoff(absl::Milliseconds(100), absl::Seconds(1));
  for (int failure = 0; failure < 100; ++failure) {
    EXPECT_LE(backoff.Next(), absl::Seconds(1));
  }
}

TEST(ExponentialBackoffTest, ResetStartsOver) {
  ExponentialBackoff backoff(absl::Milliseconds(100), absl::Seconds(10));
  for (int failure = 0; failure < 6; ++failure) backoff.Next();
  backoff.Reset();
  EXPECT_LE(backoff.Next(), absl::Milliseconds(100));
}

TEST(ExponentialBackoffTest, WaitsAreJittered) {
  std::set<int64_t> waits;
  for (int i = 0; i < 20; ++i) {
    ExponentialBackoff backoff(absl::Seconds(1), absl::Seconds(1));
    waits.insert(absl::ToInt64Microseconds(backoff.Next()));
  }
  EXPECT_GT(waits.size(), 10u);
}

}  // namespace
}  // namespace jobqueue::shim
