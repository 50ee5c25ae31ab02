// What PgJobStore tells about each statement it runs, for metrics, without
// storage depending on a metrics library: the service implements it (see
// service/observability/service_metrics.h).
//
//   class Counting : public StatementObserver { ... };
//   PgJobStore store({.url = url, .statement_observer = &counting});

#ifndef JOBQUEUE_STORAGE_STATEMENT_OBSERVER_H_
#define JOBQUEUE_STORAGE_STATEMENT_OBSERVER_H_

#include <memory>
#include <string>

#include "absl/time/time.h"

namespace jobqueue {

class StatementObserver {
 public:
  // Where the runs of one statement go; called on the hot path, from any
  // thread.
  class Sink {
   public:
    virtual ~Sink() = default;
    // One run: whether it succeeded (an exception is a failure) and how
    // long it took.
    virtual void Observe(bool ok, absl::Duration elapsed) = 0;
  };

  virtual ~StatementObserver() = default;

  // Called once per statement when the store is made, with the block's
  // name (see named_queries.h).
  virtual std::unique_ptr<Sink> ForStatement(const std::string& name) = 0;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_STATEMENT_OBSERVER_H_
