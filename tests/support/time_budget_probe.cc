// Measures what the tests' time budgets wait for, on the build it is built
// in, so tests/support/time_budget.cc's factors come from figures, not guesses.
// Prints the median and the 99th percentile of each operation. With
// DATABASE_URL set as for the tests:
//
//   bazel run [--config=asan|--config=tsan] //tests/support:time_budget_probe

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/in_process_server.h"
#include "tests/support/test_database.h"

namespace jobqueue {
namespace {

// Runs `op` `n` times after one warm-up run; prints its median and p99.
void Measure(const char* name, int n, const std::function<void()>& op) {
  op();
  std::vector<absl::Duration> took;
  for (int i = 0; i < n; ++i) {
    const absl::Time start = absl::Now();
    op();
    took.push_back(absl::Now() - start);
  }
  std::sort(took.begin(), took.end());
  std::printf("%-34s median %9.3f ms   p99 %9.3f ms\n", name,
              absl::ToDoubleMilliseconds(took[n / 2]),
              absl::ToDoubleMilliseconds(took[n * 99 / 100]));
}

int Probe() {
  {
    // As a test starts its callers: each new thread while the earlier ones
    // still run, until it runs.
    std::vector<std::thread> alive;
    absl::Notification end;
    Measure("thread start (64 alive)", 64, [&] {
      std::atomic<bool> running{false};
      alive.emplace_back([&] {
        running = true;
        end.WaitForNotification();
      });
      while (!running) std::this_thread::yield();
    });
    end.Notify();
    for (std::thread& t : alive) t.join();
  }
  {
    absl::Mutex mu;
    absl::CondVar cv;
    Measure("condition variable hand-off", 200, [&] {
      bool woken = false;
      std::thread t([&] {
        absl::MutexLock lock(&mu);
        while (!woken) cv.Wait(&mu);
      });
      {
        absl::MutexLock lock(&mu);
        woken = true;
        cv.Signal();
      }
      t.join();
    });
  }
  auto db = TestDatabase::Create();
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", std::string(db.status().message()).c_str());
    return 1;
  }
  Measure("PostgreSQL connect", 50, [&] { pqxx::connection c((*db)->url()); });
  pqxx::connection c((*db)->url());
  Measure("PostgreSQL SELECT 1", 500,
          [&] { pqxx::nontransaction(c).exec("SELECT 1"); });
  auto server = InProcessServer::Start({.database_url = (*db)->url()});
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  auto stub = (*server)->NewStub();
  v1::EnqueueJobRequest request;
  request.set_user_phone("+15551234567");
  request.set_source_channel_id("probe");
  request.set_source_type(v1::SOURCE_TYPE_DM);
  Measure("gRPC EnqueueJob round trip", 300, [&] {
    v1::EnqueueJobResponse response;
    stub->EnqueueJob(CallContext().get(), request, &response).ok();
  });
  return 0;
}

}  // namespace
}  // namespace jobqueue

int main() { return jobqueue::Probe(); }
