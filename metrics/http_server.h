// Serves a metrics::Registry at GET /metrics over HTTP/1.1 (cpp-httplib) on
// a port of its own, in Prometheus' text format, and whatever `mount` adds
// (the console). Every other path is 404.
//
//   auto server = HttpServer::Start("127.0.0.1:9090", &registry);
//   ... (*server)->address() ...
//   server->reset();  // stops

#ifndef JOBQUEUE_METRICS_HTTP_SERVER_H_
#define JOBQUEUE_METRICS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "httplib.h"
#include "metrics/registry.h"

namespace jobqueue::metrics {

class HttpServer {
 public:
  // Adds routes before the server listens.
  using Mount = std::function<void(httplib::Server&)>;

  // `listen` is host:port ([v6]:port works); port 0 picks a free one.
  // `registry` must outlive the server. INVALID_ARGUMENT for a malformed
  // address, UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& listen, metrics::Registry* registry,
      const Mount& mount = nullptr);

  // Stops serving; a scrape in flight is answered first.
  ~HttpServer();

  // "host:port" ("[v6]:port") with the port actually bound.
  std::string address() const;

 private:
  HttpServer() = default;

  httplib::Server server_;
  std::string host_;
  int port_ = 0;
  std::thread thread_;
  absl::Notification stopped_;
};

}  // namespace jobqueue::metrics

#endif  // JOBQUEUE_METRICS_HTTP_SERVER_H_
