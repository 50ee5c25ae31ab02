#include "service/job_queue_server.h"

#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "console/console_routes.h"
#include "google/protobuf/descriptor.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/listen_address.h"
#include "storage/client_limits.h"

namespace jobqueue {

namespace {

// Every connection of the server gets the client-side limits.
JobQueueServer::Config WithLimits(JobQueueServer::Config config) {
  config.database_url = WithClientLimits(config.database_url);
  if (!config.listen_database_url.empty()) {
    config.listen_database_url = WithClientLimits(config.listen_database_url);
  }
  return config;
}

// Supabase's transaction pooler (Supavisor on port 6543), recognized by its
// host and port.
bool SupabaseTransactionPooler(const std::string& url) {
  return absl::StrContains(url, ".pooler.supabase.com:6543");
}

// Where LISTEN goes; empty: nowhere (polling).
std::string NotifierUrl(const JobQueueServer::Config& config) {
  if (!config.listen_database_url.empty()) return config.listen_database_url;
  if (config.database_pooling == DatabasePooling::kTransaction) return "";
  return config.database_url;
}

}  // namespace

bool AbslParseFlag(absl::string_view text, ReflectionMode* mode,
                   std::string* error) {
  if (text == "open") {
    *mode = ReflectionMode::kOpen;
  } else if (text == "off") {
    *mode = ReflectionMode::kOff;
  } else {
    *error = "must be open or off";
    return false;
  }
  return true;
}

std::string AbslUnparseFlag(ReflectionMode mode) {
  return mode == ReflectionMode::kOpen ? "open" : "off";
}

bool AbslParseFlag(absl::string_view text, DatabasePooling* pooling,
                   std::string* error) {
  if (text == "session") {
    *pooling = DatabasePooling::kSession;
  } else if (text == "transaction") {
    *pooling = DatabasePooling::kTransaction;
  } else {
    *error = "must be session or transaction";
    return false;
  }
  return true;
}

std::string AbslUnparseFlag(DatabasePooling pooling) {
  return pooling == DatabasePooling::kSession ? "session" : "transaction";
}

JobQueueServer::JobQueueServer(Config config)
    : config_(WithLimits(std::move(config))),
      queue_stats_({.url = config_.database_url}),
      statement_metrics_(&registry_),
      notifier_(NotifierUrl(config_), config_.database_url),
      store_({.url = config_.database_url,
              .pool_size = config_.pool_size,
              .statement_timeout = config_.default_deadline,
              .lock_timeout = config_.lock_timeout,
              .retry_backoff = config_.retry_backoff,
              .group_commit = config_.group_commit,
              .on_enqueue_batch =
                  [this](int rows) { metrics_.RecordEnqueueBatch(rows); },
              .pooling = config_.database_pooling,
              .statement_observer = &statement_metrics_,
              .notifier = &notifier_}),
      metrics_(&registry_, {.pool = [this] { return store_.pool_stats(); },
                            .queue_stats = &queue_stats_}),
      service_(&store_, &notifier_,
               {.max_payload_bytes = config_.max_payload_bytes,
                .default_deadline = config_.default_deadline,
                .max_claim_response_bytes = config_.max_claim_response_bytes,
                .on_claim =
                    [this](absl::Duration waited, size_t jobs) {
                      metrics_.RecordClaim(waited, jobs);
                    },
                .claim_recheck = config_.claim_recheck,
                .on_stream_push =
                    [this](size_t jobs) { metrics_.RecordStreamPush(jobs); }}),
      bearer_token_(config_.bearer_token),
      authenticated_service_(
          &service_,
          google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
              v1::JobQueue::service_full_name()),
          &bearer_token_) {
  if (config_.maintenance_interval > absl::ZeroDuration()) {
    maintenance_ = std::make_unique<MaintenanceLoop>(
        &store_,
        MaintenanceLoop::Options{
            .interval = config_.maintenance_interval,
            .retention = config_.retention,
            .on_round =
                [this](const absl::StatusOr<MaintenanceReport>& report) {
                  metrics_.RecordMaintenance(report);
                }});
  }
  if (config_.schedule_interval > absl::ZeroDuration()) {
    schedule_ = std::make_unique<ScheduleLoop>(
        &store_, ScheduleLoop::Options{.interval = config_.schedule_interval});
  }
  if (config_.recurring_interval > absl::ZeroDuration()) {
    recurring_ = std::make_unique<RecurringLoop>(
        &store_,
        RecurringLoop::Options{
            .interval = config_.recurring_interval,
            .on_round =
                [this](const absl::StatusOr<ScheduleTickReport>& report) {
                  metrics_.RecordSchedules(report);
                }});
  }
}

