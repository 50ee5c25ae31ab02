#include "service/twilio/webhook_http_server.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "service/twilio/delivery_payload.h"
#include "service/twilio/fake_job_queue_backend.h"
#include "service/twilio/spool_replayer.h"
#include "service/twilio/test_dir.h"

namespace jobqueue::twilio {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kToken[] = "http-test-token";
// As behind a proxy: Twilio signs the public URL, the shim listens locally.
constexpr char kPublicBase[] = "https://hooks.example.com";
constexpr size_t kMaxBody = 64 << 10;

class WebhookHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<DeliverySpool>> spool =
        DeliverySpool::Open(TestDir());
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
    WebhookHandler::Options options;
    options.public_base_url = kPublicBase;
    options.metrics = &metrics_;
    handler_ = std::make_unique<WebhookHandler>(&verifier_, &backend_,
                                                spool_.get(), options);
    server_ =
        std::make_unique<WebhookHttpServer>(kMaxBody, &registry_, &metrics_);
    absl::StatusOr<int> port = server_->Bind("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    serving_ = std::thread(
        [this] { EXPECT_TRUE(server_->Serve(handler_.get()).ok()); });
  }

  void TearDown() override {
    if (server_ == nullptr) return;
    server_->Stop();
    if (serving_.joinable()) serving_.join();
  }

  httplib::Result PostSigned(const std::string& path, const std::string& body) {
    httplib::Client client("127.0.0.1", port_);
    const std::string signature = ComputeTwilioSignature(
        kToken, kPublicBase + path, *ParseFormUrlEncoded(body));
    return client.Post(path.c_str(), {{"X-Twilio-Signature", signature}}, body,
                       "application/x-www-form-urlencoded");
  }

  // What a scrape of GET /metrics returns; empty when it fails.
  std::string Scrape() {
    httplib::Client client("127.0.0.1", port_);
    httplib::Result result = client.Get("/metrics");
    if (!result || result->status != 200) return "";
    EXPECT_EQ(result->get_header_value("Content-Type"),
              "text/plain; version=0.0.4");
    return result->body;
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
  ASSERT_TRUE(PostSigned(
      "/twilio/messages",
      absl::StrCat("MessageSid=SM6&Body=", std::string(kMaxBody, 'a'))));

  const std::string text = Scrape();
  EXPECT_THAT(text, HasSubstr("# TYPE twilio_shim_signature_rejections_total "
                              "counter\ntwilio_shim_signature_rejections_total "
                              "1\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_requests_total{endpoint=\"/twilio/"
                              "messages\",status=\"403\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_requests_total{endpoint=\"/twilio/"
                              "messages\",status=\"413\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_requests_total{endpoint=\"other\","
                              "status=\"404\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_requests_total{endpoint=\"/"
                              "metrics\",status=\"200\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_request_duration_seconds_count{"
                              "endpoint=\"/twilio/messages\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("twilio_shim_deliveries_spooled_total 0\n"));
  EXPECT_THAT(backend_.attempts(), SizeIs(0));

  httplib::Result post = client.Post("/metrics", "", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
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

TEST(WebhookHttpServerStopTest, StopBeforeServeMakesServeReturn) {
  WebhookSignatureVerifier verifier("token");
  FakeJobQueueBackend backend;
  WebhookHandler handler(&verifier, &backend, nullptr, {});
  WebhookHttpServer server(kMaxBody);
  ASSERT_TRUE(server.Bind("127.0.0.1", 0).ok());
  server.Stop();
  EXPECT_TRUE(server.Serve(&handler).ok());
}

}  // namespace
}  // namespace jobqueue::twilio
