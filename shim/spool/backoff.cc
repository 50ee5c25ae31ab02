#include "shim/spool/backoff.h"

#include <algorithm>

namespace jobqueue::shim {

ExponentialBackoff::ExponentialBackoff(absl::Duration initial,
                                       absl::Duration max)
    : initial_(initial), max_(std::max(initial, max)), bound_(initial) {}

absl::Duration ExponentialBackoff::Next() {
  const absl::Duration bound = bound_;
  bound_ = std::min(max_, bound_ * 2);
  const double fraction = absl::Uniform(random_, 0.5, 1.0);
  return bound * fraction;
}

void ExponentialBackoff::Reset() { bound_ = initial_; }

}  // namespace jobqueue::shim
