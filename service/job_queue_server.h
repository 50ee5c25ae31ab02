// The whole JobQueue server, assembled in one place: the store and its
// connection pool, the LISTEN notifier, the maintenance and schedule loops, the
// service behind the bearer-token check, the gRPC server, and the metrics (with
// their HTTP endpoint). `jobqueue_server serve` and the tests' in-process
// server both run this, so nothing is wired twice.
//
//   auto server = JobQueueServer::Start({.database_url = url,
//                                        .listen = "127.0.0.1:0"});
//   ... (*server)->address() ...
//   (*server)->Stop(absl::Seconds(10));

#ifndef JOBQUEUE_SERVICE_JOB_QUEUE_SERVER_H_
#define JOBQUEUE_SERVICE_JOB_QUEUE_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "console/console_api.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "service/auth/authenticated_service.h"
#include "service/auth/bearer_token_check.h"
#include "service/grpc_server.h"
#include "service/handlers/job_queue_service.h"
#include "service/observability/request_log.h"
#include "service/observability/service_metrics.h"
#include "storage/group_commit.h"
#include "storage/job_notifier.h"
#include "storage/maintenance_loop.h"
#include "storage/pg_job_store.h"
#include "storage/queue_stats.h"
#include "storage/recurring_loop.h"
#include "storage/schedule_loop.h"

namespace jobqueue {

// Whether gRPC server reflection is served: "open" (no token needed; it
// describes the API, never data) or "off".
enum class ReflectionMode { kOpen, kOff };
bool AbslParseFlag(absl::string_view text, ReflectionMode* mode,
                   std::string* error);
std::string AbslUnparseFlag(ReflectionMode mode);

// --database_pooling: "session" (a direct connection or a session pooler)
// or "transaction" (a transaction pooler such as PgBouncer in
// pool_mode=transaction or Supavisor on port 6543).
bool AbslParseFlag(absl::string_view text, DatabasePooling* pooling,
                   std::string* error);
std::string AbslUnparseFlag(DatabasePooling pooling);

class JobQueueServer {
 public:
  struct Config {
    std::string database_url;
    // What database_url connects through (see DatabasePooling).
    DatabasePooling database_pooling = DatabasePooling::kSession;
    // The one LISTEN connection's URL: direct or a session pooler, never a
    // transaction pooler. Empty: database_url in session pooling; in
    // transaction pooling, no LISTEN (waiting claims recheck every second,
    // logged at start and shown as jobqueue_notifier_polling 1).
    std::string listen_database_url;
    // host:port; port 0 picks a free one.
    std::string listen = "127.0.0.1:50051";
    // PEM files; TLS when both are set.
    std::string tls_cert_file;
    std::string tls_key_file;
    // Empty: no auth. Otherwise every JobQueue call needs
    // "authorization: Bearer <token>"; health and reflection do not.
    std::string bearer_token;
    // Serve without a bearer token on a `listen` other machines can reach
    // (anyone who reaches it reads and changes every job); refused unless
    // set.
    bool allow_unauthenticated = false;
    ReflectionMode reflection = ReflectionMode::kOpen;
    int pool_size = 8;
    // Largest payload, measured as JSON text.
    size_t max_payload_bytes = 256 * 1024;
    // Most bytes of jobs in one ClaimJobs response (see JobQueueService).
    size_t max_claim_response_bytes = 3584 * 1024;
    // How often a waiting claim looks again without a notification (see
    // JobQueueService::Options::claim_recheck); over 0.
    absl::Duration claim_recheck = absl::Seconds(1);
    // Deadline of calls that come without one, and the longest any
    // statement may run.
    absl::Duration default_deadline = absl::Seconds(30);
    // Zero: no maintenance loop in this process.
    absl::Duration maintenance_interval = absl::Seconds(1);
    // How often due scheduled jobs are made pending (every replica, apart
    // from maintenance): a job is claimable within about this much after it
    // is due. Zero: not in this process.
    absl::Duration schedule_interval = absl::Milliseconds(250);
    // How often due recurring schedules are looked for (every replica
    // looks; each tick still enqueues one job). Zero: none in this process.
    absl::Duration recurring_interval = absl::Seconds(1);
    // Completed jobs older than this are deleted; zero keeps them.
    absl::Duration retention = absl::Hours(24 * 7);
    // Longest a statement waits for a row another session holds before the
    // call gives up with ABORTED, nothing written (see PgJobStore).
    absl::Duration lock_timeout = absl::Seconds(2);
    RetryBackoff retry_backoff;
    GroupCommitOptions group_commit;
    // host:port of GET /metrics (port 0: any free port); empty: none. An
    // address in use turns metrics off with a log line: RPCs matter more.
    std::string metrics_listen = "127.0.0.1:9090";
    // The web console under /console on the metrics port. It is served
    // only when that port is loopback or a bearer token is set (its API
    // calls then need the token); otherwise a log line says it is off.
    bool console = true;
    RequestLogLevel log_requests = RequestLogLevel::kErrors;
    // Receives start-up and shutdown lines; none when unset.
    std::function<void(const std::string&)> log;
  };

  // INVALID_ARGUMENT naming the bad setting, without touching anything;
  // Start checks this first.
  static absl::Status CheckConfig(const Config& config);

  // INVALID_ARGUMENT for a bad setting, UNAVAILABLE when an address cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<JobQueueServer>> Start(Config config);
  // Stop(0) unless Stop was called.
  ~JobQueueServer();

  // Waiting claims return, health turns NOT_SERVING, calls in flight get
  // `grace` to finish; then maintenance stops and the pool closes.
  // Idempotent.
  void Stop(absl::Duration grace);

  // "host:port" of the gRPC server, with the port actually bound.
  std::string address() const { return grpc_server_->address(); }
  // "host:port" of GET /metrics; empty when there is no endpoint.
  std::string metrics_address() const;
  // Whether /console is served (see Config::console).
  bool console_served() const { return console_served_; }

 private:
  explicit JobQueueServer(Config config);
  void Log(const std::string& line) const;
  // Logs a warning when jobs can be read off the network: no token, or a
  // token without TLS, on an address other machines can reach.
  void WarnWhenExposed() const;

  const Config config_;
  metrics::Registry registry_;
  QueueStats queue_stats_;
  // Before the store, which resolves its statements' series when made.
  StatementMetrics statement_metrics_;
  // Before the store, which announces its changes to it.
  JobNotifier notifier_;
  PgJobStore store_;
  ServiceMetrics metrics_;
  std::unique_ptr<MaintenanceLoop> maintenance_;
  std::unique_ptr<ScheduleLoop> schedule_;
  std::unique_ptr<RecurringLoop> recurring_;
  JobQueueService service_;
  BearerTokenCheck bearer_token_;
  AuthenticatedService authenticated_service_;
  std::unique_ptr<GrpcServer> grpc_server_;
  // Before the metrics server, whose console routes call it.
  console::ConsoleApi console_api_;
  std::unique_ptr<metrics::HttpServer> metrics_server_;
  bool console_served_ = false;
  bool stopped_ = false;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_JOB_QUEUE_SERVER_H_
