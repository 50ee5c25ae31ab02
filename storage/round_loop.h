// Runs a round of background work on a thread of its own: at once, then
// every `interval`, and again at once after a round that says more is
// waiting. Stop() waits for a round in progress, then returns.
//
//   RoundLoop loop(absl::Seconds(1), [&] { return DoOneRound(); });
//   ...
//   loop.Stop();

#ifndef JOBQUEUE_STORAGE_ROUND_LOOP_H_
#define JOBQUEUE_STORAGE_ROUND_LOOP_H_

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace jobqueue {

class RoundLoop {
 public:
  // One round; true when more work waits, so the next runs at once.
  using Round = std::function<bool()>;

  // Starts at once.
  RoundLoop(absl::Duration interval, Round round);
  // Calls Stop().
  ~RoundLoop();

  // Idempotent.
  void Stop();

 private:
  const absl::Duration interval_;
  const Round round_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_ROUND_LOOP_H_
