// Group commit: concurrent calls share one database round trip.
//
// Each call joins the newest batch not yet sent (a new one when that is
// full). Batches are sent in the order they opened, at most `max_in_flight`
// at a time: a lone caller's batch is sent at once, with no added delay;
// under load, batches grow while earlier ones are running, up to
// `max_batch` requests.
//
// Every caller keeps its own deadline. A batch is run by its member with the
// latest deadline, under that deadline, so no caller is cut short because it
// shared a batch with an impatient one. A caller whose deadline passes before
// its batch is sent leaves the batch (its request is never sent) and gets
// DEADLINE_EXCEEDED saying nothing was written; one whose batch was sent gets
// DEADLINE_EXCEEDED saying the outcome is unknown.
//
//   GroupCommit<NewJob, EnqueueResult> enqueues(
//       {.max_batch = 128, .max_in_flight = 2},
//       [&](const std::vector<const NewJob*>& jobs, absl::Time deadline) {
//         return InsertAll(jobs, deadline);  // one result per job, in order
//       });
//   absl::StatusOr<EnqueueResult> r = enqueues.Call(job, deadline);

#ifndef JOBQUEUE_STORAGE_GROUP_COMMIT_H_
#define JOBQUEUE_STORAGE_GROUP_COMMIT_H_

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
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
  // Runs a batch by `deadline`; must return exactly one result per request,
  // in order.
  using RunBatch = std::function<std::vector<absl::StatusOr<Result>>(
      const std::vector<const Request*>&, absl::Time deadline)>;

  GroupCommit(Options options, RunBatch run)
      : options_(options), run_(std::move(run)) {}

  // This request's result, by `deadline` (see the top of the file).
  absl::StatusOr<Result> Call(const Request& request, absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++callers_;
    absl::StatusOr<Result> result = Join(request, deadline);
    --callers_;
    return result;
  }

  // Callers inside Call now: waiting for their batch or running it.
  int callers() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return callers_;
  }

 private:
  // One caller in a batch. The batch owns it, so a caller that leaves at its
  // deadline while its batch runs leaves its request and result slot behind.
  struct Member {
    Member(const Request& r, absl::Time d) : request(r), deadline(d) {}
    const Request request;
    const absl::Time deadline;
    std::optional<absl::StatusOr<Result>> result;
    absl::CondVar wake;  // a result, or this member is to run the batch
  };

  struct Batch {
    std::vector<std::unique_ptr<Member>> members;
    Member* runner = nullptr;  // set when a slot is taken for this batch
    bool sent = false;
  };

  absl::StatusOr<Result> Join(const Request& request, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (unsent_.empty() || static_cast<int>(unsent_.back()->members.size()) >=
                               options_.max_batch) {
      unsent_.push_back(std::make_shared<Batch>());
    }
    const std::shared_ptr<Batch> batch = unsent_.back();
    batch->members.push_back(std::make_unique<Member>(request, deadline));
    Member& me = *batch->members.back();
    Dispatch();
    // Condition variables, one per member, not Mutex::Await: with many
    // callers waiting, Await would re-evaluate every waiter's condition on
    // each unlock.
    while (true) {
      if (batch->runner == &me) return Run(*batch, me);
      if (me.result.has_value()) return *std::move(me.result);
      if (absl::Now() >= deadline) return Leave(*batch, me);
      me.wake.WaitWithDeadline(&mu_, deadline);
    }
  }

  // Takes a slot for each oldest unsent batch while one is free, and wakes
  // the member that is to run it.
  void Dispatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (in_flight_ < options_.max_in_flight && !unsent_.empty()) {
      const std::shared_ptr<Batch> batch = std::move(unsent_.front());
      unsent_.pop_front();
      ++in_flight_;
      auto latest =
          std::max_element(batch->members.begin(), batch->members.end(),
                           [](const auto& a, const auto& b) {
                             return a->deadline < b->deadline;
                           });
      batch->runner = latest->get();
      batch->runner->wake.Signal();
    }
  }

  // Sends the batch's requests whose deadline has not passed, under the
  // runner's deadline (the latest), and hands out the results.
  absl::StatusOr<Result> Run(Batch& batch, Member& me)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = absl::Now();
    std::vector<Member*> sending;
    for (const std::unique_ptr<Member>& m : batch.members) {
      if (m->deadline <= now) {
        m->result = NothingWritten();
        m->wake.Signal();
      } else {
        sending.push_back(m.get());
      }
    }
    if (!sending.empty()) {
      batch.sent = true;
      std::vector<const Request*> requests;
      for (const Member* m : sending) requests.push_back(&m->request);
      mu_.Unlock();
      std::vector<absl::StatusOr<Result>> results = run_(requests, me.deadline);
      if (results.size() != requests.size()) {
        results.assign(requests.size(),
                       absl::InternalError("batch returned a wrong count"));
      }
      mu_.Lock();
      for (size_t i = 0; i < sending.size(); ++i) {
        sending[i]->result = std::move(results[i]);
        sending[i]->wake.Signal();
      }
    }
    --in_flight_;
    Dispatch();
    return *std::move(me.result);
  }

  // The answer to a caller whose deadline passed before its result came.
  absl::Status Leave(Batch& batch, const Member& me)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (batch.sent) {
      return absl::DeadlineExceededError(
          "the database did not finish this call's batch before the "
          "deadline; the change may or may not have been made");
    }
    // Out of the batch, so its request is never sent.
    auto& members = batch.members;
    members.erase(std::find_if(
        members.begin(), members.end(),
        [&](const std::unique_ptr<Member>& m) { return m.get() == &me; }));
    if (members.empty()) {
      // Only a batch still waiting for a slot can lose its last member: a
      // batch with a slot keeps its runner.
      unsent_.erase(std::find_if(
          unsent_.begin(), unsent_.end(),
          [&](const std::shared_ptr<Batch>& b) { return b.get() == &batch; }));
    }
    return NothingWritten();
  }

  static absl::Status NothingWritten() {
    return absl::DeadlineExceededError(
        "earlier batches held the database until this call's deadline; "
        "nothing was written");
  }

  const Options options_;
  const RunBatch run_;
  mutable absl::Mutex mu_;
  // Batches without a slot yet, oldest first; the last one takes new callers
  // until it is full.
  std::deque<std::shared_ptr<Batch>> unsent_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int callers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_GROUP_COMMIT_H_
