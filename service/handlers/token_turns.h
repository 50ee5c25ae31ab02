// Turns of the claims of one process that wait for a rate-limited queue's
// next token: the first waits until the token is due, the next one token
// later, and so on, so that each token wakes about one claim per process
// instead of every waiting one. Thread-safe.
//
// A waiter holds one turn at a time: woken early (by a notification) it
// keeps the turn it has, and leaving before its turn it gives the turn
// back for the next waiter to take. Else the turns would run ahead of the
// tokens, one interval for every early wake, and the queue would be
// claimed only when notifications happen to come after a token.
//
//   TokenTurns turns;
//   absl::Time at = turns.Take(request.queues, now + wait.next,
//                              wait.interval);
//   ...
//   if (at > absl::Now()) turns.Give(request.queues, at);

#ifndef JOBQUEUE_SERVICE_HANDLERS_TOKEN_TURNS_H_
#define JOBQUEUE_SERVICE_HANDLERS_TOKEN_TURNS_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobqueue {

class TokenTurns {
 public:
  // A turn for a claim of `queues` whose next token is `due`, one every
  // `interval`: the earliest turn given back at or after `due`, else
  // `due` or one interval after the last turn taken, whichever is later.
  absl::Time Take(const std::vector<std::string>& queues, absl::Time due,
                  absl::Duration interval);

  // Hands back `turn`, taken for `queues` and not yet come, for the next
  // waiter.
  void Give(const std::vector<std::string>& queues, absl::Time turn);

 private:
  // Past this many sets of queues, the turns already past are forgotten.
  static constexpr size_t kMaxKeys = 1000;

  struct Line {
    absl::Time last;                   // the latest turn taken
    absl::btree_set<absl::Time> free;  // turns given back
  };

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Line> lines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_HANDLERS_TOKEN_TURNS_H_
