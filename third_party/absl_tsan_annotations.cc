// ThreadSanitizer annotations for Debian's abseil (linked only under
// --config=tsan).
//
// Debian builds libabsl_synchronization without -fsanitize=thread, so
// absl::Mutex, CondVar and Notification synchronise through atomics TSan never
// sees, and every access guarded by them looks like a race. This file defines
// those functions in the test binary itself: the dynamic linker then binds
// every caller (the project, gRPC, abseil's own libraries) to these
// definitions, which tell TSan about the lock or hand-off with its public
// annotation API and call the real function in the shared library (found with
// dlsym(RTLD_NEXT)). The annotations are those abseil emits when it is built
// with TSan: accesses inside the real call (condition evaluation included) are
// ignored, and the lock's happens-before edges are recorded at its ends.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/base/config.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

// The real function `absl::<inline namespace>::<rest>` from the next object in
// the link order (Debian's shared library). `rest` is the Itanium mangling
// after the namespaces, e.g. "5Mutex4LockEv"; `konst` for a const member
// function.
template <typename Fn>
Fn Real(const char* rest, bool konst = false) {
  const std::string ns =
      ABSL_INTERNAL_TOKEN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = std::string(konst ? "_ZNK" : "_ZN") + "4absl" +
                           std::to_string(ns.size()) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "absl_tsan_annotations: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;
constexpr unsigned kTryFailed = __tsan_mutex_try_lock_failed;

// The real functions call one another (WaitWithTimeout calls WaitWithDeadline,
// Notify calls Lock): only the outermost call on a thread is annotated.
thread_local int depth = 0;
struct Outermost {
  const bool yes = depth++ == 0;
  ~Outermost() { --depth; }
};

// A real call that takes `mu` (in `flags` mode); `call` answers whether it did.
// Accesses inside it are ignored; the acquire is recorded when it returns.
template <typename Call>
bool Locking(void* mu, unsigned flags, Call call) {
  Outermost outer;
  if (!outer.yes) return call();
  __tsan_mutex_pre_lock(mu, flags);
  const bool acquired = call();
  __tsan_mutex_post_lock(mu, acquired ? flags : flags | kTryFailed, 0);
  return acquired;
}

// A real call that releases `mu`: the release is recorded before it, and
// accesses inside it (conditions of waiters it evaluates) are ignored.
template <typename Call>
void Unlocking(void* mu, unsigned flags, Call call) {
  Outermost outer;
  if (!outer.yes) return call();
  __tsan_mutex_pre_unlock(mu, flags);
  call();
  __tsan_mutex_post_unlock(mu, flags);
}

// Await and CondVar waits release the (exclusively held) mutex and take it
// again before they return: an unlock before the call and a lock after it, with
// the call's own accesses (condition evaluation) ignored.
template <typename Call>
auto Rewaiting(void* mu, Call call) {
  Outermost outer;
  if (!outer.yes) return call();
  __tsan_mutex_pre_unlock(mu, 0);
  auto result = call();
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
  __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  Locking(this, 0, [&] { return real(this), true; });
}

void Mutex::ReaderLock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  Locking(this, kRead, [&] { return real(this), true; });
}

bool Mutex::TryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  return Locking(this, kTry, [&] { return real(this); });
}

bool Mutex::ReaderTryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  return Locking(this, kRead | kTry, [&] { return real(this); });
}

void Mutex::Unlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  Unlocking(this, 0, [&] { real(this); });
}

void Mutex::ReaderUnlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  Unlocking(this, kRead, [&] { real(this); });
}

void Mutex::LockWhen(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      "5Mutex8LockWhenERKNS0_9ConditionE");
  Locking(this, 0, [&] { return real(this, cond), true; });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Locking(this, kRead, [&] { return real(this, cond), true; });
}

// The *WithTimeout/*WithDeadline lock functions hold the mutex on return
// whatever they answer.
bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool met = false;
  Locking(this, 0, [&] { return met = real(this, cond, timeout), true; });
  return met;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond,
                                      absl::Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  bool met = false;
  Locking(this, kRead, [&] { return met = real(this, cond, timeout), true; });
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool met = false;
  Locking(this, 0, [&] { return met = real(this, cond, deadline), true; });
  return met;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond,
                                       absl::Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  bool met = false;
  Locking(this, kRead, [&] { return met = real(this, cond, deadline), true; });
  return met;
}

void Mutex::Await(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      "5Mutex5AwaitERKNS0_9ConditionE");
  Rewaiting(this, [&] { return real(this, cond), true; });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Rewaiting(this, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Rewaiting(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static auto real =
      Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  Rewaiting(mu, [&] { return real(this, mu), true; });
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return Rewaiting(mu, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return Rewaiting(mu, [&] { return real(this, mu, deadline); });
}

// A Notification hands off everything written before Notify() to whoever sees
// it notified through a Wait* call. (HasBeenNotified() is inline and reads the
// flag itself; the project never hands data off through it.)
void Notification::Notify() {
  static auto real = Real<void (*)(Notification*)>("12Notification6NotifyEv");
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  static auto real = Real<void (*)(const Notification*)>(
      "12Notification19WaitForNotificationEv", true);
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(
    absl::Duration timeout) const {
  static auto real = Real<bool (*)(const Notification*, absl::Duration)>(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", true);
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static auto real = Real<bool (*)(const Notification*, absl::Time)>(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", true);
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

// A non-OK Status shares one reference-counted rep between copies. Dropped in
// the library, the count's atomics are invisible and the last owner's delete
// looks like a race with the others. This is the library's own function
// (abseil 20220623, status.cc), compiled here so TSan sees its atomics.
void Status::UnrefNonInlined(uintptr_t rep) {
  status_internal::StatusRep* shared = RepToPointer(rep);
  if (shared->ref.load(std::memory_order_acquire) == 1 ||
      shared->ref.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    delete shared;
  }
}

ABSL_NAMESPACE_END
}  // namespace absl
