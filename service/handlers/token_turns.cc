#include "service/handlers/token_turns.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace jobqueue {

absl::Time TokenTurns::Take(const std::vector<std::string>& queues,
                            absl::Time due, absl::Duration interval) {
  const std::string key = absl::StrJoin(queues, " ");
  absl::MutexLock lock(&mu_);
  if (lines_.size() >= kMaxKeys) {
    // Turns already past hold no one back.
    const absl::Time now = absl::Now();
    absl::erase_if(lines_,
                   [now](const auto& line) { return line.second.last < now; });
  }
  auto [it, added] = lines_.try_emplace(key, Line{.last = due});
  if (added) return due;
  Line& line = it->second;
  // Turns given back before the token is due would find none.
  line.free.erase(line.free.begin(), line.free.lower_bound(due));
  if (!line.free.empty()) {
    const absl::Time turn = *line.free.begin();
    line.free.erase(line.free.begin());
    return turn;
  }
  line.last = std::max(due, line.last + interval);
  return line.last;
}

void TokenTurns::Give(const std::vector<std::string>& queues, absl::Time turn) {
  const std::string key = absl::StrJoin(queues, " ");
  absl::MutexLock lock(&mu_);
  auto it = lines_.find(key);
  if (it == lines_.end() || turn > it->second.last) return;
  it->second.free.insert(turn);
}

}  // namespace jobqueue
