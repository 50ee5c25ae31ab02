#include "shim/webhook/webhook_http_server.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "shim/backend/fake_job_queue_backend.h"
#include "shim/delivery/delivery_payload.h"
#include "shim/spool/spool_replayer.h"
#include "shim/test_dir.h"
#include "shim/webhook/raw_http_client.h"
#include "shim/webhook/test_handler.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kToken[] = "http-test-token";
// As behind a proxy: Twilio signs the public URL, the shim listens locally.
constexpr char kPublicBase[] = "https://hooks.example.com";
constexpr size_t kMaxBody = 64 << 10;

class WebhookHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WebhookHandler::Options options;
    options.public_base_url = kPublicBase;
    options.metrics = &metrics_;
    ASSERT_NO_FATAL_FAILURE(
        OpenTestHandler(&verifier_, &backend_, options, &spool_, &handler_));
    StartServer(DefaultOptions());
  }

  void TearDown() override { StopServer(); }

  static WebhookHttpServer::Options DefaultOptions() {
    WebhookHttpServer::Options options;
    options.max_body_bytes = kMaxBody;
    options.io_threads = 2;  // sessions must be safe across I/O threads
    options.worker_threads = 4;
    return options;
  }

  // Replaces the server with one that has `options`.
  void StartServer(const WebhookHttpServer::Options& options) {
    StopServer();
    server_ = std::make_unique<WebhookHttpServer>(options, &metrics_);
    absl::StatusOr<int> port = server_->Bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    serving_ = std::thread(
        [this] { EXPECT_TRUE(server_->Serve(handler_.get()).ok()); });
  }

  void StopServer() {
    if (server_ == nullptr) return;
    server_->Stop();
    if (serving_.joinable()) serving_.join();
    server_.reset();
  }

  std::unique_ptr<RawHttpConnection> Connect() {
    std::unique_ptr<RawHttpConnection> connection =
        RawHttpConnection::Connect(port_);
    EXPECT_NE(connection, nullptr);
    return connection;
  }

  // A signed POST of `body` to /twilio/messages whose body is sent a byte
  // at a time, `gap` apart, until the server answers or 4 s pass: the
  // answer, and how long from the body's first byte until it was read.
  struct Trickled {
    std::optional<RawHttpResponse> answer;
    absl::Duration took;
  };
  Trickled TrickleBody(const std::string& body, absl::Duration gap) {
    Trickled trickled;
    std::unique_ptr<RawHttpConnection> connection = Connect();
    if (connection == nullptr ||
        !connection->Send(SignedHeader(
            "/twilio/messages", body,
            absl::StrCat("Content-Length: ", body.size(), "\r\n")))) {
      ADD_FAILURE() << "could not send the request header";
      return trickled;
    }
    const absl::Time start = absl::Now();
    for (size_t i = 0;
         i < body.size() && absl::Now() - start < absl::Seconds(4); ++i) {
      if (!connection->Send(body.substr(i, 1))) break;
      if (connection->Readable(gap)) {
        trickled.answer = connection->ReadResponse(absl::Seconds(1));
        break;
      }
    }
    trickled.took = absl::Now() - start;
    return trickled;
  }

  // A signed POST of `body` as a request header, without the body.
  std::string SignedHeader(const std::string& path, const std::string& body,
                           const std::string& framing) {
    const std::string signature = ComputeTwilioSignature(
        kToken, kPublicBase + path, *ParseFormUrlEncoded(body));
    return absl::StrCat("POST ", path,
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: application/x-www-form-urlencoded\r\n"
                        "X-Twilio-Signature: ",
                        signature, "\r\n", framing, "\r\n");
  }

  // How many requests ShimMetrics counted for `endpoint` and `status`.
  std::string CountLine(absl::string_view endpoint, int status) {
    return absl::StrFormat(
        "twilio_shim_requests_total{endpoint=\"%s\",status=\"%d\"} 1\n",
        endpoint, status);
  }

  httplib::Result PostSigned(const std::string& path, const std::string& body) {
    httplib::Client client("127.0.0.1", port_);
    const std::string signature = ComputeTwilioSignature(
        kToken, kPublicBase + path, *ParseFormUrlEncoded(body));
    return client.Post(path.c_str(), {{"X-Twilio-Signature", signature}}, body,
                       "application/x-www-form-urlencoded");
  }

  // The metrics' Prometheus text, as twilio_shim serves it on its metrics
  // address, once it holds `line` (or after 10 s). An answer is counted just
  // after it is written, so its client may read it a moment before.
  std::string Scrape(absl::string_view line = "") {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    std::string text = registry_.Render();
    while (!absl::StrContains(text, line) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
      text = registry_.Render();
    }
    return text;
  }

  // Expects the metrics to come to hold `line`.
  void ExpectMetric(const std::string& line) {
    EXPECT_THAT(Scrape(line), HasSubstr(line));
  }

  metrics::Registry registry_;
  ShimMetrics metrics_{&registry_};
  WebhookSignatureVerifier verifier_{kToken};
  FakeJobQueueBackend backend_;
  std::unique_ptr<DeliverySpool> spool_;
  std::unique_ptr<WebhookHandler> handler_;
  std::unique_ptr<WebhookHttpServer> server_;
  std::thread serving_;
  int port_ = 0;
};

