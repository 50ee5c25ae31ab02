#include "metrics/gauge.h"

#include "metrics/text_format.h"

namespace jobqueue::metrics {

void Gauge::Add(double delta) {
  double old = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(old, old + delta,
                                       std::memory_order_relaxed)) {
  }
}

void Gauge::AppendSamples(absl::string_view name, absl::string_view label_pairs,
                          std::string* out) const {
  AppendSample(name, label_pairs, FormatValue(value()), out);
}

}  // namespace jobqueue::metrics
