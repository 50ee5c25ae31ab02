// A Prometheus histogram: counts observations into buckets with fixed upper
// bounds and keeps their sum. Observe is a binary search and two relaxed
// atomic updates, with no lock. A scrape running alongside Observe may see
// the sum and the buckets one observation apart.
//
//   Histogram latency({0.001, 0.01, 0.1, 1});
//   latency.Observe(0.004);

#ifndef JOBQUEUE_METRICS_HISTOGRAM_H_
#define JOBQUEUE_METRICS_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace jobqueue::metrics {

class Histogram {
 public:
  static constexpr char kType[] = "histogram";

  // `bounds`: the buckets' upper bounds (inclusive), strictly ascending; a
  // +Inf bucket follows them.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  // Appends the cumulative name_bucket{...,le="..."} lines, then name_sum
  // and name_count.
  void AppendSamples(absl::string_view name, absl::string_view label_pairs,
                     std::string* out) const;

 private:
  const std::vector<double> bounds_;
  // Per bucket, not cumulative; the last one is +Inf.
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

}  // namespace jobqueue::metrics

#endif  // JOBQUEUE_METRICS_HISTOGRAM_H_
