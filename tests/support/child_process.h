// Runs a program of this workspace as a child process for end-to-end tests,
// capturing its stdout and stderr.
//
//   auto server = ChildProcess::Start(RunfilePath("service/jobqueue_server"),
//                                     {"serve", "--listen=127.0.0.1:0"});
//   (*server)->WaitForOutput("serving on", absl::Seconds(10));

#ifndef JOBQUEUE_TESTS_SUPPORT_CHILD_PROCESS_H_
#define JOBQUEUE_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobqueue {

class ChildProcess {
 public:
  // Starts `binary` with `args` and the test's environment, where `extra_env`
  // adds or replaces variables.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::string& binary, const std::vector<std::string>& args,
      const std::vector<std::pair<std::string, std::string>>& extra_env = {});

  // Kills the process (SIGKILL) if it still runs.
  ~ChildProcess();

  absl::Status Signal(int sig);
  // The exit code (128 + signal when killed by one), or DEADLINE_EXCEEDED.
  // Once it returns a code, output() holds everything the process wrote.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // Combined stdout and stderr so far.
  std::string output();
  // True once `needle` appeared in the output, false after `timeout`.
  bool WaitForOutput(absl::string_view needle, absl::Duration timeout);
  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int output_fd);
  void ReadOutput();

  const pid_t pid_;
  const int output_fd_;
  std::thread reader_;
  absl::Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  bool exited_ = false;
  int exit_code_ = 0;
};

// Absolute path of a file of this workspace in the test's runfiles.
std::string RunfilePath(absl::string_view workspace_relative_path);

// A TCP port on 127.0.0.1 that was free a moment ago.
int UnusedTcpPort();

// What follows `prefix` on the first line of `output` that holds it, up to
// the end of that line (e.g. the address after "listening on "); empty when
// no line holds it.
std::string TextAfter(absl::string_view output, absl::string_view prefix);

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_CHILD_PROCESS_H_
