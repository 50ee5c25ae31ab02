#include "tests/fault/history.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace jobqueue::fault {

const char* KindName(Call::Kind kind) {
  switch (kind) {
    case Call::kEnqueue:
      return "EnqueueJob";
    case Call::kClaim:
      return "ClaimJobs";
    case Call::kExtend:
      return "ExtendLease";
    case Call::kComplete:
      return "CompleteJob";
    case Call::kFail:
      return "FailJob";
    case Call::kRetry:
      return "RetryJob";
    case Call::kRemove:
      return "removal by SQL";
    case Call::kSnooze:
      return "SnoozeJob";
    case Call::kMakeDue:
      return "run_after = now() by SQL";
    case Call::kCancel:
      return "CancelJob";
    case Call::kRelease:
      return "end of a StreamJobs stream";
  }
  return "?";
}

void History::Add(Call call) {
  absl::MutexLock lock(&mu_);
  calls_.push_back(std::move(call));
}

std::vector<Call> History::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

size_t History::size() const {
  absl::MutexLock lock(&mu_);
  return calls_.size();
}

namespace {

// One lease as the history bounds it: surely held over [from, until).
struct Held {
  std::string job_id, channel, token, worker;
  absl::Time claim_start, from, until;
  absl::Time run_deadline = absl::InfiniteFuture();
};

std::string At(absl::Time t) {
  return absl::FormatTime("%H:%M:%E3S", t, absl::UTCTimeZone());
}

}  // namespace

