#include "shim/webhook/webhook_http_server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core/flat_buffer.hpp"
#include "boost/beast/http.hpp"
#include "shim/webhook/worker_pool.h"

namespace jobqueue::shim {

namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// After an answer that closes the connection, what the client still sends
// is read and dropped for a while, so that closing with unread data (which
// makes the kernel send a reset) does not destroy the answer before the
// client reads it.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 1 << 20;
// Connections refused with 503 that are still being answered; beyond this
// many, further ones are closed without an answer.
constexpr size_t kMaxRefusing = 256;
// How long accepting pauses when the process is out of file descriptors.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

Clock::duration ToChrono(absl::Duration d) {
  return std::chrono::duration_cast<Clock::duration>(absl::ToChronoNanoseconds(
      std::clamp(d, absl::ZeroDuration(), absl::Hours(24 * 365))));
}

WebhookResponse TextAnswer(int status, absl::string_view text) {
  WebhookResponse response;
  response.status = status;
  response.body = absl::StrCat(text, "\n");
  return response;
}

absl::string_view PathOf(absl::string_view target) {
  return target.substr(0, target.find('?'));
}

absl::string_view View(boost::beast::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// True when every coding the request's Content-Encoding fields list is
// "identity" (or there are none).
bool IdentityEncoded(const http::request<http::string_body>& request) {
  auto [begin, end] = request.equal_range(http::field::content_encoding);
  for (auto it = begin; it != end; ++it) {
    for (absl::string_view coding :
         absl::StrSplit(View(it->value()), ',', absl::SkipWhitespace())) {
      coding = absl::StripAsciiWhitespace(coding);
      if (!coding.empty() && !absl::EqualsIgnoreCase(coding, "identity")) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

class Session;

class WebhookHttpServer::Impl {
 public:
  Impl(const Options& options, ShimMetrics* metrics)
      : options_(options),
        metrics_(metrics),
        acceptor_strand_(net::make_strand(ioc_)),
        acceptor_(acceptor_strand_),
        accept_retry_(acceptor_strand_) {}

  absl::StatusOr<int> Bind(const std::string& host, int port);
  absl::Status Serve(WebhookHandler* handler);
  void Stop();

  void Register(Session* session) ABSL_LOCKS_EXCLUDED(sessions_mu_);
  void Unregister(Session* session, bool counted)
      ABSL_LOCKS_EXCLUDED(sessions_mu_);

  const Options& options() const { return options_; }
  WebhookHandler* handler() const { return handler_; }
  bool stopping() const { return stopping_.load(); }
  WorkerPool& workers() { return workers_; }
  net::io_context& ioc() { return ioc_; }
  void Record(absl::string_view path, int status, absl::Duration duration) {
    if (metrics_ != nullptr) metrics_->RecordRequest(path, status, duration);
  }

 private:
  void Accept();
  void OnAccept(error_code ec, tcp::socket socket);

  const Options options_;
  ShimMetrics* const metrics_;
  // Set by Serve() before the first connection is accepted.
  WebhookHandler* handler_ = nullptr;
  WorkerPool workers_;
  std::atomic<bool> stopping_{false};

  absl::Mutex stop_mu_;
  bool stop_requested_ ABSL_GUARDED_BY(stop_mu_) = false;

  absl::Mutex sessions_mu_;
  absl::flat_hash_set<Session*> sessions_ ABSL_GUARDED_BY(sessions_mu_);
  // Connections being served, and connections being refused with 503.
  size_t open_ ABSL_GUARDED_BY(sessions_mu_) = 0;
  size_t refusing_ ABSL_GUARDED_BY(sessions_mu_) = 0;

  // Declared after what its pending handlers use, so that destroying it
  // (which destroys sessions still queued) comes first.
  net::io_context ioc_;
  net::strand<net::io_context::executor_type> acceptor_strand_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
};

// One connection: reads requests one at a time, hands each to the worker
// pool, writes its answer, and keeps the connection for the next one. All
// of its handlers run on its strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(WebhookHttpServer::Impl* server, tcp::socket socket, bool refused)
      : server_(server),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(server->options().max_header_bytes + (64 << 10)),
        refused_(refused) {
    error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    const tcp::endpoint remote = socket_.remote_endpoint(ec);
    if (!ec) remote_address_ = remote.address().to_string();
    server_->Register(this);
  }

  ~Session() { server_->Unregister(this, !refused_); }

  void Start() {
    net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      if (self->refused_) {
        WebhookResponse answer = TextAnswer(503, "too many connections");
        answer.headers.emplace_back("Retry-After", "1");
        self->WriteAnswer(answer, /*close=*/true);
        return;
      }
      self->WaitForRequest(/*first=*/true);
    });
  }

  // Called on the strand when the server stops: a connection that is not
  // answering a request is closed now, one that is closes after its answer.
  void OnStop() {
    if (state_ != State::kHandling && state_ != State::kWriting) Close();
  }

  // Runs `fn` on this session's strand.
  template <typename Fn>
  void Post(Fn fn) {
    net::post(socket_.get_executor(), std::move(fn));
  }

 private:
  enum class State {
    kIdle,       // waiting for the first byte of a request
    kReading,    // reading a request, under its deadline
    kHandling,   // in the worker pool
    kWriting,    // writing an answer
    kLingering,  // dropping input before closing
    kClosed,
  };

  void ArmTimer(Clock::duration after) {
    timer_.expires_after(after);
    timer_.async_wait(
        [self = shared_from_this()](error_code ec) { self->OnTimer(ec); });
  }

  void DisarmTimer() { timer_.expires_at(Clock::time_point::max()); }

  void OnTimer(error_code ec) {
    // Cancelled, or re-armed after this wait completed.
    if (ec == net::error::operation_aborted) return;
    if (timer_.expiry() > Clock::now()) return;
    switch (state_) {
      case State::kReading:
        // The read handler answers 408 once the read ends. Cancelling ends
        // a read in progress; a composed read between two reads of the
        // socket starts the next one after this, so the receive side is
        // shut too: that read then ends at once instead of waiting for a
        // slow client's next byte.
        timed_out_ = true;
        socket_.cancel(ec);
        socket_.shutdown(tcp::socket::shutdown_receive, ec);
        break;
      case State::kIdle:
      case State::kWriting:
      case State::kLingering:
        Close();
        break;
      case State::kHandling:
      case State::kClosed:
        break;
    }
  }

  void WaitForRequest(bool first) {
    if (server_->stopping()) {
      Close();
      return;
    }
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(server_->options().max_header_bytes, UINT32_MAX)));
    // Checked against Content-Length after the header, applied to the
    // running total of a chunked body once the body is read. (Not
    // boost::none: Boost 1.74's parser compares a Content-Length with it as
    // an optional, and anything is greater than none.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    routed_ = false;
    path_.clear();
    head_ = false;
    timed_out_ = false;
    if (buffer_.size() > 0) {  // a pipelined request already arrived
      StartReading();
      return;
    }
    state_ = State::kIdle;
    const WebhookHttpServer::Options& options = server_->options();
    ArmTimer(ToChrono(
        first ? std::min(options.idle_timeout, options.request_read_timeout)
              : options.idle_timeout));
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](error_code ec) {
                         if (self->state_ != State::kIdle) return;
                         if (ec) {
                           self->Close();
                           return;
                         }
                         self->StartReading();
                       });
  }

  void StartReading() {
    state_ = State::kReading;
    ArmTimer(ToChrono(server_->options().request_read_timeout));
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  // Answers a read that failed: 408, 413, 431 or 400, or closes when there
  // is no one to answer.
  void OnReadError(error_code ec, bool in_body) {
    if (state_ == State::kClosed) return;
    if (timed_out_) {
      WriteAnswer(TextAnswer(408, "request timeout"), true);
    } else if (ec == http::error::header_limit ||
               (!in_body && ec == http::error::buffer_overflow)) {
      WriteAnswer(TextAnswer(431, "request header fields too large"), true);
    } else if (ec == http::error::body_limit ||
               ec == http::error::buffer_overflow) {
      WriteAnswer(TextAnswer(413, "request body too large"), true);
    } else if (ec == http::error::end_of_stream ||
               ec == http::error::partial_message ||
               ec.category() !=
                   http::make_error_code(http::error::bad_method).category()) {
      Close();  // the client left, or the socket failed
    } else {
      WriteAnswer(TextAnswer(400, "bad request"), true);
    }
  }

  void OnHeader(error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec || timed_out_) {
      OnReadError(ec, /*in_body=*/false);
      return;
    }
    const http::request<http::string_body>& request = parser_->get();
    routed_ = true;
    routed_at_ = absl::Now();
    path_ = std::string(PathOf(View(request.target())));
    head_ = request.method() == http::verb::head;
    const absl::string_view method = View(request.method_string());
    if (std::optional<WebhookResponse> early =
            server_->handler()->Screen(method, View(request.target()))) {
      // The body is not read, so the connection cannot carry another
      // request.
      WriteAnswer(*early, true);
      return;
    }
    if (!IdentityEncoded(request)) {
      WriteAnswer(TextAnswer(415, "unsupported content encoding"), true);
      return;
    }
    if (request.count(http::field::transfer_encoding) > 0 &&
        !absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(View(
                                    request[http::field::transfer_encoding])),
                                "chunked")) {
      WriteAnswer(TextAnswer(501, "transfer coding not implemented"), true);
      return;
    }
    const size_t max_body = server_->options().max_body_bytes;
    if (parser_->content_length().has_value() &&
        *parser_->content_length() > max_body) {
      WriteAnswer(TextAnswer(413, "request body too large"), true);
      return;
    }
    parser_->body_limit(max_body);
    if (parser_->is_done()) {
      Dispatch();
      return;
    }
    if (absl::EqualsIgnoreCase(View(request[http::field::expect]),
                               "100-continue")) {
      net::async_write(socket_, net::buffer(kContinue, sizeof(kContinue) - 1),
                       [self = shared_from_this()](error_code ec, size_t) {
                         if (self->state_ == State::kClosed) return;
                         if (ec || self->timed_out_) {
                           self->OnReadError(ec, /*in_body=*/true);
                           return;
                         }
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, size_t) {
                       if (self->state_ == State::kClosed) return;
                       if (ec || self->timed_out_) {
                         self->OnReadError(ec, /*in_body=*/true);
                         return;
                       }
                       self->Dispatch();
                     });
  }

  // Hands the request read whole to the worker pool.
  void Dispatch() {
    state_ = State::kHandling;
    DisarmTimer();
    http::request<http::string_body> request = parser_->release();
    parser_.reset();
    keep_alive_ = request.keep_alive();
    auto webhook = std::make_shared<WebhookRequest>();
    webhook->method = std::string(request.method_string());
    webhook->target = std::string(request.target());
    webhook->content_type = std::string(request[http::field::content_type]);
    webhook->signature = std::string(request["X-Twilio-Signature"]);
    webhook->body = std::move(request.body());
    webhook->remote_address = remote_address_;
    // Held until the answer is back on the strand, so that the I/O threads
    // do not run out of work while the handler runs.
    auto work = std::make_shared<
        net::executor_work_guard<net::io_context::executor_type>>(
        server_->ioc().get_executor());
    server_->workers().Add([self = shared_from_this(), webhook, work]() {
      WebhookResponse answer = self->server_->handler()->Handle(*webhook);
      self->Post([self, answer = std::move(answer)] {
        if (self->state_ == State::kClosed) return;
        self->WriteAnswer(answer, !self->keep_alive_);
      });
      work->reset();
    });
  }

  void WriteAnswer(const WebhookResponse& answer, bool close) {
    close = close || server_->stopping();
    state_ = State::kWriting;
    answer_status_ = answer.status;
    response_ = {};
    response_.version(11);
    response_.result(static_cast<unsigned>(answer.status));
    response_.set(http::field::content_type, answer.content_type);
    for (const auto& [name, value] : answer.headers) {
      response_.insert(name, value);
    }
    response_.keep_alive(!close);
    response_.content_length(answer.body.size());
    if (!head_) response_.body() = answer.body;
    close_after_write_ = close;
    ArmTimer(ToChrono(server_->options().write_timeout));
    http::async_write(socket_, response_,
                      [self = shared_from_this()](error_code ec, size_t) {
                        self->OnWritten(ec);
                      });
  }

  void OnWritten(error_code ec) {
    server_->Record(path_, answer_status_,
                    routed_ ? absl::Now() - routed_at_ : -absl::Seconds(1));
    if (state_ == State::kClosed) return;
    if (ec) {
      Close();
      return;
    }
    if (close_after_write_) {
      Linger();
      return;
    }
    WaitForRequest(/*first=*/false);
  }

  // Stops sending, then drops what the client still sends until it closes,
  // kLingerBytes arrived or kLingerTime passed.
  void Linger() {
    state_ = State::kLingering;
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec || server_->stopping()) {
      Close();
      return;
    }
    lingered_ = buffer_.size();
    buffer_.clear();
    drop_.resize(16 << 10);
    ArmTimer(kLingerTime);
    DropInput();
  }

  void DropInput() {
    if (lingered_ >= kLingerBytes) {
      Close();
      return;
    }
    socket_.async_read_some(
        net::buffer(drop_.data(), drop_.size()),
        [self = shared_from_this()](error_code ec, size_t n) {
          if (self->state_ != State::kLingering) return;
          if (ec) {
            self->Close();
            return;
          }
          self->lingered_ += n;
          self->DropInput();
        });
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    error_code ec;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  WebhookHttpServer::Impl* const server_;
  tcp::socket socket_;
  net::steady_timer timer_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  const bool refused_;
  std::string remote_address_;
  State state_ = State::kIdle;
  bool timed_out_ = false;
  bool keep_alive_ = false;
  bool head_ = false;
  bool close_after_write_ = false;
  // Set once the request's header is read: its path, and when.
  bool routed_ = false;
  std::string path_;
  absl::Time routed_at_;
  int answer_status_ = 0;
  size_t lingered_ = 0;
  // Where lingering input goes; allocated only then.
  std::vector<char> drop_;
};

