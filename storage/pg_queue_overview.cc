// PgJobStore's operator views: queue statistics from the queue counters
// (migrations/20261206000012_queue_counters.sql, folded by maintenance)
// and the conversations with waiting work, from conversations_waiting_idx.

#include <algorithm>
#include <map>

#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"

namespace jobqueue {
namespace {

const NamedQuery& kQueueStatsCounts = Query("queue_stats_counts");
const NamedQuery& kQueueStatsMinutes = Query("queue_stats_minutes");
const NamedQuery& kListConversations = Query("list_conversations");

// A queue_stats_counts row.
QueueStatistics StatisticsFromRow(const pqxx::row& row) {
  QueueStatistics s;
  s.settings.name = row[0].as<std::string>();
  s.pending = row[1].as<int64_t>();
  s.processing = row[2].as<int64_t>();
  s.scheduled = row[3].as<int64_t>();
  s.failed = row[4].as<int64_t>();
  s.cancelled = row[5].as<int64_t>();
  s.complete = row[6].as<int64_t>();
  s.oldest_pending_age = absl::Seconds(row[7].as<double>());
  if (!row[8].is_null()) {
    s.settings.rate_limit = RateLimit{.jobs_per_second = row[8].as<double>(),
                                      .burst = row[9].as<int>()};
    s.tokens = static_cast<int64_t>(row[10].as<double>());
  }
  if (!row[11].is_null()) {
    s.settings.paused_at = FromEpoch(row[11]);
    s.settings.pause_reason = TextOrEmpty(row[12]);
  }
  return s;
}

// Why `c`'s head is not running, from the conversation's row `row`
// (paused_at at 7, rate-limited at 8) and the time `now`.
HeadWait WaitOf(const WaitingConversation& c, const pqxx::row& row,
                absl::Time now) {
  if (!c.head.has_value()) return HeadWait::kNoHead;
  if (c.head->status == JobStatus::kProcessing) return HeadWait::kProcessing;
  if (!row[7].is_null()) return HeadWait::kQueuePaused;
  if (c.head->run_after > now) {
    return c.head->last_error.empty() ? HeadWait::kNotDue : HeadWait::kBackoff;
  }
  if (row[8].as<bool>(false)) return HeadWait::kRateLimited;
  return HeadWait::kReady;
}

}  // namespace

void AddQueueOverviewStatements(StatementSet& c) {
  c.Add(kQueueStatsCounts);
  c.Add(kQueueStatsMinutes);
  c.Add(kListConversations);
}

absl::StatusOr<std::vector<QueueStatistics>> PgJobStore::GetQueueStats(
    const std::string& queue, int minutes, absl::Time deadline) {
  return WithConnection<std::vector<QueueStatistics>>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn)
          -> absl::StatusOr<std::vector<QueueStatistics>> {
        std::vector<QueueStatistics> stats;
        std::map<std::string, size_t> index;
        absl::Time this_minute = absl::InfinitePast();
        for (const pqxx::row& row : Exec(txn, kQueueStatsCounts, queue)) {
          index[row[0].as<std::string>()] = stats.size();
          stats.push_back(StatisticsFromRow(row));
          this_minute = FromEpoch(row[13]);
        }
        // Every minute of each queue, oldest first, zero where none moved.
        for (QueueStatistics& s : stats) {
          for (int i = minutes - 1; i >= 0; --i) {
            s.minutes.push_back(
                MinuteCounts{.start = this_minute - absl::Minutes(i)});
          }
        }
        for (const pqxx::row& row :
             Exec(txn, kQueueStatsMinutes, queue, minutes)) {
          auto it = index.find(row[0].as<std::string>());
          if (it == index.end()) continue;
          const absl::Time start = FromEpoch(row[1]);
          const int64_t i =
              minutes - 1 - (this_minute - start) / absl::Minutes(1);
          if (i < 0 || i >= minutes) continue;
          MinuteCounts& m = stats[it->second].minutes[i];
          m.claimed = row[2].as<int64_t>();
          m.completed = row[3].as<int64_t>();
          m.failed = row[4].as<int64_t>();
        }
        return stats;
      },
      /*autocommit=*/false, /*transaction=*/true);
}

absl::StatusOr<ConversationPage> PgJobStore::ListConversations(
    const std::string& queue, const std::optional<ConversationCursor>& after,
    int limit, absl::Time deadline) {
  return WithConnection<ConversationPage>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<ConversationPage> {
        pqxx::result r =
            after.has_value()
                ? Exec(txn, kListConversations, queue,
                       absl::ToUnixMicros(after->waiting_since),
                       after->conversation, limit)
                : Exec(txn, kListConversations, queue, nullptr, "", limit);
        const absl::Time now = absl::Now();
        ConversationPage page;
        for (const pqxx::row& row : r) {
          WaitingConversation c{.queue = row[1].as<std::string>(),
                                .source_channel_id = row[2].as<std::string>(),
                                .waiting_since = FromEpoch(row[3])};
          if (!row[9].is_null()) c.head = JobFromRow(row, 9);
          c.wait = WaitOf(c, row, now);
          c.jobs_behind = std::max<int64_t>(
              0, row[5].as<int64_t>() + row[6].as<int64_t>() - 1);
          page.conversations.push_back(std::move(c));
        }
        if (static_cast<int>(r.size()) == limit && !r.empty()) {
          const pqxx::row last = r[r.size() - 1];
          page.next = ConversationCursor{
              .waiting_since = absl::FromUnixMicros(last[4].as<int64_t>()),
              .conversation = last[0].as<std::string>()};
        }
        return page;
      });
}

}  // namespace jobqueue
