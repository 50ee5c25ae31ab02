#include "tests/time_budget.h"

#include <cstdlib>

#include "absl/strings/numbers.h"

namespace jobqueue {
namespace {

// The build's slowdown of what tests wait for, rounded up. Medians from
// //tests:time_budget_probe on the 2-core VM this was written on (load 8 to
// 15 from other builds), plain / ASan / TSan:
//   gRPC EnqueueJob round trip   1.5-8.7 / 4.4-6.5 / 4.6-11 ms (TSan ~4x idle)
//   PostgreSQL connect           5.2-30  / 13-27   / 10-25 ms
//   PostgreSQL SELECT 1          0.03-0.1 / 0.03-0.1 / 0.04-0.5 ms
//   condition variable hand-off  0.02 / 0.08 / 0.17 ms
//   thread start, 64 alive       0.03 / 0.1-0.9 / 4.3-9.8 ms
// A test never waits on thread start speed (TSan's is 150-300 times
// slower); budgets cover round trips, statements and restarts.
#if defined(JOBQUEUE_TSAN)
constexpr double kBuildScale = 5;
#elif defined(__SANITIZE_ADDRESS__)
constexpr double kBuildScale = 2;
#else
constexpr double kBuildScale = 1;
#endif

}  // namespace

double TimeScale() {
  const char* env = std::getenv("JOBQUEUE_TIME_SCALE");
  double scale = 0;
  if (env != nullptr && absl::SimpleAtod(env, &scale) && scale >= 1) {
    return scale;
  }
  return kBuildScale;
}

absl::Duration TimeBudget(absl::Duration plain) { return plain * TimeScale(); }

}  // namespace jobqueue
