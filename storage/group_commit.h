// Group commit: concurrent calls share one database round trip.
//
// Each call joins the open batch. The call that opened a batch leads it: it
// waits until fewer than `max_in_flight` batches are running, closes the
// batch and runs it; the others wait for their own result. A lone caller
// runs at once, with no added delay; under load, batches grow while earlier
// ones are running, up to `max_batch` items.
//
//   GroupCommit<NewJob, EnqueueResult> enqueues(
//       {.max_batch = 128, .max_in_flight = 2},
//       [&](const std::vector<const NewJob*>& jobs, absl::Time deadline) {
//         return InsertAll(jobs, deadline);  // one result per job, in order
//       });
//   absl::StatusOr<EnqueueResult> r = enqueues.Call(job, deadline);

#ifndef JOBQUEUE_STORAGE_GROUP_COMMIT_H_
#define JOBQUEUE_STORAGE_GROUP_COMMIT_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobqueue {

// How one GroupCommit batches; max_batch 1 turns batching off.
struct GroupCommitOptions {
  int max_batch = 128;
  int max_in_flight = 2;
};

template <typename Request, typename Result>
class GroupCommit {
 public:
  using Options = GroupCommitOptions;
  // Runs a batch; must return exactly one result per request, in order.
  using RunBatch = std::function<std::vector<absl::StatusOr<Result>>(
      const std::vector<const Request*>&, absl::Time deadline)>;

  GroupCommit(Options options, RunBatch run)
      : options_(options), run_(std::move(run)) {}

  // Returns by `deadline`: a caller whose batch is still running then gets
  // DEADLINE_EXCEEDED (the outcome is unknown), and a batch that could not
  // start before its leader's deadline fails whole, unsent.
  absl::StatusOr<Result> Call(const Request& request, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    if (open_ == nullptr) open_ = std::make_shared<Batch>();
    std::shared_ptr<Batch> batch = open_;
    const size_t index = batch->requests.size();
    // A copy: a caller may leave at its deadline while its batch runs.
    batch->requests.push_back(request);
    if (static_cast<int>(batch->requests.size()) >= options_.max_batch) {
      open_ = nullptr;  // full: later callers start a new one
    }
    // Condition variables, not Mutex::Await: with many callers waiting,
    // Await would re-evaluate every waiter's condition on each unlock.
    if (index > 0) {
      while (!batch->done) {
        if (batch->finished.WaitWithDeadline(&mu_, deadline) && !batch->done &&
            absl::Now() >= deadline) {
          return absl::DeadlineExceededError(
              "the database did not finish this call's batch before the "
              "deadline; the change may or may not have been made");
        }
      }
      return batch->results[index];
    }
    while (in_flight_ >= options_.max_in_flight) {
      if (slot_free_.WaitWithDeadline(&mu_, deadline) &&
          in_flight_ >= options_.max_in_flight && absl::Now() >= deadline) {
        if (open_ == batch) open_ = nullptr;
        Finish(*batch, std::vector<absl::StatusOr<Result>>(
                           batch->requests.size(),
                           absl::DeadlineExceededError(
                               "earlier batches held the database until the "
                               "deadline; nothing was written")));
        return batch->results[0];
      }
    }
    if (open_ == batch) open_ = nullptr;
    ++in_flight_;
    mu_.Unlock();
    std::vector<const Request*> requests;
    for (const Request& r : batch->requests) requests.push_back(&r);
    std::vector<absl::StatusOr<Result>> results = run_(requests, deadline);
    if (results.size() != requests.size()) {
      results.assign(requests.size(),
                     absl::InternalError("batch returned a wrong count"));
    }
    mu_.Lock();
    --in_flight_;
    slot_free_.Signal();
    Finish(*batch, std::move(results));
    return batch->results[0];
  }

 private:
  struct Batch {
    std::vector<Request> requests;
    std::vector<absl::StatusOr<Result>> results;
    bool done = false;
    absl::CondVar finished;
  };

  void Finish(Batch& batch, std::vector<absl::StatusOr<Result>> results)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    batch.results = std::move(results);
    batch.done = true;
    batch.finished.SignalAll();
  }

  const Options options_;
  const RunBatch run_;
  absl::Mutex mu_;
  std::shared_ptr<Batch> open_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::CondVar slot_free_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_GROUP_COMMIT_H_
