// A fixed pool of threads running blocking tasks in order of arrival.
//
//   WorkerPool pool;
//   pool.Start(64);
//   pool.Add([] { ... });
//   pool.Stop();  // runs what was queued, then joins
#ifndef JOBQUEUE_SHIM_WEBHOOK_WORKER_POOL_H_
#define JOBQUEUE_SHIM_WEBHOOK_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace jobqueue::shim {

class WorkerPool {
 public:
  void Start(int threads);

  // Runs what was queued, then joins the threads.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  void Add(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_WEBHOOK_WORKER_POOL_H_
