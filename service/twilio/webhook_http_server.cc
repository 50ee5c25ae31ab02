#include "service/twilio/webhook_http_server.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jobqueue::twilio {

namespace {

// When the request this thread is answering was routed; InfinitePast before
// routing (e.g. for a request line cpp-httplib could not parse).
thread_local absl::Time request_start = absl::InfinitePast();

// cpp-httplib gives each connection a thread for as long as it stays open,
// so its default of 8 threads makes a ninth keep-alive connection wait for
// one of the others to close; and it closes a connection after 5 requests.
// Twilio opens many connections at once.
constexpr size_t kConnectionThreads = 64;
constexpr size_t kRequestsPerConnection = 1000;

}  // namespace

WebhookHttpServer::WebhookHttpServer(size_t max_body_bytes,
                                     metrics::Registry* registry,
                                     ShimMetrics* metrics) {
  server_.set_payload_max_length(max_body_bytes);
  server_.new_task_queue = [] {
    return new httplib::ThreadPool(kConnectionThreads);
  };
  server_.set_keep_alive_max_count(kRequestsPerConnection);
  if (metrics != nullptr) {
    // Called once each answer is written, on the thread that answered.
    server_.set_logger([metrics](const httplib::Request& request,
                                 const httplib::Response& response) {
      const absl::Time start = request_start;
      request_start = absl::InfinitePast();
      metrics->RecordRequest(request.path, response.status,
                             start == absl::InfinitePast()
                                 ? -absl::Seconds(1)
                                 : absl::Now() - start);
    });
  }
  server_.set_pre_routing_handler(
      [this, registry](const httplib::Request& request,
                       httplib::Response& response) {
        request_start = absl::Now();
        if (registry != nullptr && request.path == "/metrics") {
          if (request.method == "GET" || request.method == "HEAD") {
            response.set_content(registry->Render(), metrics::kTextContentType);
          } else {
            response.status = 405;
            response.set_header("Allow", "GET, HEAD");
            response.set_header("Connection", "close");
            response.set_content("method not allowed\n",
                                 "text/plain; charset=utf-8");
          }
          return httplib::Server::HandlerResponse::Handled;
        }
        std::optional<WebhookResponse> early =
            handler_->Screen(request.method, request.target);
        if (!early.has_value()) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        Answer(*early, response);
        // The body was not read, so the connection cannot carry another
        // request.
        response.set_header("Connection", "close");
        return httplib::Server::HandlerResponse::Handled;
      });
  // A content reader: cpp-httplib itself would cap form bodies at 8 KiB.
  const auto deliver = [this](const httplib::Request& request,
                              httplib::Response& response,
                              const httplib::ContentReader& content_reader) {
    WebhookRequest webhook;
    const bool complete =
        content_reader([&webhook](const char* data, size_t length) {
          webhook.body.append(data, length);
          return true;
        });
    if (!complete) return;  // cpp-httplib has set 400 or 413.
    webhook.method = request.method;
    webhook.target = request.target;
    webhook.content_type = request.get_header_value("Content-Type");
    webhook.signature = request.get_header_value("X-Twilio-Signature");
    webhook.remote_address = request.remote_addr;
    Answer(handler_->Handle(webhook), response);
  };
  server_.Post("/twilio/messages", deliver);
  server_.Post("/twilio/conversations", deliver);
  server_.Get("/healthz", [this](const httplib::Request& request,
                                 httplib::Response& response) {
    WebhookRequest webhook;
    webhook.method = request.method;
    webhook.target = request.target;
    webhook.remote_address = request.remote_addr;
    Answer(handler_->Handle(webhook), response);
  });
  // Without it, Nagle's algorithm holds the body behind the headers until
  // the client's delayed ACK: 40 ms on every answer.
  server_.set_tcp_nodelay(true);
  // Gives cpp-httplib's own error answers (400, 413, ...) a text body.
  server_.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& response) {
        if (!response.body.empty()) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        response.set_content(response.status == 413 ? "request body too large\n"
                                                    : "bad request\n",
                             "text/plain; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
      }));
}

void WebhookHttpServer::Answer(const WebhookResponse& answer,
                               httplib::Response& response) {
  response.status = answer.status;
  for (const auto& [name, value] : answer.headers) {
    response.set_header(name, value);
  }
  response.set_content(answer.body, answer.content_type);
}

absl::StatusOr<int> WebhookHttpServer::Bind(const std::string& host, int port) {
  const int bound = port == 0 ? server_.bind_to_any_port(host)
                              : (server_.bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", host, ":", port));
  }
  return bound;
}

absl::Status WebhookHttpServer::Serve(WebhookHandler* handler) {
  handler_ = handler;
  // cpp-httplib ignores stop() until it listens, so a watcher forwards a
  // Stop() once the server runs, however early it came.
  std::thread watcher([this] {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](WebhookHttpServer* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return self->stop_requested_ || self->serve_returned_;
        },
        this));
    while (!serve_returned_) {
      server_.stop();
      mu_.AwaitWithTimeout(absl::Condition(&serve_returned_),
                           absl::Milliseconds(5));
    }
  });
  const bool clean = server_.listen_after_bind();
  {
    absl::MutexLock lock(&mu_);
    serve_returned_ = true;
  }
  watcher.join();
  return clean ? absl::OkStatus()
               : absl::InternalError("the HTTP server stopped with an error");
}

void WebhookHttpServer::Stop() {
  absl::MutexLock lock(&mu_);
  stop_requested_ = true;
}

}  // namespace jobqueue::twilio
