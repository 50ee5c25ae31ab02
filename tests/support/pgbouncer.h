// Debian's PgBouncer (/usr/sbin/pgbouncer, package pgbouncer; tools/setup
// installs it) as a child process of the test, in front of the PostgreSQL
// server of a URL, on a free loopback port, in session or transaction
// pooling, with a config of its own in a temporary directory (auth_type
// trust). It refuses to run as root, so as root it runs as the `postgres`
// OS user (-u), as tools/pg runs PostgreSQL.
//
//   auto bouncer = PgBouncer::Start(db->url(), "transaction");
//   PgJobStore store({.url = (*bouncer)->Url(db->url()),
//                     .pooling = DatabasePooling::kTransaction});

#ifndef JOBQUEUE_TESTS_SUPPORT_PGBOUNCER_H_
#define JOBQUEUE_TESTS_SUPPORT_PGBOUNCER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/support/child_process.h"

namespace jobqueue {

class PgBouncer {
 public:
  // `pool_mode` is "session" or "transaction". FAILED_PRECONDITION when
  // pgbouncer is not installed.
  static absl::StatusOr<std::unique_ptr<PgBouncer>> Start(
      const std::string& server_url, const std::string& pool_mode);
  // Stops PgBouncer (SIGINT: at once) and removes its directory.
  ~PgBouncer();

  // `url` (of the server given to Start) through this PgBouncer: the same
  // user and database, at its host and port.
  std::string Url(const std::string& url) const;
  int port() const { return port_; }
  std::string output() { return process_->output(); }

 private:
  PgBouncer(std::unique_ptr<ChildProcess> process, std::string dir, int port)
      : process_(std::move(process)), dir_(std::move(dir)), port_(port) {}

  std::unique_ptr<ChildProcess> process_;
  std::string dir_;
  int port_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_PGBOUNCER_H_
