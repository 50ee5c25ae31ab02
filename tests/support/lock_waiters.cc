#include "tests/support/lock_waiters.h"

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/time_budget.h"

namespace jobqueue {

RowLock::RowLock(const std::string& url, const std::string& sql)
    : connection_(url), txn_(connection_) {
  txn_.exec(sql);
}

std::string ConversationRow(const std::string& channel) {
  return absl::StrCat("SELECT 1 FROM conversations WHERE source_channel_id = '",
                      channel, "' FOR UPDATE");
}

absl::Status WaitForLockWaiters(const std::string& url, int n) {
  const absl::Time give_up = absl::Now() + TimeBudget(absl::Seconds(10));
  int waiting = 0;
  try {
    pqxx::connection c(url);
    for (int poll = 0; poll < 100000; ++poll) {
      waiting = pqxx::nontransaction(c)
                    .exec1(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")[0]
                    .as<int>();
      if (waiting >= n || absl::Now() >= give_up) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
  if (waiting >= n) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat(waiting, " of ", n, " sessions waited for a lock"));
}

}  // namespace jobqueue
