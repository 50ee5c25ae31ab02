#include "storage/round_loop.h"

#include <utility>

namespace jobqueue {

RoundLoop::RoundLoop(absl::Duration interval, Round round)
    : interval_(interval), round_(std::move(round)) {
  thread_ = std::thread([this] {
    while (!stop_.HasBeenNotified()) {
      if (round_()) continue;
      stop_.WaitForNotificationWithTimeout(interval_);
    }
  });
}

RoundLoop::~RoundLoop() { Stop(); }

void RoundLoop::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

}  // namespace jobqueue
