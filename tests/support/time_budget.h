// Time budgets for tests, scaled for the build they run in.
//
// A test that waits for something (a thread to start, a gRPC call, a
// PostgreSQL statement, a restart) states how long that needs on a plain
// build and waits TimeBudget() of it: as long on a plain build, longer under
// AddressSanitizer and ThreadSanitizer, which slow those operations down
// (time_budget.cc has the measured figures). A slow machine can scale every
// budget further: bazel test --test_env=JOBQUEUE_TIME_SCALE=3 ... replaces
// the build's factor.
//
//   EXPECT_LT(absl::Now() - start, TimeBudget(absl::Seconds(2)));

#ifndef JOBQUEUE_TESTS_SUPPORT_TIME_BUDGET_H_
#define JOBQUEUE_TESTS_SUPPORT_TIME_BUDGET_H_

#include "absl/time/time.h"

namespace jobqueue {

// `plain` times this build's factor.
absl::Duration TimeBudget(absl::Duration plain);

// The factor: $JOBQUEUE_TIME_SCALE when it is a number >= 1, else the
// build's own (1 for a plain build).
double TimeScale();

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_TIME_BUDGET_H_
