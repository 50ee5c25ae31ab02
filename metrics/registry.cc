#include "metrics/registry.h"

#include <utility>

namespace jobqueue::metrics {

template <typename Metric>
Family<Metric>* Registry::Add(std::unique_ptr<Family<Metric>> family) {
  Family<Metric>* raw = family.get();
  absl::MutexLock lock(&mu_);
  families_.push_back(std::move(family));
  return raw;
}

Family<Counter>* Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  return Add(std::make_unique<Family<Counter>>(
      std::move(name), std::move(help), std::move(label_names),
      [] { return std::make_unique<Counter>(); }));
}

Family<Gauge>* Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  return Add(std::make_unique<Family<Gauge>>(
      std::move(name), std::move(help), std::move(label_names),
      [] { return std::make_unique<Gauge>(); }));
}

Family<Histogram>* Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> bounds) {
  return Add(std::make_unique<Family<Histogram>>(
      std::move(name), std::move(help), std::move(label_names),
      [bounds = std::move(bounds)] {
        return std::make_unique<Histogram>(bounds);
      }));
}

void Registry::AddScrapeHook(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::Render() {
  absl::MutexLock lock(&mu_);
  for (const std::function<void()>& hook : hooks_) hook();
  std::string out;
  for (const std::unique_ptr<FamilyBase>& family : families_) {
    family->AppendText(&out);
  }
  return out;
}

}  // namespace jobqueue::metrics
