// twilio_shim: the HTTP endpoint Twilio calls with incoming messages. It
// verifies each delivery's signature, turns it into an EnqueueJob (or a
// RecordDeadLetter) call on the JobQueue service, and spools it on disk when
// the service cannot take it, replaying the spool in the background.
//
//   TWILIO_AUTH_TOKEN=... twilio_shim --listen=127.0.0.1:8080
//       --backend=127.0.0.1:50051 --public_base_url=https://hooks.example.com
//
// Environment: TWILIO_AUTH_TOKEN (required; never logged) and
// JOBQUEUE_BEARER_TOKEN (optional bearer token for the service; the old name
// JOBQUEUE_AUTH_TOKEN is still read). A token is only sent in plaintext to a
// backend on this machine: otherwise --backend_tls (or, knowingly,
// --allow_plaintext_token) is required. Prometheus metrics are served on
// --metrics_listen (127.0.0.1:9091), never on the public --listen port.
// Stops gracefully on SIGINT or SIGTERM.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "metrics/http_server.h"
#include "metrics/registry.h"
#include "service/listen_address.h"
#include "shim/backend/grpc_job_queue_backend.h"
#include "shim/backend/metered_backend.h"
#include "shim/shim_metrics.h"
#include "shim/spool/delivery_spool.h"
#include "shim/spool/spool_replayer.h"
#include "shim/webhook/webhook_handler.h"
#include "shim/webhook/webhook_http_server.h"
#include "shim/webhook/webhook_signature.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8080",
          "host:port to serve HTTP on; port 0 picks a free port");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9091",
          "host:port to serve Prometheus metrics at /metrics on (port 0: any "
          "free port), apart from the public --listen port; empty: no "
          "metrics endpoint");
ABSL_FLAG(std::string, backend, "127.0.0.1:50051",
          "host:port of the JobQueue gRPC service");
ABSL_FLAG(bool, backend_tls, false,
          "talk to the JobQueue service over TLS (its certificate is "
          "verified against --backend_ca_file, or the system's roots)");
ABSL_FLAG(std::string, backend_ca_file, "",
          "PEM root certificates for --backend_tls; default: the system's "
          "roots");
ABSL_FLAG(std::string, backend_tls_server_name, "",
          "the name the service's certificate must hold, when not the host "
          "of --backend (e.g. --backend is an IP address)");
ABSL_FLAG(bool, allow_plaintext_token, false,
          "allow sending JOBQUEUE_BEARER_TOKEN without TLS to a --backend "
          "that is not on this machine (the token is then readable on the "
          "network)");
ABSL_FLAG(std::string, public_base_url, "",
          "the URL Twilio calls, up to the path (scheme, host, port, any "
          "prefix a proxy strips), e.g. https://hooks.example.com; signatures "
          "are checked against it. Default: http://<listen>");
ABSL_FLAG(std::string, spool_dir, ".run/spool",
          "directory of deliveries waiting for the service");
ABSL_FLAG(int64_t, max_body_bytes, 65536,
          "largest request body accepted; larger ones get 413 (chunked ones "
          "as soon as they pass it)");
ABSL_FLAG(int64_t, max_header_bytes, 16384,
          "largest request header (request line and fields) accepted; larger "
          "ones get 431");
ABSL_FLAG(absl::Duration, request_read_timeout, absl::Seconds(10),
          "longest time from a request's first byte to its last; a slower "
          "client gets 408 and is disconnected");
ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(30),
          "how long a keep-alive connection may wait for its next request");
ABSL_FLAG(int64_t, max_connections, 1000,
          "connections served at once; a further one gets 503 and is closed");
ABSL_FLAG(int32_t, http_workers, 64,
          "threads answering requests (each blocks on the service or the "
          "spool); connections themselves cost no thread");
ABSL_FLAG(absl::Duration, replay_max_backoff, absl::Seconds(10),
          "longest wait between spool replay attempts while the service is "
          "down");
ABSL_FLAG(absl::Duration, replay_rpc_timeout, absl::Seconds(5),
          "deadline of each replayed call, which waits for the service to be "
          "reachable; also bounds how long a stop may wait for the replayer");