TEST_F(WebhookHttpServerTest, ASignedDeliveryGetsTwiml) {
  httplib::Result result =
      PostSigned("/twilio/messages",
                 "MessageSid=SM1&From=%2B14158675309&Body=Hello+over+HTTP");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->get_header_value("Content-Type"), "text/xml");
  EXPECT_EQ(result->body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>");
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  EXPECT_EQ(PayloadText(backend_.accepted()[0].enqueue_job().payload(), "Body"),
            "Hello over HTTP");
}

TEST_F(WebhookHttpServerTest, OpenKeepAliveConnectionsDoNotStarveANewOne) {
  // Twilio keeps many connections open; idle ones must not hold up others
  // (cpp-httplib's defaults would hold the new one until an idle one timed
  // out after 5 s).
  std::vector<std::unique_ptr<httplib::Client>> open;
  for (int i = 0; i < 32; ++i) {
    open.push_back(std::make_unique<httplib::Client>("127.0.0.1", port_));
    open.back()->set_keep_alive(true);
    open.back()->set_read_timeout(2, 0);
    httplib::Result result = open.back()->Get("/healthz");
    ASSERT_TRUE(result) << i << ": " << httplib::to_string(result.error());
  }
  httplib::Client late("127.0.0.1", port_);
  late.set_read_timeout(2, 0);
  httplib::Result result = late.Get("/healthz");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  for (auto& client : open) {
    result = client->Get("/healthz");
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    EXPECT_EQ(result->status, 200);
  }
}

TEST_F(WebhookHttpServerTest, BodiesUpToTheLimitAreAccepted) {
  // Past cpp-httplib's own 8 KiB cap on form bodies, under the shim's limit.
  const std::string body = absl::StrCat("MessageSid=SM2&From=%2B14158675309",
                                        "&Body=", std::string(40000, 'a'));
  httplib::Result result = PostSigned("/twilio/messages", body);
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 200);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
}

TEST_F(WebhookHttpServerTest, ABodyOverTheLimitIs413AndWritesNothing) {
  const std::string body = absl::StrCat("MessageSid=SM3&From=%2B14158675309",
                                        "&Body=", std::string(kMaxBody, 'a'));
  httplib::Result result = PostSigned("/twilio/messages", body);
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 413);
  EXPECT_THAT(backend_.attempts(), SizeIs(0));
  EXPECT_FALSE(spool_->HasPending());
}

TEST_F(WebhookHttpServerTest, AnUnsignedDeliveryIs403) {
  httplib::Client client("127.0.0.1", port_);
  httplib::Result result =
      client.Post("/twilio/messages", "MessageSid=SM4&From=%2B14158675309",
                  "application/x-www-form-urlencoded");
  ASSERT_TRUE(result) << httplib::to_string(result.error());
  EXPECT_EQ(result->status, 403);
  EXPECT_THAT(backend_.attempts(), SizeIs(0));
}

