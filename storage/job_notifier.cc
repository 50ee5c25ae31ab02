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
    : url_(std::move(database_url)) {
  thread_ = std::thread([this] { Run(); });
}

JobNotifier::~JobNotifier() { Close(); }

void JobNotifier::StartClose() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  watch_.FireAll();
}

void JobNotifier::Close() {
  StartClose();
  if (thread_.joinable()) thread_.join();
}

uint64_t JobNotifier::generation() {
  absl::MutexLock lock(&mu_);
  return generation_;
}

bool JobNotifier::WaitForChange(uint64_t seen, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> bool {
    return closed_ || generation_ != seen;
  };
  mu_.AwaitWithDeadline(absl::Condition(&changed), deadline);
  return !closed_ && generation_ != seen;
}

void JobNotifier::Bump() {
  absl::MutexLock lock(&mu_);
  ++generation_;
}

void JobNotifier::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  auto closed = [this] {
    absl::MutexLock lock(&mu_);
    return closed_;
  };
  while (!closed()) {
    try {
      pqxx::connection c(url_);
      // Close() cuts the socket off, whatever the database does.
      const DeadlineWatch::Guard guard =
          watch_.Watch(c.sock(), absl::InfiniteFuture());
      if (closed()) break;
      Receiver receiver(c, [this] { Bump(); });
      // Anything may have changed while not listening.
      Bump();
      backoff = absl::Milliseconds(100);
      // Waits on the socket; the timeout only bounds how late Close() is
      // noticed.
      while (!closed()) c.await_notification(0, 200 * 1000);
    } catch (const std::exception&) {
      Bump();
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
  }
  Bump();
}

}  // namespace jobqueue
