// Mixed load with faults for as long as asked: two jobqueue_server
// processes over a private PostgreSQL cluster, enqueuers and chaotic workers
// (tests/fault/workload.h), and every `fault_every` the next fault in turn:
// SIGKILL of a server (restarted), a PostgreSQL crash (immediate stop and
// restart), a 2 s SIGSTOP of the database. Each server's VmRSS and Threads
// are sampled every second. At the end the history checker, the table checks
// and each server process's RSS slope after its warm-up (rss_slope.h) are
// reported, a slope past the bound being a problem like a violation.
// tools/soak runs it; soak_test runs 25 s.

#ifndef JOBQUEUE_TESTS_FAULT_SOAK_H_
#define JOBQUEUE_TESTS_FAULT_SOAK_H_

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace jobqueue::fault {

struct SoakOptions {
  absl::Duration duration = absl::Seconds(20);
  absl::Duration fault_every = absl::Seconds(4);
  std::string server_binary;  // jobqueue_server
  int enqueuers = 6;
  int workers = 8;
  // Which faults to cycle through: "kill", "crash", "pause". Without "kill"
  // the server processes live the whole soak, so their RSS shows a leak.
  std::vector<std::string> faults = {"kill", "crash", "pause"};
  // A server process's RSS slope counts from this age on, and a slope past
  // max_rss_slope (KiB per minute) fails the soak. A process that did not
  // live past the warm-up by RssSeries::kMinimumSpan has no slope.
  absl::Duration rss_warmup = absl::Minutes(5);
  double max_rss_slope = 48;
};

struct SoakResult {
  std::vector<std::string> problems;  // violations; empty when clean
  int calls = 0, enqueued = 0, completed = 0, faults = 0;
  long most_rss_kib = 0;
  int most_threads = 0;
  // Per server, its last process's RSS slope in KiB per minute after the
  // warm-up; nullopt when that process was too young.
  std::vector<std::optional<double>> rss_slopes;
};

// Progress and the samples go to `log`.
SoakResult RunSoak(const SoakOptions& options, std::ostream& log);

}  // namespace jobqueue::fault

#endif  // JOBQUEUE_TESTS_FAULT_SOAK_H_
