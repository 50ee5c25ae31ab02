// Latencies and errors of a load run, printed as one result line:
//
//   result <head> ops=N seconds=S ops_per_sec=R p50_ms=A p99_ms=B errors=E

#ifndef JOBQUEUE_BENCH_RECORDER_H_
#define JOBQUEUE_BENCH_RECORDER_H_

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobqueue::bench {

class Recorder {
 public:
  // A completed call: its latency when it succeeded, else an error. A call
  // may count as several operations (e.g. a batch of jobs).
  void Add(absl::Duration latency, bool ok, int ops = 1) {
    absl::MutexLock lock(&mu_);
    if (ok) {
      latencies_.push_back(latency);
      ops_ += ops;
    } else {
      ++errors_;
    }
  }

  // The p-th latency in milliseconds (p in [0, 1]); 0 when none.
  double Percentile(double p) {
    absl::MutexLock lock(&mu_);
    std::sort(latencies_.begin(), latencies_.end());
    if (latencies_.empty()) return 0.0;
    const size_t i = std::min(latencies_.size() - 1,
                              static_cast<size_t>(p * latencies_.size()));
    return absl::ToDoubleMilliseconds(latencies_[i]);
  }

  void Print(const std::string& head, absl::Duration elapsed) {
    const double p50 = Percentile(0.50), p99 = Percentile(0.99);
    absl::MutexLock lock(&mu_);
    std::printf(
        "result %s ops=%zu seconds=%.2f ops_per_sec=%.1f p50_ms=%.3f "
        "p99_ms=%.3f errors=%d\n",
        head.c_str(), ops_, absl::ToDoubleSeconds(elapsed),
        ops_ / absl::ToDoubleSeconds(elapsed), p50, p99, errors_);
    std::fflush(stdout);
  }

 private:
  absl::Mutex mu_;
  std::vector<absl::Duration> latencies_;
  size_t ops_ = 0;
  int errors_ = 0;
};

}  // namespace jobqueue::bench

#endif  // JOBQUEUE_BENCH_RECORDER_H_
