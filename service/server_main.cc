// jobqueue_server: serves the JobQueue gRPC API, or applies the migrations.
//
//   jobqueue_server migrate --database_url=postgresql://...
//   jobqueue_server serve --database_url=postgresql://... --listen=HOST:PORT

#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "service/job_queue_server.h"
#include "service/observability/request_log.h"
#include "storage/embedded_migrations.h"
#include "storage/migrator.h"

ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL URL; defaults to $DATABASE_URL");
ABSL_FLAG(jobqueue::DatabasePooling, database_pooling,
          jobqueue::DatabasePooling::kSession,
          "what --database_url connects through: session (direct, or a "
          "session pooler such as Supabase's port 5432) or transaction (a "
          "transaction pooler such as Supabase's port 6543: no prepared "
          "statements, SET LOCAL per transaction, no LISTEN on that URL)");
ABSL_FLAG(std::string, listen_database_url, "",
          "URL of the one LISTEN connection that wakes waiting claims: direct "
          "or a session pooler, never a transaction pooler; default "
          "--database_url in session pooling, none (poll every second) in "
          "transaction pooling");
ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "host:port to serve gRPC on (port 0: any free port); an address "
          "other machines can reach needs a bearer token, or "
          "--allow_unauthenticated");
ABSL_FLAG(int, pool_size, 8, "most database connections held at once");
ABSL_FLAG(int64_t, max_payload_bytes, 256 * 1024,
          "largest job payload, measured as JSON text");
ABSL_FLAG(int64_t, max_claim_response_bytes, 3584 * 1024,
          "most bytes of jobs in one ClaimJobs response (clients receive at "
          "most 4 MiB by default); the other claimed jobs are handed back");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "on SIGTERM/SIGINT, how long calls in flight may take to finish");
ABSL_FLAG(absl::Duration, default_deadline, absl::Seconds(30),
          "deadline of calls that come without one, and the longest any "
          "statement may run");
ABSL_FLAG(std::string, bearer_token_file, "",
          "file holding the bearer token callers must send; defaults to "
          "$JOBQUEUE_BEARER_TOKEN (or $JOBQUEUE_AUTH_TOKEN); no token means "
          "no auth, refused off loopback without --allow_unauthenticated");
ABSL_FLAG(std::string, auth_token_file, "",
          "the old name of --bearer_token_file, still accepted");
ABSL_FLAG(bool, allow_unauthenticated, false,
          "serve without a bearer token on a --listen address other machines "
          "can reach (0.0.0.0, a LAN address, a host name): everyone who "
          "reaches the port can then read and change every job");
ABSL_FLAG(jobqueue::ReflectionMode, reflection, jobqueue::ReflectionMode::kOpen,
          "gRPC server reflection: open (served without a token; it describes "
          "the API, never data) or off");
ABSL_FLAG(std::string, tls_cert_file, "", "PEM certificate; enables TLS");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key for TLS");
ABSL_FLAG(bool, migrate, false, "apply pending migrations before serving");
ABSL_FLAG(absl::Duration, maintenance_interval, absl::Seconds(1),
          "how often lapsed leases are rescued and old completed jobs "
          "deleted; 0 runs no maintenance in this process");
ABSL_FLAG(absl::Duration, schedule_interval, absl::Milliseconds(250),
          "how often due scheduled jobs are made pending (every replica "
          "does it; a job is claimable within about this much after it is "
          "due); 0 leaves it to other replicas");
ABSL_FLAG(absl::Duration, recurring_interval, absl::Seconds(1),
          "how often due recurring schedules are enqueued (each tick is one "
          "job however many replicas look); 0 runs none in this process");
ABSL_FLAG(absl::Duration, retention, absl::Hours(24 * 7),
          "completed jobs older than this are deleted; 0 keeps them");
ABSL_FLAG(absl::Duration, lock_timeout, absl::Seconds(2),
          "longest a statement waits for a row another session holds (an "
          "open transaction) before the call fails with ABORTED, nothing "
          "written; calls batched with it are retried one by one");
ABSL_FLAG(absl::Duration, retry_base_delay, absl::Seconds(1),
          "backoff after a job's first retryable failure; doubles each time");
ABSL_FLAG(absl::Duration, retry_max_delay, absl::Hours(1),
          "longest backoff between attempts");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9090",
          "host:port to serve Prometheus metrics at /metrics on (port 0: any "
          "free port); empty: no metrics endpoint");
ABSL_FLAG(bool, console, true,
          "serve the web console at /console on --metrics_listen (only when "
          "that is a loopback address or a bearer token is set)");
ABSL_FLAG(jobqueue::RequestLogLevel, log_requests,
          jobqueue::RequestLogLevel::kErrors,
          "which RPCs get a log line on stderr: all, errors or none");

namespace jobqueue {
namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "jobqueue: %s\n", line.c_str());
  std::fflush(stderr);
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

std::string DatabaseUrl() {
  std::string url = absl::GetFlag(FLAGS_database_url);
  return url.empty() ? Env("DATABASE_URL") : url;
}

// The token from --bearer_token_file (or its old name --auth_token_file),
// else $JOBQUEUE_BEARER_TOKEN, else $JOBQUEUE_AUTH_TOKEN; never logged.
// False when a named file has no token.
bool BearerToken(std::string* token) {
  std::string path = absl::GetFlag(FLAGS_bearer_token_file);
  if (path.empty()) path = absl::GetFlag(FLAGS_auth_token_file);
  if (path.empty()) {
    *token = Env("JOBQUEUE_BEARER_TOKEN");
    if (token->empty()) *token = Env("JOBQUEUE_AUTH_TOKEN");
    return true;
  }
  std::ifstream in(path);
  if (!in) return false;
  std::getline(in, *token);
  *token = std::string(absl::StripAsciiWhitespace(*token));
  return !token->empty();
}

