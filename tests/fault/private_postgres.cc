#include "tests/fault/private_postgres.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/embedded_migrations.h"
#include "storage/migrator.h"
#include "tests/support/child_process.h"

namespace jobqueue::fault {
namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin";

std::string AsPostgres(const std::string& command) {
  return absl::StrCat("cd / && runuser -u postgres -- ", command);
}

}  // namespace

absl::Status RunShell(const std::string& command) {
  FILE* p = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (p == nullptr) return absl::InternalError("popen failed");
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), p)) > 0)
    output.append(buffer, n);
  const int status = pclose(p);
  if (status != 0) {
    return absl::InternalError(
        absl::StrCat("`", command, "` exited with ", status, ": ", output));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PrivatePostgres>> PrivatePostgres::Start() {
  char dir_template[] = "/tmp/jobqueue-fault-pg-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  const std::string dir = dir_template;
  const int port = UnusedTcpPort();
  std::unique_ptr<PrivatePostgres> pg(new PrivatePostgres(dir, port));
  const std::string data = dir + "/data";
  absl::Status s = RunShell(absl::StrCat(
      "chown postgres:postgres ", dir, " && chmod 700 ", dir, " && ",
      AsPostgres(absl::StrCat(kBin, "/initdb -D ", data,
                              " -U postgres --auth=trust -E UTF8 "
                              "--locale=C.UTF-8 --no-sync >/dev/null"))));
  if (!s.ok()) return s;
  {
    std::ofstream conf(data + "/postgresql.auto.conf", std::ios::app);
    conf << "listen_addresses = '127.0.0.1'\nport = " << port
         << "\nunix_socket_directories = '" << data
         << "'\nmax_connections = 100\nfsync = on\nsynchronous_commit = on\n"
            "full_page_writes = on\nshared_buffers = 16MB\n"
            "recovery_init_sync_method = syncfs\n";
  }
  s = RunShell(
      absl::StrCat("chown postgres:postgres ", data, "/postgresql.auto.conf"));
  if (!s.ok()) return s;
  s = pg->Restart();
  if (!s.ok()) return s;
  // Should this process die without its destructor (a Bazel timeout's
  // SIGKILL), a watchdog resumes the cluster (it may be paused), stops it
  // and removes it, so no postmaster outlives the test.
  s = RunShell(absl::StrCat(
      "setsid sh -c 'while kill -0 ", getpid(),
      " 2>/dev/null; do sleep 1; done; pm=$(head -1 ", data,
      "/postmaster.pid); [ -n \"$pm\" ] && kill -CONT $pm $(ps -o pid= --ppid "
      "$pm); cd / && runuser -u postgres -- ",
      kBin, "/pg_ctl stop -D ", data, " -m immediate -s; rm -rf ", dir,
      "' </dev/null >/dev/null 2>&1 &"));
  if (!s.ok()) return s;
  return pg;
}

PrivatePostgres::~PrivatePostgres() {
  Resume().IgnoreError();
  RunShell(AsPostgres(absl::StrCat(kBin, "/pg_ctl stop -D ", dir_,
                                   "/data -m immediate -s")))
      .IgnoreError();
  RunShell(absl::StrCat("rm -rf ", dir_)).IgnoreError();
}

std::string PrivatePostgres::url(const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", database);
}

absl::StatusOr<std::string> PrivatePostgres::CreateMigratedDatabase(
    const std::string& name) {
  try {
    pqxx::connection c(url("postgres"));
    pqxx::nontransaction(c).exec(absl::StrCat("CREATE DATABASE ", name));
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
  absl::StatusOr<MigrationReport> report =
      ApplyMigrations(url(name), EmbeddedMigrationFiles());
  if (!report.ok()) return report.status();
  return url(name);
}

absl::Status PrivatePostgres::Crash() {
  return RunShell(AsPostgres(
      absl::StrCat(kBin, "/pg_ctl stop -D ", dir_, "/data -m immediate -s")));
}

absl::Status PrivatePostgres::Restart() {
  return RunShell(
      AsPostgres(absl::StrCat(kBin, "/pg_ctl start -D ", dir_, "/data -l ",
                              dir_, "/postgres.log -w -t 60 -s")));
}

pid_t PrivatePostgres::postmaster_pid() const {
  std::ifstream f(dir_ + "/data/postmaster.pid");
  std::string line;
  int pid = 0;
  if (std::getline(f, line) && absl::SimpleAtoi(line, &pid)) return pid;
  return 0;
}

pid_t ParentPidFromStat(std::istream& stat) {
  std::string content;
  std::getline(stat, content);
  const size_t close = content.rfind(')');
  if (close == std::string::npos || close + 2 > content.size()) return 0;
  // After "(comm) ": state, then ppid.
  const std::string rest = content.substr(close + 2);
  const size_t space = rest.find(' ');
  int ppid = 0;
  if (space == std::string::npos ||
      !absl::SimpleAtoi(
          rest.substr(space + 1, rest.find(' ', space + 1) - space - 1),
          &ppid)) {
    return 0;
  }
  return ppid;
}

absl::Status PrivatePostgres::SignalAll(int sig) {
  const pid_t postmaster = postmaster_pid();
  if (postmaster == 0) return absl::FailedPreconditionError("not running");
  std::vector<pid_t> pids = {postmaster};
  DIR* proc = opendir("/proc");
  while (dirent* e = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    if (ParentPidFromStat(stat) == postmaster) pids.push_back(pid);
  }
  closedir(proc);
  // Children first when stopping, so the postmaster does not react to them.
  for (auto it = pids.rbegin(); it != pids.rend(); ++it) kill(*it, sig);
  return absl::OkStatus();
}

absl::Status PrivatePostgres::Pause() { return SignalAll(SIGSTOP); }
absl::Status PrivatePostgres::Resume() { return SignalAll(SIGCONT); }

}  // namespace jobqueue::fault
