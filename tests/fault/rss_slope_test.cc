#include "tests/fault/rss_slope.h"

#include "gtest/gtest.h"

namespace jobqueue::fault {
namespace {

TEST(RssSeriesTest, SteadyGrowthIsItsRatePerMinute) {
  RssSeries series;
  for (int s = 0; s <= 120; ++s) series.Add(absl::Seconds(s), 30000 + 2 * s);
  ASSERT_TRUE(series.SlopeKibPerMinute(absl::ZeroDuration()).has_value());
  EXPECT_NEAR(*series.SlopeKibPerMinute(absl::ZeroDuration()), 120, 1e-9);
}

TEST(RssSeriesTest, GrowthDuringWarmUpDoesNotCount) {
  RssSeries series;
  for (int s = 0; s < 60; ++s) series.Add(absl::Seconds(s), 20000 + 100 * s);
  for (int s = 60; s <= 180; ++s) series.Add(absl::Seconds(s), 26000);
  EXPECT_NEAR(*series.SlopeKibPerMinute(absl::Minutes(1)), 0, 1e-9);
  EXPECT_GT(*series.SlopeKibPerMinute(absl::ZeroDuration()), 1000);
}

TEST(RssSeriesTest, NoiseAroundALevelGivesAFlatSlope) {
  RssSeries series;
  for (int s = 0; s <= 600; ++s) {
    series.Add(absl::Seconds(s), 30000 + (s % 7 == 0 ? 400 : 0));
  }
  EXPECT_NEAR(*series.SlopeKibPerMinute(absl::Minutes(1)), 0, 2);
}

TEST(RssSeriesTest, TooShortAfterWarmUpHasNoSlope) {
  RssSeries series;
  EXPECT_FALSE(series.SlopeKibPerMinute(absl::ZeroDuration()).has_value());
  for (int s = 0; s <= 80; ++s) series.Add(absl::Seconds(s), 30000 + s);
  EXPECT_FALSE(series.SlopeKibPerMinute(absl::Seconds(60)).has_value());
  EXPECT_TRUE(series.SlopeKibPerMinute(absl::Seconds(50)).has_value());
  EXPECT_EQ(series.age(), absl::Seconds(80));
}

}  // namespace
}  // namespace jobqueue::fault