int Migrate(const std::string& url) {
  absl::StatusOr<MigrationReport> report =
      ApplyMigrations(url, EmbeddedMigrationFiles());
  if (!report.ok()) {
    Log(absl::StrCat("migrate failed: ", report.status().ToString()));
    return 1;
  }
  Log(absl::StrCat(
      "migrations: ", report->applied.size(), " applied",
      report->applied.empty()
          ? ""
          : absl::StrCat(" (", absl::StrJoin(report->applied, ", "), ")"),
      ", ", report->already_applied, " already applied"));
  return 0;
}

int Serve(const std::string& url) {
  std::string token;
  if (!BearerToken(&token)) {
    Log("cannot read a token from --bearer_token_file");
    return 2;
  }
  const JobQueueServer::Config config = {
      .database_url = url,
      .database_pooling = absl::GetFlag(FLAGS_database_pooling),
      .listen_database_url = absl::GetFlag(FLAGS_listen_database_url),
      .listen = absl::GetFlag(FLAGS_listen),
      .tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file),
      .tls_key_file = absl::GetFlag(FLAGS_tls_key_file),
      .bearer_token = token,
      .allow_unauthenticated = absl::GetFlag(FLAGS_allow_unauthenticated),
      .reflection = absl::GetFlag(FLAGS_reflection),
      .pool_size = absl::GetFlag(FLAGS_pool_size),
      .max_payload_bytes =
          static_cast<size_t>(absl::GetFlag(FLAGS_max_payload_bytes)),
      .max_claim_response_bytes =
          static_cast<size_t>(absl::GetFlag(FLAGS_max_claim_response_bytes)),
      .default_deadline = absl::GetFlag(FLAGS_default_deadline),
      .maintenance_interval = absl::GetFlag(FLAGS_maintenance_interval),
      .schedule_interval = absl::GetFlag(FLAGS_schedule_interval),
      .recurring_interval = absl::GetFlag(FLAGS_recurring_interval),
      .retention = absl::GetFlag(FLAGS_retention),
      .lock_timeout = absl::GetFlag(FLAGS_lock_timeout),
      .retry_backoff = {.base = absl::GetFlag(FLAGS_retry_base_delay),
                        .max = absl::GetFlag(FLAGS_retry_max_delay)},
      .metrics_listen = absl::GetFlag(FLAGS_metrics_listen),
      .console = absl::GetFlag(FLAGS_console),
      .log_requests = absl::GetFlag(FLAGS_log_requests),
      .log = Log,
  };
  // Refused before the migrations run, so a bad setting changes nothing.
  if (absl::Status checked = JobQueueServer::CheckConfig(config);
      !checked.ok()) {
    Log(checked.ToString());
    return 2;
  }
  if (absl::GetFlag(FLAGS_migrate) && Migrate(url) != 0) return 1;

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<JobQueueServer>> server =
      JobQueueServer::Start(config);
  if (!server.ok()) {
    Log(server.status().ToString());
    return absl::IsUnavailable(server.status()) ? 1 : 2;
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  Log(absl::StrCat("received ", sig == SIGINT ? "SIGINT" : "SIGTERM",
                   "; draining calls in flight"));
  (*server)->Stop(absl::GetFlag(FLAGS_shutdown_grace));
  Log("stopped");
  return 0;
}

}  // namespace
}  // namespace jobqueue

int main(int argc, char** argv) {
  // glibc gives each thread that allocates its own pool (up to 8 per core),
  // and keeps what they free: under an hour of database crashes and pauses
  // a server's RSS kept growing 68 KiB/min with the default and leveled off
  // at about 10 with one pool per core (tools/soak 1h --faults=crash,pause,
  // a 2-core VM). A malloc environment setting still wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX,
            std::max(2, static_cast<int>(std::thread::hardware_concurrency())));
  }
  absl::SetProgramUsageMessage(
      "serves the JobQueue gRPC API or applies its migrations\n"
      "usage: jobqueue_server [serve|migrate] [--flags]");
  // --help lists the flags of the file named after the program; this
  // program's are in server_main.cc.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "service/server_main.cc");
  };
  absl::SetFlagsUsageConfig(usage);
  // Debian's abseil checks every Mutex (gRPC's too) for lock-order cycles,
  // a debugging aid that costs each lock a graph lookup.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string command = args.size() > 1 ? args[1] : "serve";
  if (args.size() > 2 || (command != "serve" && command != "migrate")) {
    std::fprintf(stderr,
                 "usage: jobqueue_server [serve|migrate] [--flags]; see "
                 "--help\n");
    return 2;
  }
  // Bounds connecting to a database that does not answer, unless the URL
  // says otherwise (libpq reads this variable as its default).
  setenv("PGCONNECT_TIMEOUT", "5", /*overwrite=*/0);
  const std::string url = jobqueue::DatabaseUrl();
  if (url.empty()) {
    std::fprintf(stderr,
                 "jobqueue: no database: set --database_url or DATABASE_URL\n");
    return 2;
  }
  return command == "migrate" ? jobqueue::Migrate(url) : jobqueue::Serve(url);
}