void WebhookHttpServer::Impl::Register(Session* session) {
  absl::MutexLock lock(&sessions_mu_);
  sessions_.insert(session);
}

void WebhookHttpServer::Impl::Unregister(Session* session, bool counted) {
  absl::MutexLock lock(&sessions_mu_);
  sessions_.erase(session);
  if (counted) {
    --open_;
  } else {
    --refusing_;
  }
}

absl::StatusOr<int> WebhookHttpServer::Impl::Bind(const std::string& host,
                                                  int port) {
  const auto fail = [&](const error_code& ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", host, ":", port, ": ", ec.message()));
  };
  error_code ec;
  tcp::resolver resolver(ioc_);
  const tcp::resolver::results_type endpoints = resolver.resolve(
      host, std::to_string(port),
      tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) return fail(ec);
  for (const tcp::resolver::results_type::value_type& entry : endpoints) {
    const tcp::endpoint endpoint = entry.endpoint();
    error_code ignored;
    acceptor_.close(ignored);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (!ec) return static_cast<int>(acceptor_.local_endpoint().port());
  }
  error_code ignored;
  acceptor_.close(ignored);
  return fail(ec ? ec : net::error::host_not_found);
}

void WebhookHttpServer::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         [this](error_code ec, tcp::socket socket) {
                           OnAccept(ec, std::move(socket));
                         });
}