TEST_F(WebhookHttpServerTest, AnswersUnknownPathsAndWrongMethods) {
  httplib::Client client("127.0.0.1", port_);
  httplib::Result unknown =
      client.Post("/twilio/nope", "a=1", "application/x-www-form-urlencoded");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->get_header_value("Connection"), "close")
      << "its body was not read, so the connection must not be reused";
  httplib::Result get_messages = client.Get("/twilio/messages");
  ASSERT_TRUE(get_messages);
  EXPECT_EQ(get_messages->status, 405);
  EXPECT_EQ(get_messages->get_header_value("Allow"), "POST");
  httplib::Result put = client.Put("/twilio/conversations", "x", "text/plain");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 405);
  httplib::Result post_health = client.Post("/healthz", "", "text/plain");
  ASSERT_TRUE(post_health);
  EXPECT_EQ(post_health->status, 405);
  EXPECT_THAT(backend_.attempts(), SizeIs(0));
}

TEST_F(WebhookHttpServerTest, HealthzReportsTheBackend) {
  httplib::Client client("127.0.0.1", port_);
  httplib::Result up = client.Get("/healthz");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 200);
  backend_.AnswerHealth(absl::UnavailableError("connection refused"));
  httplib::Result down = client.Get("/healthz");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
  EXPECT_THAT(down->body, HasSubstr("connection refused"));
}

TEST_F(WebhookHttpServerTest, MetricsCountForgedAndRefusedRequests) {
  EXPECT_THAT(Scrape(),
              HasSubstr("twilio_shim_signature_rejections_total 0\n"));
  httplib::Client client("127.0.0.1", port_);
  httplib::Result forged =
      client.Post("/twilio/messages", {{"X-Twilio-Signature", "Zm9yZ2Vk"}},
                  "MessageSid=SM5&From=%2B14158675309",
                  "application/x-www-form-urlencoded");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);
  ASSERT_TRUE(client.Post("/twilio/nope", "a=1", "text/plain"));
  // The metrics are not served on this public port.
  httplib::Result scrape = client.Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_EQ(scrape->status, 404);
  EXPECT_THAT(scrape->body, Not(HasSubstr("twilio_shim_")));
  ASSERT_TRUE(PostSigned(
      "/twilio/messages",
      absl::StrCat("MessageSid=SM6&Body=", std::string(kMaxBody, 'a'))));

  ExpectMetric(
      "# TYPE twilio_shim_signature_rejections_total counter\n"
      "twilio_shim_signature_rejections_total 1\n");
  ExpectMetric(CountLine("/twilio/messages", 403));
  ExpectMetric(CountLine("/twilio/messages", 413));
  ExpectMetric(
      "twilio_shim_requests_total{endpoint=\"other\",status=\"404\"} 2\n");
  ExpectMetric(
      "twilio_shim_request_duration_seconds_count{endpoint=\"/twilio/"
      "messages\"} 2\n");
  ExpectMetric("twilio_shim_deliveries_spooled_total 0\n");
  EXPECT_THAT(backend_.attempts(), SizeIs(0));
}

TEST_F(WebhookHttpServerTest, MetricsFollowTheSpoolAndItsReplay) {
  backend_.AnswerEnqueue(absl::UnavailableError("down"));
  for (const char* sid : {"SM7", "SM8"}) {
    httplib::Result result = PostSigned(
        "/twilio/messages",
        absl::StrCat("MessageSid=", sid, "&From=%2B14158675309&Body=hi"));
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200);
  }
  std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr("twilio_shim_deliveries_spooled_total 2\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_spool_depth 2\n"));

  SpoolReplayer::Options options;
  options.metrics = &metrics_;
  SpoolReplayer replayer(spool_.get(), &backend_, options);
  EXPECT_FALSE(replayer.ReplayPass().ok());
  backend_.AnswerEnqueue(absl::OkStatus());
  EXPECT_TRUE(replayer.ReplayPass().ok());
  text = Scrape();
  EXPECT_THAT(text, HasSubstr("twilio_shim_replays_failed_total 1\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_replays_succeeded_total 2\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_spool_depth 0\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_dead_letters_total 0\n"));
}

TEST_F(WebhookHttpServerTest, StopEndsServe) {
  server_->Stop();
  serving_.join();
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(absl::ToChronoSeconds(absl::Seconds(1)));
  EXPECT_FALSE(client.Get("/healthz"));
}

