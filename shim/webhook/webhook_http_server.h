// Serves a WebhookHandler over HTTP/1.1 with Boost.Beast, built to face the
// public internet:
//
//   WebhookHttpServer::Options options;  // limits; the defaults suit Twilio
//   WebhookHttpServer server(options);
//   absl::StatusOr<int> port = server.Bind("127.0.0.1", 0);
//   server.Serve(&handler);  // until another thread calls server.Stop()
//
// Connections are read and written asynchronously on `io_threads` threads, so
// an idle or slow connection costs no thread; the handler, which blocks (gRPC
// calls, fsync), runs on a pool of `worker_threads`. What is refused, without
// a handler call:
//   400  a request Beast cannot parse
//   408  a request not read whole within `request_read_timeout` of its first
//        byte (then the connection is closed, whatever the client sends)
//   413  a body over `max_body_bytes`: at once when Content-Length says so,
//        as soon as the running total says so when it is chunked
//   415  a Content-Encoding other than identity (the body is not read)
//   431  a header (request line and fields) over `max_header_bytes`
//   501  a Transfer-Encoding other than chunked
//   503  (with Retry-After) a connection beyond `max_connections`
// Each of these closes the connection. A connection idle for `idle_timeout`
// between requests is closed.
//
// With ShimMetrics it counts every answer, including the server's own
// refusals above. It serves no /metrics: that is twilio_shim's
// --metrics_listen, apart from this public port.
#ifndef JOBQUEUE_SHIM_WEBHOOK_WEBHOOK_HTTP_SERVER_H_
#define JOBQUEUE_SHIM_WEBHOOK_WEBHOOK_HTTP_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "shim/shim_metrics.h"
#include "shim/webhook/webhook_handler.h"

namespace jobqueue::shim {

class WebhookHttpServer {
 public:
  struct Options {
    // A longer body is answered 413 without reaching the handler.
    size_t max_body_bytes = 64 << 10;
    // The request line and header fields, with their CRLFs; more is 431.
    size_t max_header_bytes = 16 << 10;
    // From the first byte of a request to its last; then 408 and close.
    absl::Duration request_read_timeout = absl::Seconds(10);
    // How long a keep-alive connection may wait for its next request. A new
    // connection waits at most min(idle_timeout, request_read_timeout) for
    // its first byte.
    absl::Duration idle_timeout = absl::Seconds(30);
    // How long writing one answer may take before the connection is closed.
    absl::Duration write_timeout = absl::Seconds(10);
    // Open connections served at once; a further one gets 503 and is closed.
    size_t max_connections = 1000;
    // Threads doing the socket I/O, and threads calling the handler.
    int io_threads = 1;
    int worker_threads = 64;
  };

  // `metrics` (recording requests) is optional and must outlive the server.
  explicit WebhookHttpServer(const Options& options,
                             ShimMetrics* metrics = nullptr);
  ~WebhookHttpServer();

  WebhookHttpServer(const WebhookHttpServer&) = delete;
  WebhookHttpServer& operator=(const WebhookHttpServer&) = delete;

  // Binds `host`:`port`; port 0 picks a free one. Returns the bound port.
  absl::StatusOr<int> Bind(const std::string& host, int port);

  // Answers requests with `handler` until Stop(); requests in flight (in the
  // handler or being written) are answered before it returns, connections
  // waiting for or reading a request are closed. Call at most once, after
  // Bind().
  absl::Status Serve(WebhookHandler* handler);

  // Makes Serve() return, even if it has not started yet. Callable from any
  // thread, also from a signal-waiting one.
  void Stop();

  class Impl;  // public so that the .cc file's session class can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_WEBHOOK_WEBHOOK_HTTP_SERVER_H_
