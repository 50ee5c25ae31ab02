// A Prometheus counter: a count that only goes up. Increment is one relaxed
// atomic add, so it is cheap on any thread.
//
//   Counter requests;
//   requests.Increment();

#ifndef JOBQUEUE_METRICS_COUNTER_H_
#define JOBQUEUE_METRICS_COUNTER_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace jobqueue::metrics {

class Counter {
 public:
  static constexpr char kType[] = "counter";

  void Increment(uint64_t by = 1) {
    value_.fetch_add(by, std::memory_order_relaxed);
  }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

  // Appends the sample line "name{label_pairs} value".
  void AppendSamples(absl::string_view name, absl::string_view label_pairs,
                     std::string* out) const;

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace jobqueue::metrics

#endif  // JOBQUEUE_METRICS_COUNTER_H_