std::vector<std::string> CheckHistory(const std::vector<Call>& calls) {
  std::vector<std::string> problems;
  std::vector<Call> sorted = calls;
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const Call& a, const Call& b) { return a.start < b.start; });

  // Leases by token, from the claims answered OK.
  std::map<std::string, Held> held;  // by token
  std::map<std::string, std::vector<std::string>> tokens_of_job;
  for (const Call& c : sorted) {
    if (c.kind != Call::kClaim || !c.ok) continue;
    for (const Lease& l : c.leases) {
      auto [it, added] = held.emplace(
          l.token, Held{l.job_id, l.channel, l.token, c.worker, c.start, c.end,
                        l.expires, l.run_deadline});
      if (!added) {
        problems.push_back(absl::StrCat("lease token ", l.token,
                                        " was handed out twice (job ", l.job_id,
                                        ")"));
      }
      tokens_of_job[l.job_id].push_back(l.token);
    }
  }

  // When each job was first (maybe) cancelled: a refused call after that
  // may have been the one that ended its lease (the job is cancelled then).
  std::map<std::string, absl::Time> cancel_began;
  for (const Call& c : sorted) {
    if (c.kind == Call::kCancel && (c.ok || c.ambiguous)) {
      cancel_began.emplace(c.job_id, c.start);
    }
  }

  // Calls that use a token: stale ones must fail; OK ones bound the lease.
  std::map<std::string, int> completed;
  for (const Call& c : sorted) {
    if (c.kind != Call::kExtend && c.kind != Call::kComplete &&
        c.kind != Call::kFail && c.kind != Call::kSnooze) {
      continue;
    }
    auto lease = held.find(c.token);
    if (lease == held.end()) {
      if (c.ok) {
        problems.push_back(absl::StrCat(KindName(c.kind), " of job ", c.job_id,
                                        " at ", At(c.start),
                                        " answered OK with a token no claim "
                                        "handed out"));
      }
      continue;
    }
    // Stale: another claim of the job was acknowledged before this started.
    std::string superseded_by;
    for (const std::string& other : tokens_of_job[c.job_id]) {
      const Held& h = held[other];
      if (other != c.token && h.claim_start > lease->second.from &&
          h.from < c.start) {
        superseded_by = other;
      }
    }
    if (c.ok && !superseded_by.empty()) {
      problems.push_back(
          absl::StrCat(KindName(c.kind), " of job ", c.job_id, " by ", c.worker,
                       " at ", At(c.start), " answered OK with stale token ",
                       c.token, " (claimed again with ", superseded_by, " at ",
                       At(held[superseded_by].from), ")"));
    }
    if (c.ok && c.start > lease->second.run_deadline) {
      problems.push_back(absl::StrCat(
          KindName(c.kind), " of job ", c.job_id, " by ", c.worker, " at ",
          At(c.start), " answered OK after the job's run-time limit ended at ",
          At(lease->second.run_deadline)));
    }
    if (!c.ok) {
      auto cancel = cancel_began.find(c.job_id);
      if (cancel != cancel_began.end() && cancel->second < c.end) {
        lease->second.until = std::min(lease->second.until, c.start);
      }
      if (c.ambiguous && c.kind != Call::kExtend) {
        lease->second.until = std::min(lease->second.until, c.start);
      }
      continue;
    }
    if (c.kind == Call::kExtend) {
      lease->second.until = std::max(lease->second.until, c.expires);
    } else {
      // The lease ended somewhere in [c.start, c.end]; it surely lasted
      // until c.start.
      lease->second.until = std::min(lease->second.until, c.start);
      if (c.kind == Call::kComplete) ++completed[c.job_id];
    }
  }
  // A stream's end may hand its leases back as soon as it began.
  for (const Call& c : sorted) {
    if (c.kind != Call::kRelease) continue;
    auto lease = held.find(c.token);
    if (lease != held.end()) {
      lease->second.until = std::min(lease->second.until, c.start);
    }
  }
  // An operator's removal ends every lease of the job whose claim began
  // before the removal ended: such a claim committed before the removal
  // took effect (a removed job cannot be claimed), so the lease may have
  // ended as early as the removal began.
  for (const Call& c : sorted) {
    if (c.kind != Call::kRemove || !c.ok) continue;
    for (const std::string& token : tokens_of_job[c.job_id]) {
      Held& h = held[token];
      if (h.claim_start < c.end) h.until = std::min(h.until, c.start);
    }
  }
  // A token used up by a completion, failure or snooze is stale afterwards.
  std::map<std::string, absl::Time> used_up;  // token -> end of the call
  for (const Call& c : sorted) {
    if ((c.kind != Call::kComplete && c.kind != Call::kFail &&
         c.kind != Call::kSnooze) ||
        c.token.empty()) {
      continue;
    }
    auto used = used_up.find(c.token);
    if (used != used_up.end() && c.ok && used->second < c.start) {
      problems.push_back(absl::StrCat(
          KindName(c.kind), " of job ", c.job_id, " at ", At(c.start),
          " answered OK with token ", c.token,
          " already used up by a completion, failure or snooze at ",
          At(used->second)));
    }
    if (c.ok && used == used_up.end()) used_up[c.token] = c.end;
  }
  for (const auto& [job, n] : completed) {
    if (n > 1) {
      problems.push_back(absl::StrCat("job ", job, " completed ", n, " times"));
    }
  }

  // A snoozed job is not handed out before it is due: a claim that began
  // after the snooze was answered must have ended at or after `due` (the
  // server took the job somewhere inside the claim).
  // An operator's SQL that may have run after the snooze made it due as
  // early as both had begun.
  for (const Call& c : sorted) {
    if (c.kind != Call::kSnooze || !c.ok) continue;
    absl::Time due = c.due;
    for (const Call& o : sorted) {
      if (o.kind == Call::kMakeDue && o.end > c.start) {
        due = std::min(due, std::max(o.start, c.start));
      }
    }
    for (const std::string& token : tokens_of_job[c.job_id]) {
      const Held& h = held[token];
      if (h.claim_start > c.end && h.from < due) {
        problems.push_back(absl::StrCat("job ", c.job_id, " was handed out to ",
                                        h.worker, " (claim ", At(h.claim_start),
                                        " to ", At(h.from),
                                        ") while snoozed until ", At(c.due)));
      }
    }
  }

  // A cancelled job is neither handed out nor completed by a call that
  // began after its CancelJob was answered.
  for (const Call& c : sorted) {
    if (c.kind != Call::kCancel || !c.ok) continue;
    for (const std::string& token : tokens_of_job[c.job_id]) {
      const Held& h = held[token];
      if (h.claim_start > c.end) {
        problems.push_back(absl::StrCat(
            "job ", c.job_id, " was handed out to ", h.worker, " at ",
            At(h.claim_start), " after it was cancelled at ", At(c.end)));
      }
    }
    for (const Call& d : sorted) {
      if (d.kind == Call::kComplete && d.ok && d.job_id == c.job_id &&
          d.start > c.end) {
        problems.push_back(absl::StrCat(
            "job ", c.job_id, " was completed by ", d.worker, " at ",
            At(d.start), " after it was cancelled at ", At(c.end)));
      }
    }
  }

  // No conversation had two jobs leased at once.
  std::map<std::string, std::vector<const Held*>> by_channel;
  for (const auto& [token, h] : held) {
    if (!h.channel.empty()) by_channel[h.channel].push_back(&h);
  }
  for (auto& [channel, leases] : by_channel) {
    std::sort(leases.begin(), leases.end(),
              [](const Held* a, const Held* b) { return a->from < b->from; });
    for (size_t i = 0; i < leases.size(); ++i) {
      for (size_t j = i + 1; j < leases.size(); ++j) {
        const Held& a = *leases[i];
        const Held& b = *leases[j];
        if (b.from >= a.until) break;  // sorted by `from`: none later overlap
        if (a.job_id == b.job_id) continue;  // flagged as stale if it matters
        // An answer that came after its lease ended holds nothing for sure.
        if (b.from >= b.until) continue;
        problems.push_back(absl::StrCat(
            "conversation ", channel, ": job ", b.job_id, " was claimed by ",
            b.worker, " (claim ", At(b.claim_start), " to ", At(b.from),
            ", leased until at least ", At(b.until), ") while job ", a.job_id,
            " was leased to ", a.worker, " (claim ", At(a.claim_start), " to ",
            At(a.from), ") until at least ", At(a.until)));
      }
    }
  }

  // Each conversation's jobs handed out in acknowledged order.
  struct Enqueued {
    std::string job_id;
    absl::Time start, end;
  };
  std::map<std::string, std::vector<Enqueued>> enqueued;
  std::map<std::string, bool> seen_job;
  for (const Call& c : sorted) {
    if (c.kind != Call::kEnqueue || !c.ok || c.returned_job_id.empty())
      continue;
    if (seen_job[c.returned_job_id]) continue;  // a retry of the same key
    seen_job[c.returned_job_id] = true;
    if (c.channel.empty()) continue;  // unordered: no place in a line
    enqueued[c.channel].push_back({c.returned_job_id, c.start, c.end});
  }
  std::map<std::string, std::pair<absl::Time, absl::Time>> first_claim;
  for (const auto& [token, h] : held) {
    auto [it, added] =
        first_claim.emplace(h.job_id, std::make_pair(h.claim_start, h.from));
    if (!added && h.claim_start < it->second.first) {
      it->second = {h.claim_start, h.from};
    }
  }
  // A job an operator removed left the line no earlier than the removal
  // began: it counts as handed out then, if it was not before.
  // So does a job cancelled (or maybe cancelled: the answer was lost).
  std::map<std::string, absl::Time> removed;
  for (const Call& c : sorted) {
    if ((c.kind == Call::kRemove && c.ok) ||
        (c.kind == Call::kCancel && (c.ok || c.ambiguous))) {
      removed.emplace(c.job_id, c.start);
    }
  }
  // A claim whose answer was lost (ambiguous) may have handed out, unseen, any
  // job whose enqueue began before that claim ended. Such a job may first have
  // been handed out as early as the claim's start, so its first claim is taken
  // to begin at the earliest of those starts. Jobs enqueued after every lost
  // claim ended keep their seen first claim. Sorted by end, with a suffix
  // minimum of starts: O(log n) a job.
  std::vector<std::pair<absl::Time, absl::Time>> lost;  // (end, start)
  for (const Call& c : sorted) {
    if (c.kind == Call::kClaim && c.ambiguous)
      lost.emplace_back(c.end, c.start);
  }
  std::sort(lost.begin(), lost.end());
  std::vector<absl::Time> lost_start_from(lost.size() + 1,
                                          absl::InfiniteFuture());
  for (size_t i = lost.size(); i-- > 0;) {
    lost_start_from[i] = std::min(lost_start_from[i + 1], lost[i].second);
  }
  auto earliest_unseen = [&](absl::Time enqueue_start) {
    const size_t i = std::upper_bound(lost.begin(), lost.end(),
                                      std::make_pair(enqueue_start,
                                                     absl::InfiniteFuture())) -
                     lost.begin();
    return lost_start_from[i];
  };
  // For each b: among the jobs acknowledged before b was sent, the latest
  // first claim must have begun before b's first claim was acknowledged.
  // Sorted by acknowledgement with a running maximum: O(n log n).
  for (auto& [channel, jobs] : enqueued) {
    std::sort(
        jobs.begin(), jobs.end(),
        [](const Enqueued& a, const Enqueued& b) { return a.end < b.end; });
    std::vector<std::pair<absl::Time, const Enqueued*>> latest;  // prefix max
    for (const Enqueued& a : jobs) {
      auto ca = first_claim.find(a.job_id);
      auto ra = removed.find(a.job_id);
      const absl::Time t = std::min(
          {ca == first_claim.end() ? absl::InfiniteFuture() : ca->second.first,
           ra == removed.end() ? absl::InfiniteFuture() : ra->second,
           earliest_unseen(a.start)});
      if (latest.empty() || t > latest.back().first) {
        latest.emplace_back(t, &a);
      } else {
        latest.push_back(latest.back());
      }
    }
    for (const Enqueued& b : jobs) {
      auto cb = first_claim.find(b.job_id);
      if (cb == first_claim.end()) continue;
      // The jobs whose enqueue ended before b's began.
      const size_t n = std::lower_bound(jobs.begin(), jobs.end(), b.start,
                                        [](const Enqueued& a, absl::Time t) {
                                          return a.end < t;
                                        }) -
                       jobs.begin();
      if (n == 0) continue;
      const auto& [t, a] = latest[n - 1];
      if (cb->second.second < t) {
        problems.push_back(absl::StrCat(
            "conversation ", channel, ": job ", b.job_id,
            " was handed out before job ", a->job_id,
            ", whose enqueue was acknowledged before it was sent"));
      }
    }
  }
  return problems;
}

std::vector<std::string> CheckEnqueues(
    const std::vector<Call>& calls,
    const std::map<std::string, std::string>& table) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> job_of_key;
  for (const Call& c : calls) {
    if (c.kind != Call::kEnqueue || !c.ok) continue;
    if (table.find(c.returned_job_id) == table.end()) {
      problems.push_back(absl::StrCat("acknowledged job ", c.returned_job_id,
                                      " (key ", c.key,
                                      ") is not in the table"));
    }
    if (c.key.empty()) continue;
    auto [it, added] = job_of_key.emplace(c.key, c.returned_job_id);
    if (!added && it->second != c.returned_job_id) {
      problems.push_back(absl::StrCat("key ", c.key, " was answered with jobs ",
                                      it->second, " and ", c.returned_job_id));
    }
  }
  std::map<std::string, int> rows_of_key;
  for (const auto& [id, key] : table) {
    if (!key.empty() && ++rows_of_key[key] == 2) {
      problems.push_back(
          absl::StrCat("key ", key, " has two jobs in the table"));
    }
  }
  return problems;
}

}  // namespace jobqueue::fault
