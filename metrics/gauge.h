// A Prometheus gauge: a value that goes up and down, set by its owner
// (e.g. at scrape time) or adjusted with Add. Lock-free.
//
//   Gauge idle;
//   idle.Set(3);

#ifndef JOBQUEUE_METRICS_GAUGE_H_
#define JOBQUEUE_METRICS_GAUGE_H_

#include <atomic>
#include <string>

#include "absl/strings/string_view.h"

namespace jobqueue::metrics {

class Gauge {
 public:
  static constexpr char kType[] = "gauge";

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  double value() const { return value_.load(std::memory_order_relaxed); }

  // Appends the sample line "name{label_pairs} value".
  void AppendSamples(absl::string_view name, absl::string_view label_pairs,
                     std::string* out) const;

 private:
  std::atomic<double> value_{0};
};

}  // namespace jobqueue::metrics

#endif  // JOBQUEUE_METRICS_GAUGE_H_
