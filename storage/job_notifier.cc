#include "storage/job_notifier.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <utility>

#include "absl/strings/str_cat.h"

namespace jobqueue {
namespace {

constexpr char kChannel[] = "jobqueue_jobs_changed";
// The shortest time between two announcements sent to other processes.
constexpr absl::Duration kPace = absl::Milliseconds(10);

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, std::function<void(int)> on_notify)
      : pqxx::notification_receiver(c, kChannel),
        on_notify_(std::move(on_notify)) {}
  void operator()(const std::string&, int backend_pid) override {
    on_notify_(backend_pid);
  }

 private:
  std::function<void(int)> on_notify_;
};

}  // namespace

JobNotifier::JobNotifier(std::string database_url, std::string announce_url)
    : polling_(database_url.empty()),
      state_(std::make_shared<State>(
          database_url, announce_url.empty() ? database_url : announce_url)) {
  if (!polling_) thread_ = std::thread([state = state_] { Run(state); });
  if (!state_->announce_url.empty()) {
    announcer_ = std::thread([state = state_] { RunAnnouncer(state); });
  }
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
  bool ended, announcer_ended;
  {
    absl::MutexLock lock(&state_->mu);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
      return (state_->ended || !thread_.joinable()) &&
             (state_->announcer_ended || !announcer_.joinable());
    };
    state_->mu.AwaitWithTimeout(absl::Condition(&done),
                                absl::Milliseconds(500));
    ended = state_->ended;
    announcer_ended = state_->announcer_ended;
  }
  if (thread_.joinable()) ended ? thread_.join() : thread_.detach();
  if (announcer_.joinable()) {
    announcer_ended ? announcer_.join() : announcer_.detach();
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

void JobNotifier::Announce() {
  absl::MutexLock lock(&state_->mu);
  ++state_->generation;
  state_->announce = !state_->announce_url.empty();
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
      Receiver receiver(c, [&state](int backend_pid) {
        absl::MutexLock lock(&state->mu);
        if (backend_pid != state->announcer_pid) ++state->generation;
      });
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

void JobNotifier::RunAnnouncer(std::shared_ptr<State> state) {
  absl::Duration backoff = absl::Milliseconds(100);
  std::unique_ptr<pqxx::connection> c;
  DeadlineWatch::Guard guard;
  auto closed = [&state]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
    return state->closed;
  };
  while (true) {
    {
      absl::MutexLock lock(&state->mu);
      auto due = [&state]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
        return state->closed || state->announce;
      };
      state->mu.Await(absl::Condition(&due));
      if (state->closed) break;
      state->announce = false;
    }
    try {
      if (c == nullptr) {
        c = std::make_unique<pqxx::connection>(state->announce_url);
        // Close() cuts the socket off, whatever the database does.
        guard = state->watch.Watch(c->sock(), absl::InfiniteFuture());
        // A notification needs no durability (a lost one costs a waiting
        // claim its recheck): its commit does not wait for a disk flush
        // beside the writers'.
        pqxx::nontransaction setup(*c);
        setup.exec0("SET synchronous_commit = off");
        setup.commit();
        absl::MutexLock lock(&state->mu);
        state->announcer_pid = c->backendpid();
      }
      {
        pqxx::nontransaction txn(*c);
        txn.exec0(absl::StrCat("NOTIFY ", kChannel));
      }
      backoff = absl::Milliseconds(100);
      // At most one notification per kPace: under load many batches
      // commit in that time, and all of them are announced by the next.
      absl::MutexLock lock(&state->mu);
      state->mu.AwaitWithTimeout(absl::Condition(&closed), kPace);
    } catch (const std::exception&) {
      guard = DeadlineWatch::Guard();
      c.reset();
      absl::MutexLock lock(&state->mu);
      state->announcer_pid = 0;
      state->announce = true;  // sent once the database answers again
      state->mu.AwaitWithTimeout(absl::Condition(&closed), backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
  }
  guard = DeadlineWatch::Guard();
  c.reset();
  absl::MutexLock lock(&state->mu);
  state->announcer_ended = true;
}

}  // namespace jobqueue
