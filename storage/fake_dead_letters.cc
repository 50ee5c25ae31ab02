// FakeJobStore's dead letters for operators, as pg_dead_letters.cc keeps
// them: the newest-first list with each dead letter's latest replay, and
// replays recorded once per dead letter and occurrence (its attempts), a
// failed one tried again. Under the store's lock, so concurrent replays
// make one job as the row lock makes them in PostgreSQL.

#include <algorithm>
#include <climits>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/fake_job_store.h"

namespace jobqueue {
namespace {

bool Matches(const DeadLetter& d, const DeadLetterFilter& filter) {
  return (filter.source.empty() || d.source == filter.source) &&
         (filter.reason_contains.empty() ||
          absl::StrContains(absl::AsciiStrToLower(d.reason),
                            absl::AsciiStrToLower(filter.reason_contains))) &&
         d.last_seen_at >= filter.since && d.last_seen_at < filter.until;
}

// Newest first: (last_seen_at, id) descending.
bool Newer(const DeadLetter& a, const DeadLetter& b) {
  return std::tie(a.last_seen_at, a.id) > std::tie(b.last_seen_at, b.id);
}

bool IsReplayOutcome(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
         status.code() == absl::StatusCode::kNotFound ||
         status.code() == absl::StatusCode::kFailedPrecondition;
}

}  // namespace

absl::StatusOr<DeadLetterPage> FakeJobStore::ListDeadLetters(
    const DeadLetterFilter& filter,
    const std::optional<DeadLetterCursor>& after, int limit,
    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("ListDeadLetters", deadline); !s.ok()) return s;
  if (limit < 1) {
    return absl::InvalidArgumentError("page size must be at least 1");
  }
  std::vector<DeadLetter> found;
  for (const DeadLetter& d : dead_letters_) {
    if (!Matches(d, filter)) continue;
    if (after.has_value() && std::tie(d.last_seen_at, d.id) >=
                                 std::tie(after->last_seen_at, after->id)) {
      continue;
    }
    found.push_back(d);
  }
  std::sort(found.begin(), found.end(), Newer);
  DeadLetterPage page;
  for (DeadLetter& d : found) {
    if (static_cast<int>(page.dead_letters.size()) == limit) {
      const DeadLetter& last = page.dead_letters.back();
      page.next = DeadLetterCursor{last.last_seen_at, last.id};
      break;
    }
    // The latest occurrence replayed.
    auto it = replays_.lower_bound({d.id, INT_MAX});
    if (it != replays_.begin() && (--it)->first.first == d.id) {
      d.replay = it->second;
    }
    page.dead_letters.push_back(std::move(d));
  }
  return page;
}

std::vector<absl::StatusOr<DeadLetterReplayResult>>
FakeJobStore::ReplayDeadLetters(const std::vector<std::string>& ids,
                                const std::string& requested_by,
                                const DeadLetterToJob& to_job,
                                absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  std::vector<absl::StatusOr<DeadLetterReplayResult>> results;
  for (const std::string& id : ids) {
    if (absl::Status s = Begin("ReplayDeadLetters", deadline); !s.ok()) {
      results.push_back(s);
      continue;
    }
    results.push_back(ReplayLocked(id, requested_by, to_job));
  }
  return results;
}

absl::StatusOr<DeadLetterReplayResult> FakeJobStore::ReplayLocked(
    const std::string& id, const std::string& requested_by,
    const DeadLetterToJob& to_job) {
  if (requested_by.empty() || requested_by.size() > 255) {
    return absl::InvalidArgumentError(
        "a value breaks a rule of the table: "
        "dead_letter_replays_requested_by");
  }
  auto letter = std::find_if(
      dead_letters_.begin(), dead_letters_.end(),
      [&](const DeadLetter& d) { return d.id == absl::AsciiStrToLower(id); });
  if (letter == dead_letters_.end()) {
    return absl::NotFoundError(absl::StrCat("dead letter ", id, " not found"));
  }
  const std::pair<std::string, int> key{letter->id, letter->attempts};
  if (auto it = replays_.find(key);
      it != replays_.end() && !it->second.job_id.empty()) {
    return DeadLetterReplayResult{it->second, false};
  }
  absl::StatusOr<std::string> job_id;
  if (!letter->job_id.empty()) {
    absl::StatusOr<Job> retried = RetryLocked(letter->job_id);
    if (retried.ok()) {
      job_id = retried->id;
    } else if (retried.status().code() ==
               absl::StatusCode::kFailedPrecondition) {
      job_id = absl::FailedPreconditionError(
          absl::StrCat("job ", letter->job_id, " is '",
                       JobStatusName(jobs_.at(letter->job_id).job.status),
                       "'; only a failed job is re-queued"));
    } else {
      job_id = retried.status();
    }
  } else if (absl::StatusOr<NewJob> job = to_job(*letter); !job.ok()) {
    job_id = job.status();
  } else if (absl::Status s = CheckEnqueue(*job); !s.ok()) {
    job_id = s;
  } else {
    job_id = Insert(*job).job.id;
  }
  if (!job_id.ok() && !IsReplayOutcome(job_id.status())) {
    return job_id.status();
  }
  // PostgreSQL keeps microseconds.
  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  auto [it, added] = replays_.try_emplace(
      key, DeadLetterReplay{.dead_letter_id = key.first,
                            .dead_letter_attempts = key.second});
  DeadLetterReplay& replay = it->second;
  replay.requested_by = requested_by;
  replay.replayed_at = now;
  replay.job_id = job_id.ok() ? *job_id : "";
  replay.error = job_id.ok() ? "" : std::string(job_id.status().message());
  replay.tries = added ? 1 : replay.tries + 1;
  return DeadLetterReplayResult{replay, true};
}

}  // namespace jobqueue