absl::Status JobQueueServer::CheckConfig(const Config& config) {
  if (config.database_url.empty()) {
    return absl::InvalidArgumentError("no database URL");
  }
  // PostgreSQL reads 0 as "wait forever".
  if (config.lock_timeout < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(
        "--lock_timeout must be at least 1ms (0 would wait forever on a row "
        "another session holds)");
  }
  if (config.max_claim_response_bytes < 1024 ||
      config.max_claim_response_bytes > (size_t{1} << 30)) {
    return absl::InvalidArgumentError(
        "max claim response bytes must be between 1 KiB and 1 GiB");
  }
  if (config.pool_size < 1) {
    return absl::InvalidArgumentError("pool size must be at least 1");
  }
  if (config.claim_recheck <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("claim recheck must be over 0");
  }
  // Refused here rather than found out under load: LISTEN through a
  // transaction pooler never hears a notification.
  if (config.database_pooling == DatabasePooling::kSession &&
      SupabaseTransactionPooler(config.database_url)) {
    return absl::InvalidArgumentError(
        "--database_url is Supabase's transaction pooler (port 6543): pass "
        "--database_pooling=transaction, and a direct URL "
        "(db.<ref>.supabase.co:5432) or the session pooler's (port 5432) as "
        "--listen_database_url");
  }
  if (SupabaseTransactionPooler(config.listen_database_url) ||
      (config.database_pooling == DatabasePooling::kTransaction &&
       config.listen_database_url == config.database_url)) {
    return absl::InvalidArgumentError(
        "--listen_database_url is the transaction pooler's URL "
        "(--database_url with --database_pooling=transaction), where LISTEN "
        "cannot work: give a direct URL (Supabase: db.<ref>.supabase.co:5432) "
        "or a session pooler's (Supabase: port 5432), or leave it out to "
        "poll");
  }
  if (!absl::StartsWith(config.listen, "unix:") &&
      !absl::StartsWith(config.listen, "unix-abstract:")) {
    absl::StatusOr<HostPort> listen = SplitHostPort(config.listen);
    if (!listen.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen: ", listen.status().message()));
    }
  }
  // Every job's payload (message bodies, phone numbers) is served to whoever
  // reaches the port, as Redis' protected mode reasons.
  if (config.bearer_token.empty() && !config.allow_unauthenticated &&
      !IsLoopbackListenAddress(config.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "refusing to serve without a bearer token on --listen=", config.listen,
        ", which other machines can reach: set --bearer_token_file (or "
        "$JOBQUEUE_BEARER_TOKEN), listen on 127.0.0.1, or pass "
        "--allow_unauthenticated if everyone who can reach the port may read "
        "and change every job"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<JobQueueServer>> JobQueueServer::Start(
    Config config) {
  if (absl::Status checked = CheckConfig(config); !checked.ok()) {
    return checked;
  }
  std::unique_ptr<JobQueueServer> s(new JobQueueServer(std::move(config)));
  const Config& c = s->config_;
  s->registry_
      .AddGauge("jobqueue_notifier_polling",
                "1 when no LISTEN connection wakes waiting claims (transaction "
                "pooling without --listen_database_url): they recheck every "
                "second.")
      ->WithLabels({})
      .Set(s->notifier_.polling() ? 1 : 0);
  if (s->notifier_.polling()) {
    s->Log(
        "warning: --database_pooling=transaction without "
        "--listen_database_url: no LISTEN (it cannot work through a "
        "transaction pooler), so waiting claims recheck every second; give a "
        "direct or session-pooler URL (Supabase: port 5432) as "
        "--listen_database_url to wake them at once");
  }
  if (!c.metrics_listen.empty()) {
    const bool token = !c.bearer_token.empty();
    s->console_served_ =
        c.console && (token || IsLoopbackListenAddress(c.metrics_listen));
    if (c.console && !s->console_served_) {
      s->Log(absl::StrCat("console off: ", c.metrics_listen,
                          " is not a loopback address and no "
                          "--bearer_token_file is set"));
    }
    metrics::HttpServer::Mount mount;
    if (s->console_served_) {
      mount = [api = &s->console_api_, token](httplib::Server& server) {
        console::MountConsole(server, {.token_required = token, .api = api});
      };
    }
    absl::StatusOr<std::unique_ptr<metrics::HttpServer>> metrics =
        metrics::HttpServer::Start(c.metrics_listen, &s->registry_, mount);
    if (metrics.ok()) {
      s->metrics_server_ = *std::move(metrics);
      s->Log(absl::StrCat("metrics on http://", s->metrics_server_->address(),
                          "/metrics"));
      if (s->console_served_) {
        s->Log(absl::StrCat("console on http://", s->metrics_server_->address(),
                            "/console"));
      }
    } else if (absl::IsUnavailable(metrics.status())) {
      s->console_served_ = false;
      s->Log(absl::StrCat(metrics.status().message(), "; metrics are off"));
    } else {
      return metrics.status();
    }
  }
  absl::StatusOr<std::unique_ptr<GrpcServer>> grpc_server =
      GrpcServer::Start(&s->authenticated_service_,
                        {.listen = c.listen,
                         .tls_cert_file = c.tls_cert_file,
                         .tls_key_file = c.tls_key_file,
                         .metrics = &s->metrics_,
                         .log_requests = c.log_requests,
                         .reflection = c.reflection == ReflectionMode::kOpen});
  if (!grpc_server.ok()) return grpc_server.status();
  s->grpc_server_ = *std::move(grpc_server);
  if (s->console_served_) {
    s->console_api_.SetChannel(s->grpc_server_->InProcessChannel());
  }
  s->WarnWhenExposed();
  s->Log(absl::StrCat("serving on ", s->address(),
                      c.bearer_token.empty() ? "" : " (bearer token required)",
                      c.tls_cert_file.empty() ? "" : " (TLS)"));
  return s;
}

JobQueueServer::~JobQueueServer() { Stop(absl::ZeroDuration()); }

void JobQueueServer::Stop(absl::Duration grace) {
  if (stopped_) return;
  stopped_ = true;
  notifier_.StartClose();  // waiting claims return now
  // Once the grace is over, calls still waiting on the database are cut off,
  // so a database that does not answer cannot hold the stop.
  absl::Notification stopped;
  std::thread cutoff([&] {
    if (!stopped.WaitForNotificationWithTimeout(grace)) {
      store_.Interrupt();
      queue_stats_.Interrupt();
    }
  });
  if (grpc_server_ != nullptr) grpc_server_->Shutdown(grace);
  if (maintenance_ != nullptr) maintenance_->Stop();
  if (schedule_ != nullptr) schedule_->Stop();
  if (recurring_ != nullptr) recurring_->Stop();
  metrics_server_.reset();
  stopped.Notify();
  cutoff.join();
  store_.Close();
  notifier_.Close();
}

std::string JobQueueServer::metrics_address() const {
  return metrics_server_ == nullptr ? "" : metrics_server_->address();
}

void JobQueueServer::WarnWhenExposed() const {
  if (IsLoopbackListenAddress(config_.listen)) return;
  if (config_.bearer_token.empty()) {
    Log(absl::StrCat("warning: serving without a bearer token on ", address(),
                     " (--allow_unauthenticated): everyone who can reach it "
                     "can read and change every job"));
  } else if (config_.tls_cert_file.empty()) {
    Log(absl::StrCat(
        "warning: the bearer token and every job's payload travel in "
        "plaintext on ",
        address(),
        ", which other machines can reach: set --tls_cert_file and "
        "--tls_key_file, or keep the port behind a TLS proxy"));
  }
}

void JobQueueServer::Log(const std::string& line) const {
  if (config_.log) config_.log(line);
}

}  // namespace jobqueue