namespace jobqueue::shim {
namespace {

// What the flags and the environment say.
struct ShimConfig {
  HostPort listen;
  std::string metrics_listen;  // Empty: no metrics endpoint.
  std::string backend;
  BackendTransport backend_transport;
  std::string public_base_url;  // Empty: http://<listen>.
  std::string spool_dir;
  WebhookHttpServer::Options http;
  absl::Duration replay_max_backoff;
  absl::Duration replay_rpc_timeout;
  std::string twilio_auth_token;  // Twilio's signing key
  std::string bearer_token;       // the service's token
};

// The contents of `path`, or INVALID_ARGUMENT naming it.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  if (!file.good() && !file.eof()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  }
  if (contents.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is missing or empty"));
  }
  return contents.str();
}

// The configuration, or INVALID_ARGUMENT saying which setting is wrong.
absl::StatusOr<ShimConfig> ReadConfig() {
  ShimConfig config;
  const char* twilio_auth_token = std::getenv("TWILIO_AUTH_TOKEN");
  if (twilio_auth_token == nullptr || *twilio_auth_token == '\0') {
    return absl::InvalidArgumentError(
        "TWILIO_AUTH_TOKEN is not set; it is required to verify Twilio's "
        "signatures");
  }
  config.twilio_auth_token = twilio_auth_token;
  for (const char* name : {"JOBQUEUE_BEARER_TOKEN", "JOBQUEUE_AUTH_TOKEN"}) {
    const char* bearer_token = std::getenv(name);
    if (bearer_token != nullptr && *bearer_token != '\0') {
      config.bearer_token = bearer_token;
      break;
    }
  }
  absl::StatusOr<HostPort> listen = SplitHostPort(absl::GetFlag(FLAGS_listen));
  if (!listen.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen=", absl::GetFlag(FLAGS_listen), ": ",
                     listen.status().message()));
  }
  config.listen = *std::move(listen);
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (!config.metrics_listen.empty()) {
    absl::StatusOr<HostPort> metrics = SplitHostPort(config.metrics_listen);
    if (!metrics.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metrics_listen=", config.metrics_listen, ": ",
                       metrics.status().message()));
    }
  }
  config.public_base_url = absl::GetFlag(FLAGS_public_base_url);
  if (!config.public_base_url.empty() &&
      !absl::StartsWith(config.public_base_url, "http://") &&
      !absl::StartsWith(config.public_base_url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--public_base_url=", config.public_base_url,
                     " does not start with http:// or https://"));
  }
  while (absl::EndsWith(config.public_base_url, "/")) {
    config.public_base_url.pop_back();
  }
  if (absl::GetFlag(FLAGS_max_body_bytes) <= 0) {
    return absl::InvalidArgumentError("--max_body_bytes must be positive");
  }
  config.http.max_body_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_body_bytes));
  // Below 1 KiB not even Twilio's own headers fit.
  if (absl::GetFlag(FLAGS_max_header_bytes) < 1024 ||
      absl::GetFlag(FLAGS_max_header_bytes) > (1 << 30)) {
    return absl::InvalidArgumentError(
        "--max_header_bytes must be between 1024 and 1073741824");
  }
  config.http.max_header_bytes =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_header_bytes));
  for (const auto& [name, value] :
       {std::pair{"--request_read_timeout",
                  absl::GetFlag(FLAGS_request_read_timeout)},
        std::pair{"--idle_timeout", absl::GetFlag(FLAGS_idle_timeout)}}) {
    if (value <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be positive"));
    }
  }
  config.http.request_read_timeout = absl::GetFlag(FLAGS_request_read_timeout);
  config.http.idle_timeout = absl::GetFlag(FLAGS_idle_timeout);
  if (absl::GetFlag(FLAGS_max_connections) <= 0) {
    return absl::InvalidArgumentError("--max_connections must be positive");
  }
  config.http.max_connections =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_connections));
  if (absl::GetFlag(FLAGS_http_workers) <= 0) {
    return absl::InvalidArgumentError("--http_workers must be positive");
  }
  config.http.worker_threads = absl::GetFlag(FLAGS_http_workers);
  config.backend = absl::GetFlag(FLAGS_backend);
  config.backend_transport.tls = absl::GetFlag(FLAGS_backend_tls);
  const std::string ca_file = absl::GetFlag(FLAGS_backend_ca_file);
  config.backend_transport.tls_server_name =
      absl::GetFlag(FLAGS_backend_tls_server_name);
  if (!config.backend_transport.tls &&
      (!ca_file.empty() || !config.backend_transport.tls_server_name.empty())) {
    return absl::InvalidArgumentError(
        "--backend_ca_file and --backend_tls_server_name need --backend_tls");
  }
  if (!ca_file.empty()) {
    absl::StatusOr<std::string> pem = ReadFile(ca_file);
    if (!pem.ok()) return pem.status();
    config.backend_transport.ca_pem = *std::move(pem);
  }
  if (!config.bearer_token.empty() && !config.backend_transport.tls &&
      !IsLoopbackTarget(config.backend) &&
      !absl::GetFlag(FLAGS_allow_plaintext_token)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to send JOBQUEUE_BEARER_TOKEN in plaintext to --backend=",
        config.backend,
        ", which is not on this machine: use --backend_tls (with "
        "--backend_ca_file for a private CA), or pass "
        "--allow_plaintext_token if the network is trusted"));
  }
  config.spool_dir = absl::GetFlag(FLAGS_spool_dir);
  config.replay_max_backoff = absl::GetFlag(FLAGS_replay_max_backoff);
  config.replay_rpc_timeout = absl::GetFlag(FLAGS_replay_rpc_timeout);
  if (config.replay_rpc_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--replay_rpc_timeout must be positive");
  }
  return config;
}

