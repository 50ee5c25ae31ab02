// For tests that hold a row lock to keep calls inside the database, as an
// operator's open transaction would: the lock, and a wait until those calls
// are stuck on it, instead of sleeping and hoping.
//
//   RowLock hold(url, ConversationRow("a"));
//   auto stuck = std::async(...);  // a call that needs that row
//   ASSERT_TRUE(WaitForLockWaiters(url, 1).ok());
//   hold.Release();

#ifndef JOBQUEUE_TESTS_SUPPORT_LOCK_WAITERS_H_
#define JOBQUEUE_TESTS_SUPPORT_LOCK_WAITERS_H_

#include <pqxx/pqxx>
#include <string>

#include "absl/status/status.h"

namespace jobqueue {

// Holds the rows `sql` (a SELECT ... FOR UPDATE) locks in a transaction of
// its own until Release() (a commit) or destruction.
class RowLock {
 public:
  RowLock(const std::string& url, const std::string& sql);
  void Release() { txn_.commit(); }

 private:
  pqxx::connection connection_;
  pqxx::work txn_;
};

// The statement that locks conversation `channel`'s row.
std::string ConversationRow(const std::string& channel);

// OK once at least `n` sessions of the database at `url` wait for a lock;
// DEADLINE_EXCEEDED after TimeBudget(10 s).
absl::Status WaitForLockWaiters(const std::string& url, int n);

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_LOCK_WAITERS_H_
