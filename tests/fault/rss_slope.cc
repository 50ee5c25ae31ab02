#include "tests/fault/rss_slope.h"

namespace jobqueue::fault {

void RssSeries::Add(absl::Duration age, long rss_kib) {
  samples_.push_back(
      {absl::ToDoubleSeconds(age), static_cast<double>(rss_kib)});
}

absl::Duration RssSeries::age() const {
  return samples_.empty() ? absl::ZeroDuration()
                          : absl::Seconds(samples_.back().seconds);
}

std::optional<double> RssSeries::SlopeKibPerMinute(
    absl::Duration warmup) const {
  const double from = absl::ToDoubleSeconds(warmup);
  double n = 0, sum_t = 0, sum_r = 0, first = 0, last = 0;
  for (const Sample& s : samples_) {
    if (s.seconds < from) continue;
    if (n == 0) first = s.seconds;
    last = s.seconds;
    ++n;
    sum_t += s.seconds;
    sum_r += s.rss_kib;
  }
  if (n < 2 || last - first < absl::ToDoubleSeconds(kMinimumSpan)) {
    return std::nullopt;
  }
  const double mean_t = sum_t / n, mean_r = sum_r / n;
  double tt = 0, tr = 0;
  for (const Sample& s : samples_) {
    if (s.seconds < from) continue;
    tt += (s.seconds - mean_t) * (s.seconds - mean_t);
    tr += (s.seconds - mean_t) * (s.rss_kib - mean_r);
  }
  return tr / tt * 60;
}

}  // namespace jobqueue::fault
