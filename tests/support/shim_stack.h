// The processes of a Twilio end-to-end test, all on 127.0.0.1: a fresh
// PostgreSQL database (on the server $DATABASE_URL names), jobqueue_server
// over it, and twilio_shim in front of the server, both requiring a bearer
// token between them.
//
//   absl::StatusOr<std::unique_ptr<ShimStack>> stack = ShimStack::Start();
//   httplib::Result answer = (*stack)->Post("/twilio/messages", body, sig);
//   absl::StatusOr<std::vector<v1::Job>> jobs = (*stack)->ListAllJobs();
#ifndef JOBQUEUE_TESTS_SUPPORT_SHIM_STACK_H_
#define JOBQUEUE_TESTS_SUPPORT_SHIM_STACK_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "httplib.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/test_database.h"

namespace jobqueue::shim {

class ShimStack {
 public:
  // The Twilio auth token the shim verifies with.
  static constexpr char kAuthToken[] = "e2e-twilio-auth-token";
  // What Twilio calls: a proxy that strips /jobqueue in front of the shim.
  static constexpr char kPublicBaseUrl[] =
      "https://hooks.example.test/jobqueue";

  struct Options {
    // More twilio_shim flags, after the stack's own (a repeated flag wins).
    std::vector<std::string> shim_flags;
    // When both are set, jobqueue_server serves TLS with this certificate and
    // key (PEM files), and the test's own calls trust the certificate.
    std::string service_tls_cert_file;
    std::string service_tls_key_file;
    // A migrated database to use instead of a fresh TestDatabase (e.g. one in
    // a private cluster the test crashes: tests/fault/private_postgres.h).
    std::string database_url;
  };

  // Creates the database and starts both processes, each ready to serve.
  static absl::StatusOr<std::unique_ptr<ShimStack>> Start();
  static absl::StatusOr<std::unique_ptr<ShimStack>> Start(Options options);

  // Stops jobqueue_server (SIGTERM), or starts it again on the same port.
  absl::Status StopService();
  absl::Status StartService();
  // Stops twilio_shim (SIGTERM), or starts it again with the same spool.
  absl::Status StopShim();
  absl::Status StartShim();
  // SIGKILL, no grace: what a crash or the OOM killer does.
  absl::Status KillService();
  absl::Status KillShim();

  // The URL Twilio would call for `target` (path and query).
  std::string PublicUrl(absl::string_view target) const;

  // POSTs `body` to the shim as Twilio would, with `signature` as
  // X-Twilio-Signature unless empty.
  httplib::Result Post(
      absl::string_view target, const std::string& body,
      const std::string& signature,
      const std::string& content_type = "application/x-www-form-urlencoded");
  httplib::Result Get(absl::string_view target);
  // GET /metrics on the shim's metrics address (not its webhook port).
  httplib::Result GetMetrics();

  // Every job in the database, through the ListJobs RPC.
  absl::StatusOr<std::vector<v1::Job>> ListAllJobs();
  // Calls the service with the bearer token and a 10 s deadline.
  v1::JobQueue::Stub& service() { return *stub_; }
  std::unique_ptr<grpc::ClientContext> CallContext() const;

  const std::string& database_url() const {
    return database_ != nullptr ? database_->url() : options_.database_url;
  }
  const std::string& spool_dir() const { return spool_dir_; }
  // Where twilio_shim listens on 127.0.0.1, and its process id (0 when it
  // is stopped).
  int shim_port() const { return shim_port_; }
  // "http://127.0.0.1:PORT" of the shim's metrics, as it printed at start.
  const std::string& shim_metrics_url() const { return shim_metrics_url_; }
  pid_t shim_pid() const { return shim_ == nullptr ? 0 : shim_->pid(); }
  // What each process printed so far, for failure messages.
  std::string Outputs();

 private:
  ShimStack() = default;

  Options options_;
  std::unique_ptr<TestDatabase> database_;
  int service_port_ = 0;
  int shim_port_ = 0;
  std::string shim_metrics_url_;
  std::string spool_dir_;
  std::unique_ptr<ChildProcess> service_;
  std::unique_ptr<ChildProcess> shim_;
  std::string earlier_output_;
  std::unique_ptr<v1::JobQueue::Stub> stub_;
};

// `params` encoded as application/x-www-form-urlencoded, as Twilio sends them.
std::string FormEncode(
    const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_TESTS_SUPPORT_SHIM_STACK_H_
