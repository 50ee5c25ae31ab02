#include "tests/support/time_budget.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(TimeBudgetTest, TheEnvironmentOverridesTheBuildsFactor) {
  ASSERT_EQ(setenv("JOBQUEUE_TIME_SCALE", "4", 1), 0);
  EXPECT_EQ(TimeBudget(absl::Milliseconds(250)), absl::Seconds(1));
  ASSERT_EQ(setenv("JOBQUEUE_TIME_SCALE", "2.5", 1), 0);
  EXPECT_EQ(TimeBudget(absl::Seconds(2)), absl::Seconds(5));
}

TEST(TimeBudgetTest, ANonsenseFactorIsIgnored) {
  ASSERT_EQ(unsetenv("JOBQUEUE_TIME_SCALE"), 0);
  const double build = TimeScale();
  EXPECT_GE(build, 1);
  for (const char* bad : {"", "fast", "0.5", "-3"}) {
    ASSERT_EQ(setenv("JOBQUEUE_TIME_SCALE", bad, 1), 0);
    EXPECT_EQ(TimeScale(), build) << bad;
  }
}

TEST(TimeBudgetTest, ASanitizedBuildGetsMoreTime) {
  ASSERT_EQ(unsetenv("JOBQUEUE_TIME_SCALE"), 0);
#if defined(JOBQUEUE_TSAN) || defined(__SANITIZE_ADDRESS__)
  EXPECT_GT(TimeScale(), 1);
#else
  EXPECT_EQ(TimeScale(), 1);
#endif
}

}  // namespace
}  // namespace jobqueue
