// A metric family: one name, HELP text and type, and a metric per distinct
// set of label values, created at first use. Looking up an existing metric
// takes a reader lock for one map search; the metric itself is lock-free,
// so callers on a hot path may also keep the returned reference.
//
//   Family<Counter> rpcs("rpcs_total", "RPCs.", {"method", "code"},
//                        [] { return std::make_unique<Counter>(); });
//   rpcs.WithLabels({"GetJob", "OK"}).Increment();

#ifndef JOBQUEUE_METRICS_FAMILY_H_
#define JOBQUEUE_METRICS_FAMILY_H_

#include <algorithm>
#include <cassert>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "metrics/text_format.h"

namespace jobqueue::metrics {

// What a Registry needs of a family of any metric type.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  // Appends the HELP and TYPE lines and every metric's samples, ordered by
  // label values.
  virtual void AppendText(std::string* out) const = 0;
};

// `Metric` has a static kType and AppendSamples(name, label_pairs, out).
template <typename Metric>
class Family final : public FamilyBase {
 public:
  // A family without labels has its one metric from the start, so it is
  // written (e.g. as 0) before anything is recorded.
  Family(std::string name, std::string help,
         std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {
    if (label_names_.empty()) WithLabels({});
  }

  // The metric with these label values, one per label name in order. The
  // reference is valid as long as the family.
  Metric& WithLabels(absl::Span<const absl::string_view> values)
      ABSL_LOCKS_EXCLUDED(mu_) {
    assert(values.size() == label_names_.size());
    {
      absl::ReaderMutexLock lock(&mu_);
      auto it = metrics_.find(values);
      if (it != metrics_.end()) return *it->second;
    }
    absl::MutexLock lock(&mu_);
    auto it = metrics_.find(values);
    if (it == metrics_.end()) {
      it = metrics_
               .emplace(std::vector<std::string>(values.begin(), values.end()),
                        make_())
               .first;
    }
    return *it->second;
  }

  void AppendText(std::string* out) const override ABSL_LOCKS_EXCLUDED(mu_) {
    AppendHeader(name_, help_, Metric::kType, out);
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& [values, metric] : metrics_) {
      metric->AppendSamples(name_, LabelPairs(label_names_, values), out);
    }
  }

 private:
  // Orders label value lists, and lets a list of string_views find one.
  struct ValuesLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return std::lexicographical_compare(
          a.begin(), a.end(), b.begin(), b.end(),
          [](absl::string_view x, absl::string_view y) { return x < y; });
    }
  };

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>, ValuesLess>
      metrics_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jobqueue::metrics

#endif  // JOBQUEUE_METRICS_FAMILY_H_
