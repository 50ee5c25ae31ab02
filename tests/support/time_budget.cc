#include "tests/support/time_budget.h"

#include <cstdlib>

#include "absl/strings/numbers.h"

namespace jobqueue {
namespace {

// The build's slowdown of what tests wait for: the worst ratio to a plain
// build of a gRPC round trip's median and p99, rounded up. Measured with
// //tests/support:time_budget_probe on a shared 2-core VM, median (p99) in ms,
// plain / ASan / TSan:
//   load 6:   gRPC EnqueueJob   0.75-0.95 (1.8-7.5) / 0.96-2.2 (5.0-15)
//                               / 1.5-1.6 (7.9-13)
//             PostgreSQL connect 2.9-6.1 / 5.5-8.5 / 2.8-5.2
//             CondVar hand-off  0.03-0.04 / 0.11-0.12 / 0.24
//             thread start (64 threads alive)  0.04 / 0.13-0.19 / 1.0-1.5
//   load 15:  gRPC EnqueueJob   4.9-8.7 / 4.4-6.5 / 4.6-11
//             thread start (64 threads alive)  0.03 / 0.11-0.13 / 5.7-9.8
// Under TSan a thread start costs 25 to 300 times more, growing with load:
// no test may wait on that, only on round trips, statements and restarts.
#if defined(JOBQUEUE_TSAN)
constexpr double kBuildScale = 5;
#elif defined(__SANITIZE_ADDRESS__)
constexpr double kBuildScale = 3;
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
