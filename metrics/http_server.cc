#include "metrics/http_server.h"

#include <sys/socket.h>

#include "absl/strings/str_cat.h"
#include "service/listen_address.h"

namespace jobqueue::metrics {
namespace {

// Scrapes are rare and short; a console page asks a few things at once.
constexpr int kThreads = 4;
// Each connection answers one request and closes: an idle keep-alive
// connection (a browser keeps six) would hold one of the threads.
constexpr int kRequestsPerConnection = 1;
// The largest request body read (a console call's JSON).
constexpr size_t kMaxBodyBytes = 1 << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& listen, metrics::Registry* registry,
    const Mount& mount) {
  absl::StatusOr<HostPort> address = SplitHostPort(listen);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address: ", address.status().message()));
  }
  const int port = address->port;

  std::unique_ptr<HttpServer> s(new HttpServer());
  s->host_ = address->host;
  s->server_.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  // cpp-httplib's default adds SO_REUSEPORT, which would let a second server
  // share the port and answer half the scrapes.
  s->server_.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  s->server_.Get("/metrics", [registry](const httplib::Request&,
                                        httplib::Response& response) {
    response.set_content(registry->Render(), metrics::kTextContentType);
  });
  s->server_.set_payload_max_length(kMaxBodyBytes);
  s->server_.set_keep_alive_max_count(kRequestsPerConnection);
  if (mount) mount(s->server_);
  s->port_ = port == 0 ? s->server_.bind_to_any_port(s->host_)
                       : (s->server_.bind_to_port(s->host_, port) ? port : -1);
  if (s->port_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " for metrics"));
  }
  HttpServer* raw = s.get();
  s->thread_ = std::thread([raw] {
    raw->server_.listen_after_bind();
    raw->stopped_.Notify();
  });
  return s;
}

HttpServer::~HttpServer() {
  if (!thread_.joinable()) return;  // Start failed
  // cpp-httplib ignores stop() until it listens, so repeat it until it has.
  do {
    server_.stop();
  } while (!stopped_.WaitForNotificationWithTimeout(absl::Milliseconds(5)));
  thread_.join();
}

std::string HttpServer::address() const { return JoinHostPort(host_, port_); }

}  // namespace jobqueue::metrics
