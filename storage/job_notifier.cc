#include "storage/job_notifier.h"

#include <algorithm>
#include <functional>
#include <pqxx/pqxx>
#include <utility>

namespace jobqueue {
namespace {

constexpr char kChannel[] = "jobqueue_jobs_changed";

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::function<void()> on_notify)
      : pqxx::notification_receiver(c, kChannel),
        on_notify_(std::move(on_notify)) {}
  void operator()(const std::string&, int) override { on_notify_(); }

 private:
  std::function<void()> on_notify_;
};

}  // namespace

JobNotifier::JobNotifier(std::string database_url)
    : polling_(database_url.empty()),
      state_(std::make_shared<State>(std::move(database_url))) {
  if (!polling_) thread_ = std::thread([state = state_] { Run(state); });
}

JobNotifier::~JobNotifier() { Close(); }

void JobNotifier::StartClose() {
  {
    absl::MutexLock lock(&state_->mu);
    state_->closed = true;
  }
  state_->watch.FireAll();
}

void JobNotifier::Close() {
  StartClose();
  if (!thread_.joinable()) return;
  bool ended;
  {
    absl::MutexLock lock(&state_->mu);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
      return state_->ended;
    };
    ended = state_->mu.AwaitWithTimeout(absl::Condition(&done),
                                        absl::Milliseconds(500));
  }
  if (ended) {
    thread_.join();
  } else {
    thread_.detach();
  }
}

uint64_t JobNotifier::generation() {
  absl::MutexLock lock(&state_->mu);
  return state_->generation;
}

bool JobNotifier::WaitForChange(uint64_t seen, absl::Time deadline) {
  return WaitForChange(seen, deadline, nullptr);
}

bool JobNotifier::WaitForChange(uint64_t seen, absl::Time deadline,
                                const std::atomic<bool>* stop) {
  State& s = *state_;
  absl::MutexLock lock(&s.mu);
  auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) -> bool {
    return s.closed || s.generation != seen ||
           (stop != nullptr && stop->load());
  };
  s.mu.AwaitWithDeadline(absl::Condition(&changed), deadline);
  return !s.closed && s.generation != seen;
}

void JobNotifier::WakeWaiters() {
  // Releasing the mutex has absl evaluate the waiters' conditions.
  absl::MutexLock lock(&state_->mu);
}

bool JobNotifier::closed() {
  absl::MutexLock lock(&state_->mu);
  return state_->closed;
}

void JobNotifier::Bump(State& state) {
  absl::MutexLock lock(&state.mu);
  ++state.generation;
}

void JobNotifier::Run(std::shared_ptr<State> state) {
  absl::Duration backoff = absl::Milliseconds(100);
  auto closed = [&state] {
    absl::MutexLock lock(&state->mu);
    return state->closed;
  };
  while (!closed()) {
    try {
      pqxx::connection c(state->url);
      // Close() cuts the socket off, whatever the database does.
      const DeadlineWatch::Guard guard =
          state->watch.Watch(c.sock(), absl::InfiniteFuture());
      if (closed()) break;
      Receiver receiver(c, [&state] { Bump(*state); });
      // Anything may have changed while not listening.
      Bump(*state);
      backoff = absl::Milliseconds(100);
      // Waits on the socket; the timeout only bounds how late Close() is
      // noticed.
      while (!closed()) c.await_notification(0, 200 * 1000);
    } catch (const std::exception&) {
      Bump(*state);
      if (closed()) break;
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
  }
  Bump(*state);
  absl::MutexLock lock(&state->mu);
  state->ended = true;
}

}  // namespace jobqueue