void WebhookHttpServer::Impl::OnAccept(error_code ec, tcp::socket socket) {
  if (stopping_ || !acceptor_.is_open()) return;
  if (ec) {
    if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
        ec == net::error::no_memory) {
      // Out of file descriptors or memory: wait for some to be freed rather
      // than spin.
      absl::FPrintF(stderr, "twilio_shim: accept: %s\n", ec.message());
      accept_retry_.expires_after(kAcceptRetryDelay);
      accept_retry_.async_wait([this](error_code ec) {
        if (!ec && !stopping_) Accept();
      });
      return;
    }
    Accept();
    return;
  }
  bool refused = false;
  {
    absl::MutexLock lock(&sessions_mu_);
    if (open_ < options_.max_connections) {
      ++open_;
    } else if (refusing_ < kMaxRefusing) {
      ++refusing_;
      refused = true;
    } else {
      // Even the refusals are too many: close without a word.
      error_code ignored;
      socket.close(ignored);
      Record("", 503, -absl::Seconds(1));
      Accept();
      return;
    }
  }
  std::make_shared<Session>(this, std::move(socket), refused)->Start();
  Accept();
}

absl::Status WebhookHttpServer::Impl::Serve(WebhookHandler* handler) {
  handler_ = handler;
  {
    absl::MutexLock lock(&stop_mu_);
    if (stop_requested_) {
      error_code ignored;
      acceptor_.close(ignored);
      return absl::OkStatus();
    }
  }
  if (!acceptor_.is_open()) {
    return absl::FailedPreconditionError("Serve() before a successful Bind()");
  }
  workers_.Start(std::max(1, options_.worker_threads));
  net::dispatch(acceptor_strand_, [this] { Accept(); });
  const auto run = [this] {
    // Handlers do not throw by design; should one, the thread goes on.
    while (true) {
      try {
        ioc_.run();
        return;
      } catch (const std::exception& e) {
        absl::FPrintF(stderr, "twilio_shim: HTTP server: %s\n", e.what());
      }
    }
  };
  std::vector<std::thread> io_threads;
  for (int i = 1; i < options_.io_threads; ++i) io_threads.emplace_back(run);
  run();  // until no connection and no accept is left: after Stop()
  for (std::thread& thread : io_threads) thread.join();
  workers_.Stop();
  return absl::OkStatus();
}

