// tools/soak DURATION: the soak of tests/fault/soak.h for DURATION (e.g.
// 10m, 2h); exits 1 when a check found a violation or a server's RSS grew
// faster than --max_rss_slope after --rss_warmup.
//
//   soak_main --server=PATH/jobqueue_server --duration=10m [--fault_every=5s]

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "tests/fault/soak.h"

ABSL_FLAG(std::string, server, "", "path of jobqueue_server");
ABSL_FLAG(absl::Duration, duration, absl::Minutes(1), "how long to soak");
ABSL_FLAG(absl::Duration, fault_every, absl::Seconds(5),
          "time between faults (kill, crash, pause in turn)");
ABSL_FLAG(int, enqueuers, 6, "enqueuing threads");
ABSL_FLAG(int, workers, 8, "worker threads");
ABSL_FLAG(std::vector<std::string>, faults,
          std::vector<std::string>({"kill", "crash", "pause"}),
          "faults to cycle through (kill, crash, pause); without kill the "
          "servers' RSS over the whole soak shows any leak");
ABSL_FLAG(absl::Duration, rss_warmup, absl::Minutes(5),
          "a server process's RSS slope counts from this age on");
ABSL_FLAG(double, max_rss_slope, 48,
          "most RSS growth after the warm-up, KiB per minute (least squares "
          "over the samples); a faster one fails the soak");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  jobqueue::fault::SoakResult result = jobqueue::fault::RunSoak(
      {.duration = absl::GetFlag(FLAGS_duration),
       .fault_every = absl::GetFlag(FLAGS_fault_every),
       .server_binary = absl::GetFlag(FLAGS_server),
       .enqueuers = absl::GetFlag(FLAGS_enqueuers),
       .workers = absl::GetFlag(FLAGS_workers),
       .faults = absl::GetFlag(FLAGS_faults),
       .rss_warmup = absl::GetFlag(FLAGS_rss_warmup),
       .max_rss_slope = absl::GetFlag(FLAGS_max_rss_slope)},
      std::cout);
  return result.problems.empty() ? 0 : 1;
}
