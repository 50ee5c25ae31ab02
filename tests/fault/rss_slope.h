// How fast a process's resident memory grows once it has warmed up: the
// least-squares slope of its VmRSS samples taken after a warm-up, in KiB per
// minute. The soak samples each server every second and fails past a bound,
// since a leak of still-referenced memory (a container that only grows)
// shows here and not under LeakSanitizer.
//
//   RssSeries series;
//   series.Add(absl::Seconds(1), 28400);  // time since the process started
//   ...
//   std::optional<double> slope = series.SlopeKibPerMinute(absl::Minutes(5));

#ifndef JOBQUEUE_TESTS_FAULT_RSS_SLOPE_H_
#define JOBQUEUE_TESTS_FAULT_RSS_SLOPE_H_

#include <optional>
#include <vector>

#include "absl/time/time.h"

namespace jobqueue::fault {

class RssSeries {
 public:
  // One sample: `age` since the process's first sample, its VmRSS in KiB.
  // Samples come in order of age.
  void Add(absl::Duration age, long rss_kib);

  // The slope of the samples at or past `warmup`, or nullopt when they
  // span less than kMinimumSpan (too few to say anything).
  std::optional<double> SlopeKibPerMinute(absl::Duration warmup) const;

  // How long past the warm-up the samples must reach for a slope.
  static constexpr absl::Duration kMinimumSpan = absl::Seconds(30);

  // The last sample's age (zero when none).
  absl::Duration age() const;

 private:
  struct Sample {
    double seconds;
    double rss_kib;
  };
  std::vector<Sample> samples_;
};

}  // namespace jobqueue::fault

#endif  // JOBQUEUE_TESTS_FAULT_RSS_SLOPE_H_
