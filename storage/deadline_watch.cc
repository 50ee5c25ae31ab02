#include "storage/deadline_watch.h"

#include <sys/socket.h>

#include <utility>

namespace jobqueue {

DeadlineWatch::Guard::Guard(Guard&& other) noexcept
    : watch_(std::exchange(other.watch_, nullptr)),
      id_(other.id_),
      fired_(std::move(other.fired_)) {}

DeadlineWatch::Guard& DeadlineWatch::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    Release();
    watch_ = std::exchange(other.watch_, nullptr);
    id_ = other.id_;
    fired_ = std::move(other.fired_);
  }
  return *this;
}

DeadlineWatch::Guard::~Guard() { Release(); }

void DeadlineWatch::Guard::Release() {
  if (watch_ != nullptr) watch_->Forget(id_);
  watch_ = nullptr;
}

DeadlineWatch::DeadlineWatch() : thread_([this] { Run(); }) {}

DeadlineWatch::~DeadlineWatch() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    changed_.Signal();
  }
  thread_.join();
}

DeadlineWatch::Guard DeadlineWatch::Watch(int fd, absl::Time deadline) {
  auto fired = std::make_shared<std::atomic<bool>>(false);
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  entries_.emplace(id, Entry{fd, deadline, fired});
  changed_.Signal();
  return Guard(this, id, std::move(fired));
}

void DeadlineWatch::FireAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [id, entry] : entries_) Fire(entry);
  entries_.clear();
}

void DeadlineWatch::Forget(uint64_t id) {
  absl::MutexLock lock(&mu_);
  entries_.erase(id);
}

void DeadlineWatch::Fire(Entry& entry) {
  // Marked first, so that the thread the shutdown wakes sees why. Wakes a
  // read blocked on the socket in another thread; the connection is
  // unusable from here on and its owner discards it.
  *entry.fired = true;
  ::shutdown(entry.fd, SHUT_RDWR);
}

void DeadlineWatch::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time next = absl::InfiniteFuture();
    const absl::Time now = absl::Now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.deadline <= now) {
        Fire(it->second);
        it = entries_.erase(it);
      } else {
        next = std::min(next, it->second.deadline);
        ++it;
      }
    }
    changed_.WaitWithDeadline(&mu_, next);
  }
}

}  // namespace jobqueue
