// Serves a WebhookHandler over HTTP/1.1 with cpp-httplib.
//
//   WebhookHttpServer server(64 << 10);
//   absl::StatusOr<int> port = server.Bind("127.0.0.1", 0);
//   server.Serve(&handler);  // until another thread calls server.Stop()
//
// With a metrics registry it also answers GET /metrics with the registry's
// Prometheus text, without a signature, and counts every answer (including
// cpp-httplib's own 400s and 413s) in ShimMetrics.
#ifndef SERVICE_TWILIO_WEBHOOK_HTTP_SERVER_H_
#define SERVICE_TWILIO_WEBHOOK_HTTP_SERVER_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "httplib.h"
#include "service/metrics/registry.h"
#include "service/twilio/shim_metrics.h"
#include "service/twilio/webhook_handler.h"

namespace jobqueue::twilio {

class WebhookHttpServer {
 public:
  // A body longer than `max_body_bytes` is answered 413 without reaching the
  // handler.
  // `registry` (serving /metrics) and `metrics` (recording requests) are
  // optional and must outlive the server.
  explicit WebhookHttpServer(size_t max_body_bytes,
                             metrics::Registry* registry = nullptr,
                             ShimMetrics* metrics = nullptr);

  // Binds `host`:`port`; port 0 picks a free one. Returns the bound port.
  absl::StatusOr<int> Bind(const std::string& host, int port);

  // Answers requests with `handler` until Stop(); requests in flight are
  // answered before it returns. Call at most once, after Bind().
  absl::Status Serve(WebhookHandler* handler) ABSL_LOCKS_EXCLUDED(mu_);

  // Makes Serve() return, even if it has not started yet. Callable from any
  // thread, also from a signal-waiting one.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Answer(const WebhookResponse& answer, httplib::Response& response);

  // Set by Serve() before the first request is accepted.
  WebhookHandler* handler_ = nullptr;
  httplib::Server server_;
  absl::Mutex mu_;
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool serve_returned_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jobqueue::twilio

#endif  // SERVICE_TWILIO_WEBHOOK_HTTP_SERVER_H_