TEST_F(WebhookHttpServerTest, AChunkedBodyOverTheLimitIs413BeforeItEnds) {
  // Signed, so that the handler would take it if it ever saw it.
  const std::string body =
      absl::StrCat("MessageSid=SM9&From=%2B14158675309",
                   "&Body=", std::string(4 * kMaxBody, 'a'));
  std::unique_ptr<RawHttpConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(connection->Send(SignedHeader("/twilio/messages", body,
                                            "Transfer-Encoding: chunked\r\n")));
  // Chunks of 4 KiB up to twice the limit, never the last chunk: the answer
  // must not wait for the end of the body.
  constexpr size_t kChunk = 4096;
  for (size_t sent = 0;
       sent < 2 * kMaxBody && !connection->Readable(absl::ZeroDuration());
       sent += kChunk) {
    if (!connection->Send(
            absl::StrFormat("%x\r\n%s\r\n", kChunk,
                            absl::string_view(body).substr(sent, kChunk)))) {
      break;  // the server closed early
    }
  }
  std::optional<RawHttpResponse> answer =
      connection->ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(answer.has_value()) << "no answer before the body ended";
  EXPECT_EQ(answer->status, 413);
  EXPECT_EQ(answer->body, "request body too large\n");
  EXPECT_EQ(answer->header("connection"), "close");
  EXPECT_TRUE(connection->WaitForClose(absl::Seconds(5)));
  EXPECT_THAT(backend_.attempts(), SizeIs(0));
  EXPECT_FALSE(spool_->HasPending());
  ExpectMetric(CountLine("/twilio/messages", 413));
}

TEST_F(WebhookHttpServerTest, AChunkedBodyUnderTheLimitIsDelivered) {
  const std::string body = absl::StrCat("MessageSid=SM10&From=%2B14158675309",
                                        "&Body=", std::string(20000, 'b'));
  std::unique_ptr<RawHttpConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  std::string request =
      SignedHeader("/twilio/messages", body, "Transfer-Encoding: chunked\r\n");
  for (size_t at = 0; at < body.size(); at += 5000) {
    const absl::string_view chunk = absl::string_view(body).substr(at, 5000);
    absl::StrAppendFormat(&request, "%x\r\n%s\r\n", chunk.size(), chunk);
  }
  absl::StrAppend(&request, "0\r\n\r\n");
  ASSERT_TRUE(connection->Send(request));
  std::optional<RawHttpResponse> answer =
      connection->ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
}

TEST_F(WebhookHttpServerTest, AnEncodedBodyIs415WithoutBeingRead) {
  std::unique_ptr<RawHttpConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  // The body is never sent: the answer must not wait for it.
  ASSERT_TRUE(connection->Send(
      SignedHeader("/twilio/messages", "MessageSid=SM11",
                   "Content-Encoding: gzip\r\nContent-Length: 1000\r\n")));
  std::optional<RawHttpResponse> answer =
      connection->ReadResponse(absl::Seconds(2));
  ASSERT_TRUE(answer.has_value()) << "no answer before the body";
  EXPECT_EQ(answer->status, 415);
  EXPECT_EQ(answer->body, "unsupported content encoding\n");
  EXPECT_TRUE(connection->WaitForClose(absl::Seconds(5)));
  EXPECT_THAT(backend_.attempts(), SizeIs(0));
  ExpectMetric(CountLine("/twilio/messages", 415));
}

TEST_F(WebhookHttpServerTest, IdentityEncodingIsAccepted) {
  const std::string body = "MessageSid=SM12&From=%2B14158675309&Body=hi";
  std::unique_ptr<RawHttpConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(connection->Send(absl::StrCat(
      SignedHeader(
          "/twilio/messages", body,
          absl::StrCat("Content-Encoding: identity\r\nContent-Length: ",
                       body.size(), "\r\n")),
      body)));
  std::optional<RawHttpResponse> answer =
      connection->ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200);
}

