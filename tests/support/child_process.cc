#include "tests/support/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace jobqueue {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::string& binary, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& extra_env) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const absl::string_view entry(*e);
    const bool overridden =
        std::any_of(extra_env.begin(), extra_env.end(), [&](const auto& extra) {
          return absl::StartsWith(entry, absl::StrCat(extra.first, "="));
        });
    if (!overridden) env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra_env) {
    env.push_back(absl::StrCat(name, "=", value));
  }
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  for (std::string& s : env) envp.push_back(s.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::InternalError("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, fds[0]));
}

ChildProcess::ChildProcess(pid_t pid, int output_fd)
    : pid_(pid), output_fd_(output_fd) {
  reader_ = std::thread([this] { ReadOutput(); });
}

ChildProcess::~ChildProcess() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  if (reader_.joinable()) reader_.join();
  close(output_fd_);
}

void ChildProcess::ReadOutput() {
  char buffer[4096];
  while (true) {
    const ssize_t n = read(output_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    absl::MutexLock lock(&mu_);
    output_.append(buffer, n);
  }
}

absl::Status ChildProcess::Signal(int sig) {
  if (exited_ || kill(pid_, sig) != 0) {
    return absl::FailedPreconditionError("process is not running");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!exited_) {
    int status;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      exit_code_ =
          WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      // Everything it wrote is read once the pipe reports end of file.
      if (reader_.joinable()) reader_.join();
    } else if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError("process still running");
    } else {
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  return exit_code_;
}

std::string ChildProcess::output() {
  absl::MutexLock lock(&mu_);
  return output_;
}

bool ChildProcess::WaitForOutput(absl::string_view needle,
                                 absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  const std::string wanted(needle);
  auto found = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> bool {
    return output_.find(wanted) != std::string::npos;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&found), timeout);
}

std::string RunfilePath(absl::string_view workspace_relative_path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/",
                      workspace != nullptr ? workspace : "jobqueue", "/",
                      workspace_relative_path);
}

int UnusedTcpPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string TextAfter(absl::string_view output, absl::string_view prefix) {
  const size_t start = output.find(prefix);
  if (start == absl::string_view::npos) return "";
  absl::string_view rest = output.substr(start + prefix.size());
  return std::string(rest.substr(0, rest.find('\n')));
}

}  // namespace jobqueue
