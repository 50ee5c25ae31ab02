// For tests that hold a row lock to keep calls inside the database: waits
// until those calls are stuck on it, instead of sleeping and hoping.
//
//   hold.exec("SELECT 1 FROM conversations WHERE ... FOR UPDATE");
//   auto stuck = std::async(...);  // a call that needs that row
//   ASSERT_TRUE(WaitForLockWaiters(db->url(), 1).ok());

#ifndef JOBQUEUE_TESTS_SUPPORT_LOCK_WAITERS_H_
#define JOBQUEUE_TESTS_SUPPORT_LOCK_WAITERS_H_

#include <string>

#include "absl/status/status.h"

namespace jobqueue {

// OK once at least `n` sessions of the database at `url` wait for a lock;
// DEADLINE_EXCEEDED after TimeBudget(10 s).
absl::Status WaitForLockWaiters(const std::string& url, int n);

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_LOCK_WAITERS_H_