void WebhookHttpServer::Impl::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    if (stop_requested_) return;
    stop_requested_ = true;
  }
  // On the acceptor's strand, so that no session is registered after the
  // ones told to stop here.
  net::post(acceptor_strand_, [this] {
    stopping_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    // Taken under the lock, posted and dropped after it: the last owner's
    // drop runs ~Session, which unregisters under sessions_mu_ (dropping it
    // inside deadlocked; abseil's deadlock check caught it under TSan).
    std::vector<std::shared_ptr<Session>> alive;
    {
      absl::MutexLock lock(&sessions_mu_);
      for (Session* session : sessions_) {
        // Null when the session is being destroyed.
        if (auto owner = session->weak_from_this().lock()) {
          alive.push_back(std::move(owner));
        }
      }
    }
    for (const std::shared_ptr<Session>& session : alive) {
      session->Post([session] { session->OnStop(); });
    }
  });
}

WebhookHttpServer::WebhookHttpServer(const Options& options,
                                     ShimMetrics* metrics)
    : impl_(std::make_unique<Impl>(options, metrics)) {}

WebhookHttpServer::~WebhookHttpServer() = default;

absl::StatusOr<int> WebhookHttpServer::Bind(const std::string& host, int port) {
  return impl_->Bind(host, port);
}

absl::Status WebhookHttpServer::Serve(WebhookHandler* handler) {
  return impl_->Serve(handler);
}

void WebhookHttpServer::Stop() { impl_->Stop(); }

}  // namespace jobqueue::shim