TEST_F(WebhookHttpServerTest, HeadersOverTheLimitAre431) {
  // One field too large, and many small fields adding up: both over the
  // default 16 KiB.
  const std::string one_large =
      absl::StrCat("X-Large: ", std::string(20 << 10, 'x'), "\r\n");
  std::string many_small;
  for (int i = 0; i < 2000; ++i) {
    absl::StrAppendFormat(&many_small, "X-Small-%d: v\r\n", i);
  }
  for (const std::string& fields : {one_large, many_small}) {
    std::unique_ptr<RawHttpConnection> connection = Connect();
    ASSERT_NE(connection, nullptr);
    // The server may close before it has all of it.
    connection->Send(
        absl::StrCat("GET /healthz HTTP/1.1\r\nHost: x\r\n", fields, "\r\n"));
    std::optional<RawHttpResponse> answer =
        connection->ReadResponse(absl::Seconds(5));
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->status, 431);
    EXPECT_EQ(answer->body, "request header fields too large\n");
    EXPECT_TRUE(connection->WaitForClose(absl::Seconds(5)));
  }
  // Under the limit, larger than cpp-httplib's 8 KiB line limit, is fine.
  std::unique_ptr<RawHttpConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(connection->Send(
      absl::StrCat("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Fine: ",
                   std::string(12 << 10, 'y'), "\r\n\r\n")));
  std::optional<RawHttpResponse> answer =
      connection->ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200);
  ExpectMetric(
      "twilio_shim_requests_total{endpoint=\"other\",status=\"431\"} 2\n");
}

TEST_F(WebhookHttpServerTest, ASlowClientIsCutOffAtTheRequestDeadline) {
  WebhookHttpServer::Options options = DefaultOptions();
  options.request_read_timeout = absl::Seconds(1);
  StartServer(options);
  std::unique_ptr<RawHttpConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  const std::string request =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 's');
  const absl::Time start = absl::Now();
  // One byte every 100 ms: each arrives well within any per-read timeout.
  bool cut = false;
  std::optional<RawHttpResponse> answer;
  for (size_t i = 0;
       i < request.size() && absl::Now() - start < absl::Seconds(4); ++i) {
    if (!connection->Send(request.substr(i, 1))) {
      cut = true;
      break;
    }
    if (connection->Readable(absl::Milliseconds(100))) {
      answer = connection->ReadResponse(absl::Seconds(1));
      cut = connection->WaitForClose(absl::Seconds(2));
      break;
    }
  }
  const absl::Duration elapsed = absl::Now() - start;
  ASSERT_TRUE(cut) << "still connected after " << elapsed;
  EXPECT_LT(elapsed, absl::Milliseconds(2500));
  EXPECT_GE(elapsed, absl::Milliseconds(900));
  if (answer.has_value()) {
    EXPECT_EQ(answer->status, 408);
    EXPECT_EQ(answer->body, "request timeout\n");
  }
  ExpectMetric(CountLine("other", 408));
}

TEST_F(WebhookHttpServerTest, ASlowBodyIsCutOffAtTheRequestDeadline) {
  WebhookHttpServer::Options options = DefaultOptions();
  options.request_read_timeout = absl::Seconds(1);
  StartServer(options);
  const std::string body = "MessageSid=SM13&From=%2B14158675309&Body=slow";
  const Trickled trickled = TrickleBody(body, absl::Milliseconds(100));
  const std::optional<RawHttpResponse>& answer = trickled.answer;
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 408);
  EXPECT_LT(trickled.took, absl::Milliseconds(2500));
  EXPECT_THAT(backend_.attempts(), SizeIs(0));
  ExpectMetric(CountLine("/twilio/messages", 408));
}

// A body trickled a byte a millisecond keeps the server reading almost all
// the time: the deadline must end the read even when it passes between two
// reads of the socket, not only during one.
TEST_F(WebhookHttpServerTest, ASteadyTrickleIsCutOffAtTheRequestDeadline) {
  WebhookHttpServer::Options options = DefaultOptions();
  options.request_read_timeout = absl::Seconds(1);
  StartServer(options);
  const std::string body =
      absl::StrCat("MessageSid=SM14&From=%2B14158675309&Body=",
                   std::string(kMaxBody / 2, 'x'));
  const Trickled trickled = TrickleBody(body, absl::Milliseconds(1));
  const std::optional<RawHttpResponse>& answer = trickled.answer;
  ASSERT_TRUE(answer.has_value()) << "no answer after " << trickled.took;
  EXPECT_EQ(answer->status, 408);
  EXPECT_LT(trickled.took, absl::Milliseconds(2500));
  EXPECT_THAT(backend_.attempts(), SizeIs(0));
}

