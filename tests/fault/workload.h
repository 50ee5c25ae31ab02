// Load for the fault suite and tools/soak, every call recorded into a
// History: enqueuers that retry an ambiguous call with the same idempotency
// key, and workers with short leases that pause at random (their leases
// lapse and are rescued), heartbeat, complete, fail, snooze, retry and try
// stale tokens. Every loop is bounded by a deadline and a count.

#ifndef JOBQUEUE_TESTS_FAULT_WORKLOAD_H_
#define JOBQUEUE_TESTS_FAULT_WORKLOAD_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/fault/history.h"
#include "tests/support/child_process.h"

namespace jobqueue::fault {

// True when a failed call's effect is unknown (its answer was lost).
bool Ambiguous(const grpc::Status& status);

absl::Time FromTimestamp(const google::protobuf::Timestamp& t);
void SetDuration(absl::Duration d, google::protobuf::Duration* out);

// The lease a claim (or a stream's push) handed out in `job`.
Lease LeaseOf(const v1::Job& job);

struct EnqueuerOptions {
  std::string name;        // prefix of idempotency keys
  int conversations = 16;  // channels fault-<0..n-1>
  int max_jobs = 1000;     // per enqueuer
  absl::Duration deadline = absl::Seconds(2);
  absl::Duration pause = absl::Milliseconds(5);  // between jobs
  // How long a job's enqueue is retried (same key) before it is given up.
  absl::Duration retry_for = absl::Seconds(20);
};

// Enqueues jobs one after another until `stop`, `*done` (when given) or
// max_jobs, alternating `stubs`, each with its own key, retrying ambiguous
// answers with the same key. Returns how many were acknowledged.
int RunEnqueuer(const std::vector<v1::JobQueue::Stub*>& stubs,
                const EnqueuerOptions& options, absl::Time stop,
                History& history, const std::atomic<bool>* done = nullptr);

struct WorkerOptions {
  std::string name;
  absl::Duration lease = absl::Seconds(1);
  absl::Duration deadline = absl::Seconds(3);
  unsigned seed = 1;
  // Percentages of claimed jobs: paused past their lease (abandoned), failed
  // (half retryable), snoozed (up to 300 ms), completed with a stale token
  // first; the rest complete.
  int pause_percent = 8;
  int fail_percent = 10;
  int snooze_percent = 5;
  int stale_percent = 5;
  int max_claims = 100000;
};

// Claims and works until `stop` or `done` is set.
void RunWorker(const std::vector<v1::JobQueue::Stub*>& stubs,
               const WorkerOptions& options, absl::Time stop,
               const std::atomic<bool>& done, History& history);

// What a scenario's load must have shown before it may end: an
// acknowledged enqueue that started at or after each of `since` (a restart,
// a resume), and at least so many acknowledged enqueues and completions.
struct Progress {
  std::vector<absl::Time> since;
  int enqueues = 0;
  int completions = 0;
};

// Waits until `history` shows `wanted`, or `give_up`. OK, or
// DEADLINE_EXCEEDED saying what was still missing.
absl::Status WaitForProgress(const History& history, const Progress& wanted,
                             absl::Time give_up);

// Every job's id and idempotency key ("" when none) in `database_url`'s
// jobs table, and the ids of those complete.
absl::StatusOr<std::map<std::string, std::string>> JobsTable(
    const std::string& database_url, std::set<std::string>* complete = nullptr);

// Acknowledged completions whose job is not complete in the table.
std::vector<std::string> CheckCompletions(
    const std::vector<Call>& calls, const std::set<std::string>& complete);

// jobqueue_server serving `database_url` on `address`, once it says so.
absl::StatusOr<std::unique_ptr<ChildProcess>> StartServer(
    const std::string& binary, const std::string& database_url,
    const std::string& address, const std::vector<std::string>& extra = {});

// From /proc/<pid>/status: VmRSS in KiB and Threads (0 when unreadable).
struct ProcessUsage {
  long rss_kib = 0;
  int threads = 0;
};
ProcessUsage Usage(pid_t pid);

}  // namespace jobqueue::fault

#endif  // JOBQUEUE_TESTS_FAULT_WORKLOAD_H_
