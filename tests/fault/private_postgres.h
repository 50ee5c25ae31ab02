// A private PostgreSQL 15 cluster for tests that crash or pause the database
// itself (never the shared one): initdb into a fresh directory under /tmp
// (the `postgres` OS user must reach it; Bazel's TEST_TMPDIR under /root is
// not reachable), a free loopback port, fsync and synchronous_commit on, run
// as `postgres` through runuser as tools/pg does, and removed on destruction
// (or by a watchdog once the test's process is gone, e.g. after a timeout).
//
//   auto pg = PrivatePostgres::Start();
//   std::string url = (*pg)->CreateMigratedDatabase("jobqueue");
//   (*pg)->Crash();    // pg_ctl stop -m immediate: no shutdown checkpoint
//   (*pg)->Restart();  // crash recovery from the WAL
//   (*pg)->Pause();    // SIGSTOP the postmaster and every backend

#ifndef JOBQUEUE_TESTS_FAULT_PRIVATE_POSTGRES_H_
#define JOBQUEUE_TESTS_FAULT_PRIVATE_POSTGRES_H_

#include <sys/types.h>

#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace jobqueue::fault {

class PrivatePostgres {
 public:
  static absl::StatusOr<std::unique_ptr<PrivatePostgres>> Start();
  // Stops the cluster (immediately) and removes its directory.
  ~PrivatePostgres();

  int port() const { return port_; }
  std::string url(const std::string& database) const;
  // CREATE DATABASE `name` and apply the embedded migrations; its URL.
  absl::StatusOr<std::string> CreateMigratedDatabase(const std::string& name);

  // pg_ctl stop -m immediate: every backend killed, no checkpoint.
  absl::Status Crash();
  // pg_ctl start, waiting until it accepts connections (after recovery).
  absl::Status Restart();
  // SIGSTOP / SIGCONT the postmaster and all its children.
  absl::Status Pause();
  absl::Status Resume();
  // The postmaster's pid, from postmaster.pid (0 when not running).
  pid_t postmaster_pid() const;

 private:
  PrivatePostgres(std::string dir, int port) : dir_(dir), port_(port) {}
  absl::Status SignalAll(int sig);

  const std::string dir_;
  const int port_;
};

// Runs `command` through /bin/sh; its exit status with its output on error.
absl::Status RunShell(const std::string& command);

// The parent pid in an open /proc/<pid>/stat, or 0 when it cannot be read:
// a process that exits after its file was opened fails the read (ESRCH).
pid_t ParentPidFromStat(std::istream& stat);

}  // namespace jobqueue::fault

#endif  // JOBQUEUE_TESTS_FAULT_PRIVATE_POSTGRES_H_