TEST_F(WebhookHttpServerTest, ConnectionsBeyondTheCapGet503) {
  WebhookHttpServer::Options options = DefaultOptions();
  options.max_connections = 2;
  StartServer(options);
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<std::unique_ptr<RawHttpConnection>> open;
  for (int i = 0; i < 2; ++i) {
    open.push_back(Connect());
    ASSERT_NE(open.back(), nullptr);
    ASSERT_TRUE(open.back()->Send(health));
    std::optional<RawHttpResponse> answer =
        open.back()->ReadResponse(absl::Seconds(5));
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->status, 200);
  }
  const std::string body = "MessageSid=SM14&From=%2B14158675309&Body=capped";
  std::unique_ptr<RawHttpConnection> third = Connect();
  ASSERT_NE(third, nullptr);
  third->Send(absl::StrCat(
      SignedHeader("/twilio/messages", body,
                   absl::StrCat("Content-Length: ", body.size(), "\r\n")),
      body));
  std::optional<RawHttpResponse> refused =
      third->ReadResponse(absl::Seconds(5));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("retry-after"), "1");
  EXPECT_EQ(refused->body, "too many connections\n");
  EXPECT_TRUE(third->WaitForClose(absl::Seconds(5)));
  EXPECT_THAT(backend_.attempts(), SizeIs(0));

  // Once one closes, a new connection is served again.
  open.pop_back();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    std::unique_ptr<RawHttpConnection> next = Connect();
    ASSERT_NE(next, nullptr);
    next->Send(health);
    std::optional<RawHttpResponse> answer =
        next->ReadResponse(absl::Seconds(5));
    served = answer.has_value() && answer->status == 200;
    if (!served) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(served);
  ExpectMetric("status=\"503\"}");
}

TEST_F(WebhookHttpServerTest, KeepAliveServesManyRequestsAndIdleOnesClose) {
  WebhookHttpServer::Options options = DefaultOptions();
  options.idle_timeout = absl::Milliseconds(500);
  StartServer(options);
  std::unique_ptr<RawHttpConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(connection->Send(health)) << i;
    std::optional<RawHttpResponse> answer =
        connection->ReadResponse(absl::Seconds(5));
    ASSERT_TRUE(answer.has_value()) << i;
    EXPECT_EQ(answer->status, 200);
    EXPECT_NE(answer->header("connection"), "close");
  }
  // Pipelined: three requests in one write, three answers in order.
  const std::string body = "MessageSid=SM15&From=%2B14158675309&Body=piped";
  ASSERT_TRUE(connection->Send(absl::StrCat(
      health,
      SignedHeader("/twilio/messages", body,
                   absl::StrCat("Content-Length: ", body.size(), "\r\n")),
      body, health)));
  for (const int status : {200, 200, 200}) {
    std::optional<RawHttpResponse> answer =
        connection->ReadResponse(absl::Seconds(5));
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->status, status);
  }
  EXPECT_THAT(backend_.accepted(), SizeIs(1));
  // Then, idle, it is closed after the idle timeout.
  const absl::Time idle_since = absl::Now();
  EXPECT_TRUE(connection->WaitForClose(absl::Seconds(3)));
  EXPECT_GE(absl::Now() - idle_since, absl::Milliseconds(400));
}

TEST(WebhookHttpServerStopTest, StopBeforeServeMakesServeReturn) {
  WebhookSignatureVerifier verifier("token");
  FakeJobQueueBackend backend;
  WebhookHandler handler(&verifier, &backend, nullptr, {});
  WebhookHttpServer server(WebhookHttpServer::Options{});
  ASSERT_TRUE(server.Bind("127.0.0.1", 0).ok());
  server.Stop();
  EXPECT_TRUE(server.Serve(&handler).ok());
}

}  // namespace
}  // namespace jobqueue::shim
