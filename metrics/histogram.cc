#include "metrics/histogram.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "absl/strings/str_cat.h"
#include "metrics/text_format.h"

namespace jobqueue::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double value) {
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  double old = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(old, old + value,
                                     std::memory_order_relaxed)) {
  }
}

void Histogram::AppendSamples(absl::string_view name,
                              absl::string_view label_pairs,
                              std::string* out) const {
  const std::string bucket_name = absl::StrCat(name, "_bucket");
  const absl::string_view comma = label_pairs.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    const std::string le =
        i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
    AppendSample(bucket_name,
                 absl::StrCat(label_pairs, comma, "le=\"", le, "\""),
                 absl::StrCat(cumulative), out);
  }
  AppendSample(absl::StrCat(name, "_sum"), label_pairs,
               FormatValue(sum_.load(std::memory_order_relaxed)), out);
  AppendSample(absl::StrCat(name, "_count"), label_pairs,
               absl::StrCat(cumulative), out);
}

}  // namespace jobqueue::metrics
