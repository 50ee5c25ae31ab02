// FakeJobStore's operator views, as pg_queue_overview.cc answers them:
// counts by queue and status, the minutes' claims, completions and
// failures (recorded by Entered as the jobs triggers count them), and the
// conversations with pending jobs, the longest-waiting first.

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "storage/fake_job_store.h"

namespace jobqueue {
namespace {

absl::Time MinuteOf(absl::Time t) {
  return absl::FromUnixSeconds(absl::ToUnixSeconds(t) / 60 * 60);
}

int64_t& CountOf(QueueStatistics& s, JobStatus status) {
  switch (status) {
    case JobStatus::kPending:
      return s.pending;
    case JobStatus::kProcessing:
      return s.processing;
    case JobStatus::kScheduled:
      return s.scheduled;
    case JobStatus::kFailed:
      return s.failed;
    case JobStatus::kCancelled:
      return s.cancelled;
    case JobStatus::kComplete:
      break;
  }
  return s.complete;
}

}  // namespace

void FakeJobStore::Entered(const Job& job) {
  MinuteCounts& m = minutes_[{job.queue, MinuteOf(absl::Now())}];
  if (job.status == JobStatus::kProcessing) ++m.claimed;
  if (job.status == JobStatus::kComplete) ++m.completed;
  if (job.status == JobStatus::kFailed) ++m.failed;
}

absl::StatusOr<std::vector<QueueStatistics>> FakeJobStore::GetQueueStats(
    const std::string& queue, int minutes, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("GetQueueStats", deadline); !s.ok()) return s;
  std::set<std::string> names;
  if (!queue.empty()) names.insert(queue);
  for (const auto& [id, row] : jobs_) {
    if (queue.empty()) names.insert(row.job.queue);
  }
  if (queue.empty()) {
    for (const auto& [name, bucket] : buckets_) names.insert(name);
    for (const auto& [name, run_time] : max_run_times_) names.insert(name);
    for (const auto& [name, pause] : pauses_) names.insert(name);
  }
  const absl::Time now = absl::Now();
  const absl::Time this_minute = MinuteOf(now);
  std::vector<QueueStatistics> stats;
  for (const std::string& name : names) {
    QueueStatistics s;
    s.settings = SettingsOf(name);
    s.settings.max_run_time = absl::ZeroDuration();
    const Row* oldest = nullptr;
    for (const auto& [id, row] : jobs_) {
      if (row.job.queue != name) continue;
      ++CountOf(s, row.job.status);
      if (row.job.status == JobStatus::kPending &&
          (oldest == nullptr || row.seq < oldest->seq)) {
        oldest = &row;
      }
    }
    if (oldest != nullptr) s.oldest_pending_age = now - oldest->job.created_at;
    if (auto it = buckets_.find(name); it != buckets_.end()) {
      s.tokens = static_cast<int64_t>(it->second.At(now));
    }
    for (int i = minutes - 1; i >= 0; --i) {
      const absl::Time start = this_minute - absl::Minutes(i);
      MinuteCounts m{.start = start};
      if (auto it = minutes_.find({name, start}); it != minutes_.end()) {
        m = it->second;
        m.start = start;
      }
      s.minutes.push_back(m);
    }
    stats.push_back(std::move(s));
  }
  return stats;
}

absl::StatusOr<ConversationPage> FakeJobStore::ListConversations(
    const std::string& queue, const std::optional<ConversationCursor>& after,
    int limit, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("ListConversations", deadline); !s.ok()) {
    return s;
  }
  // (waiting_since, key) of every conversation with pending jobs.
  std::set<std::pair<absl::Time, std::string>> waiting;
  std::map<std::string, int64_t> active;
  for (const auto& [id, row] : jobs_) {
    const std::string key = KeyOf(row.job);
    if (key.empty() || (!queue.empty() && row.job.queue != queue)) continue;
    if (row.job.status == JobStatus::kPending ||
        row.job.status == JobStatus::kProcessing) {
      ++active[key];
    }
    if (row.job.status == JobStatus::kPending) {
      // In microseconds, as PostgreSQL keeps it (and a page token holds it).
      waiting.insert({absl::FromUnixMicros(
                          absl::ToUnixMicros(conversations_[key].ready_since)),
                      key});
    }
  }
  const absl::Time now = absl::Now();
  ConversationPage page;
  for (const auto& [since, key] : waiting) {
    if (after.has_value() &&
        std::tie(since, key) <=
            std::tie(after->waiting_since, after->conversation)) {
      continue;
    }
    if (static_cast<int>(page.conversations.size()) == limit) break;
    const Job& head = Head(key)->job;
    WaitingConversation c{.queue = head.queue,
                          .source_channel_id = head.source_channel_id,
                          .waiting_since = since,
                          .head = head,
                          .jobs_behind = active[key] - 1};
    auto bucket = buckets_.find(head.queue);
    if (head.status == JobStatus::kProcessing) {
      c.wait = HeadWait::kProcessing;
    } else if (pauses_.count(head.queue) > 0) {
      c.wait = HeadWait::kQueuePaused;
    } else if (head.run_after > now) {
      c.wait = head.last_error.empty() ? HeadWait::kNotDue : HeadWait::kBackoff;
    } else if (bucket != buckets_.end() && bucket->second.At(now) < 1) {
      c.wait = HeadWait::kRateLimited;
    } else {
      c.wait = HeadWait::kReady;
    }
    page.conversations.push_back(std::move(c));
  }
  if (static_cast<int>(page.conversations.size()) == limit) {
    const WaitingConversation& last = page.conversations.back();
    page.next = ConversationCursor{
        .waiting_since = last.waiting_since,
        .conversation = absl::StrCat(last.queue, " ", last.source_channel_id)};
  }
  return page;
}

}  // namespace jobqueue