// Stops `server` on the first of `signals` (which the calling thread must
// block), or returns once `served` is set.
void StopOnSignal(const sigset_t& signals, const std::atomic<bool>& served,
                  WebhookHttpServer& server) {
  const timespec poll = {0, 200 * 1000 * 1000};
  while (!served) {
    siginfo_t info;
    if (sigtimedwait(&signals, &info, &poll) > 0) {
      absl::FPrintF(stderr, "twilio_shim: %s, stopping\n",
                    strsignal(info.si_signo));
      server.Stop();
      return;
    }
  }
}

// Every connection is a file descriptor: raises the soft limit towards the
// hard one when --max_connections would not fit under it.
void RaiseFileLimit(size_t max_connections) {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  // Room for the spool, gRPC and the refused connections' answers.
  const rlim_t wanted = static_cast<rlim_t>(max_connections) + 512;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY
                         ? wanted
                         : std::min(wanted, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < wanted) {
      absl::FPrintF(stderr,
                    "twilio_shim: warning: %d file descriptors allowed, "
                    "--max_connections=%d may not fit\n",
                    static_cast<int64_t>(limit.rlim_cur), max_connections);
    }
  }
}

int Fail(const absl::Status& status) {
  absl::FPrintF(stderr, "twilio_shim: %s\n", status.message());
  return 1;
}

int Run(const ShimConfig& config) {
  // Blocked in every thread started from here on; StopOnSignal takes them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<DeliverySpool>> spool =
      DeliverySpool::Open(config.spool_dir);
  if (!spool.ok()) return Fail(spool.status());
  metrics::Registry registry;
  ShimMetrics metrics(&registry);
  // Segments left by an earlier run (Open sealed them) start the depth.
  size_t spooled = 0;
  for (const std::string& segment : (*spool)->Seal()) {
    absl::StatusOr<SpoolSegmentContents> contents = (*spool)->Read(segment);
    // Unreadable records count until the replayer quarantines them.
    if (contents.ok()) {
      spooled += contents->deliveries.size() + contents->unreadable.size();
    }
  }
  metrics.spool_depth->Set(static_cast<double>(spooled));
  GrpcJobQueueBackend grpc_backend(
      GrpcJobQueueBackend::CreateChannel(config.backend,
                                         config.backend_transport),
      config.bearer_token);
  MeteredBackend backend(&grpc_backend, &metrics);
  SpoolReplayer::Options replay_options;
  replay_options.max_backoff = config.replay_max_backoff;
  replay_options.rpc_timeout = config.replay_rpc_timeout;
  replay_options.metrics = &metrics;
  SpoolReplayer replayer(spool->get(), &backend, replay_options);

  RaiseFileLimit(config.http.max_connections);
  WebhookHttpServer server(config.http, &metrics);
  absl::StatusOr<int> port =
      server.Bind(config.listen.host, config.listen.port);
  if (!port.ok()) return Fail(port.status());
  const std::string local_url =
      absl::StrCat("http://", JoinHostPort(config.listen.host, *port));
  // Apart from the public port; like the service's, an address in use only
  // turns metrics off: deliveries matter more.
  std::unique_ptr<metrics::HttpServer> metrics_server;
  if (!config.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<metrics::HttpServer>> started =
        metrics::HttpServer::Start(config.metrics_listen, &registry);
    if (!started.ok()) {
      absl::FPrintF(stderr, "twilio_shim: %s; metrics are off\n",
                    started.status().message());
    } else {
      metrics_server = *std::move(started);
    }
  }

  const WebhookSignatureVerifier verifier(config.twilio_auth_token);
  WebhookHandler::Options options;
  options.public_base_url =
      config.public_base_url.empty() ? local_url : config.public_base_url;
  options.on_delivered = [&replayer] { replayer.Wake(); };
  options.on_queued = [&replayer] { replayer.Wake(); };
  options.metrics = &metrics;
  WebhookHandler handler(&verifier, &backend, spool->get(), options);

  std::atomic<bool> served{false};
  std::thread signal_waiter(
      [&] { StopOnSignal(stop_signals, served, server); });
  replayer.Start();
  absl::FPrintF(stderr,
                "twilio_shim: backend %s (%s), spool %s, signatures for "
                "%s\n",
                config.backend,
                config.backend_transport.tls ? "TLS" : "plaintext",
                (*spool)->dir(), options.public_base_url);
  if (metrics_server != nullptr) {
    absl::PrintF("twilio_shim: metrics on http://%s/metrics\n",
                 metrics_server->address());
  }
  absl::PrintF("twilio_shim: listening on %s\n", local_url);
  std::fflush(stdout);
  const absl::Status serve_status = server.Serve(&handler);
  served = true;
  signal_waiter.join();
  replayer.Stop();
  if (!serve_status.ok()) return Fail(serve_status);
  absl::FPrintF(stderr, "twilio_shim: stopped\n");
  return 0;
}

}  // namespace
}  // namespace jobqueue::shim

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves Twilio webhooks and turns them into JobQueue jobs.");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<jobqueue::shim::ShimConfig> config =
      jobqueue::shim::ReadConfig();
  if (!config.ok()) {
    absl::FPrintF(stderr, "twilio_shim: %s\n", config.status().message());
    return 2;
  }
  return jobqueue::shim::Run(*config);
}
