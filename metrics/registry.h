// The metric families of a process, written out in Prometheus' text format
// for a /metrics endpoint. Families are added at start-up and live as long
// as the registry; recording into them never touches the registry's lock.
//
//   Registry registry;
//   Family<Counter>* rpcs = registry.AddCounter("rpcs_total", "RPCs.",
//   {"code"}); rpcs->WithLabels({"OK"}).Increment(); std::string text =
//   registry.Render();

#ifndef JOBQUEUE_METRICS_REGISTRY_H_
#define JOBQUEUE_METRICS_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "metrics/counter.h"
#include "metrics/family.h"
#include "metrics/gauge.h"
#include "metrics/histogram.h"

namespace jobqueue::metrics {

// The content type of Render()'s text.
inline constexpr char kTextContentType[] = "text/plain; version=0.0.4";

class Registry {
 public:
  // Names must be valid Prometheus names and unique within the registry.
  Family<Counter>* AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>* AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  // `bounds` as for Histogram.
  Family<Histogram>* AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  std::vector<double> bounds);

  // `hook` runs at the start of every Render, e.g. to set gauges sampled
  // at scrape time. Hooks of concurrent Renders never overlap.
  void AddScrapeHook(std::function<void()> hook);

  // Runs the hooks, then writes every family in the order added.
  std::string Render() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  template <typename Metric>
  Family<Metric>* Add(std::unique_ptr<Family<Metric>> family);

  absl::Mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> hooks_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jobqueue::metrics

#endif  // JOBQUEUE_METRICS_REGISTRY_H_
