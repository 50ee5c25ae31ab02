#include "shim/webhook/webhook_handler.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shim/backend/fake_job_queue_backend.h"
#include "shim/delivery/delivery_payload.h"
#include "shim/test_dir.h"
#include "shim/webhook/test_handler.h"

namespace jobqueue::shim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;

constexpr char kToken[] = "test-auth-token";
constexpr char kPublicBase[] = "https://hooks.example.com";
constexpr char kSmsBody[] =
    "MessageSid=SM11111111111111111111111111111111&AccountSid=AC1"
    "&From=%2B14158675309&To=%2B18005551212&Body=Hello+world&NumMedia=0";
constexpr char kFormType[] = "application/x-www-form-urlencoded";
constexpr char kTwiml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

std::string Sign(absl::string_view url, absl::string_view body) {
  return ComputeTwilioSignature(kToken, url, *ParseFormUrlEncoded(body));
}

class WebhookHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WebhookHandler::Options options;
    options.public_base_url = kPublicBase;
    options.on_delivered = [this] { ++delivered_callbacks_; };
    options.on_queued = [this] { ++queued_callbacks_; };
    ASSERT_NO_FATAL_FAILURE(
        OpenTestHandler(&verifier_, &backend_, options, &spool_, &handler_));
  }

  WebhookResponse Post(absl::string_view target, absl::string_view body,
                       absl::string_view signature,
                       absl::string_view content_type = kFormType) {
    WebhookRequest request;
    request.method = "POST";
    request.target = std::string(target);
    request.content_type = std::string(content_type);
    request.signature = std::string(signature);
    request.body = std::string(body);
    request.remote_address = "127.0.0.1";
    return handler_->Handle(request);
  }

  WebhookResponse PostSigned(absl::string_view target, absl::string_view body) {
    return Post(target, body, Sign(absl::StrCat(kPublicBase, target), body));
  }

  // Nothing reached the service or the spool.
  void ExpectNothingWritten() {
    EXPECT_THAT(backend_.attempts(), IsEmpty());
    EXPECT_FALSE(spool_->HasPending());
  }

  WebhookSignatureVerifier verifier_{kToken};
  FakeJobQueueBackend backend_;
  std::unique_ptr<DeliverySpool> spool_;
  std::unique_ptr<WebhookHandler> handler_;
  int delivered_callbacks_ = 0;
  int queued_callbacks_ = 0;
};

// kSmsBody with another MessageSid.
std::string SmsNumber(int n) {
  return absl::StrCat("MessageSid=SM", n, "&From=%2B14158675309&Body=m", n);
}

// The idempotency keys of every spooled job, in spool order.
std::vector<std::string> SpooledKeys(DeliverySpool& spool) {
  std::vector<std::string> keys;
  for (const std::string& segment : spool.Seal()) {
    absl::StatusOr<SpoolSegmentContents> contents = spool.Read(segment);
    if (!contents.ok()) continue;
    for (const SpooledDelivery& delivery : contents->deliveries) {
      keys.push_back(delivery.enqueue_job().idempotency_key());
    }
  }
  return keys;
}

TEST_F(WebhookHandlerTest, ScreensPathsAndMethodsBeforeTheBody) {
  EXPECT_EQ(handler_->Screen("POST", "/twilio/other")->status, 404);
  EXPECT_EQ(handler_->Screen("GET", "/")->status, 404);
  EXPECT_EQ(handler_->Screen("POST", "/twilio/messages/")->status, 404);
  const std::optional<WebhookResponse> get_messages =
      handler_->Screen("GET", "/twilio/messages");
  EXPECT_EQ(get_messages->status, 405);
  EXPECT_THAT(get_messages->headers, ElementsAre(Pair("Allow", "POST")));
  EXPECT_EQ(handler_->Screen("DELETE", "/twilio/conversations")->status, 405);
  EXPECT_EQ(handler_->Screen("POST", "/healthz")->status, 405);
  EXPECT_FALSE(handler_->Screen("POST", "/twilio/messages?x=1").has_value());
  EXPECT_FALSE(handler_->Screen("POST", "/twilio/conversations").has_value());
  EXPECT_FALSE(handler_->Screen("GET", "/healthz").has_value());
}

TEST_F(WebhookHandlerTest, ASignedSmsBecomesAJobAndGetsTwiml) {
  const WebhookResponse response = PostSigned("/twilio/messages", kSmsBody);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/xml");
  EXPECT_EQ(response.body, kTwiml);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  const SpooledDelivery delivery = backend_.accepted()[0];
  EXPECT_EQ(delivery.source(), "twilio.messages");
  EXPECT_GT(delivery.received_at().seconds(), 0);
  const v1::EnqueueJobRequest& job = delivery.enqueue_job();
  EXPECT_EQ(job.user_phone(), "+14158675309");
  EXPECT_EQ(job.source_type(), v1::SOURCE_TYPE_DM);
  EXPECT_EQ(job.idempotency_key(), "SM11111111111111111111111111111111");
  EXPECT_EQ(PayloadText(job.payload(), "Body"), "Hello world");
  EXPECT_EQ(delivered_callbacks_, 1);
  EXPECT_THAT(backend_.waited_for_ready(), ElementsAre(false))
      << "Twilio must not wait for an unreachable service";
  EXPECT_FALSE(spool_->HasPending());
}

TEST_F(WebhookHandlerTest, TheQueryStringIsPartOfTheSignedUrl) {
  const std::string target = "/twilio/messages?tenant=acme&x=%20y";
  EXPECT_EQ(PostSigned(target, kSmsBody).status, 200);
  EXPECT_EQ(Post(target, kSmsBody,
                 Sign(absl::StrCat(kPublicBase, "/twilio/messages"), kSmsBody))
                .status,
            403);
}

TEST_F(WebhookHandlerTest, AConversationMessageBecomesAGroupJob) {
  const std::string body =
      "EventType=onMessageAdded&ConversationSid=CH1&MessageSid=IM1"
      "&Author=whatsapp%3A%2B14155238886&Body=hi+all&Index=0";
  EXPECT_EQ(PostSigned("/twilio/conversations", body).status, 200);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  EXPECT_EQ(backend_.accepted()[0].source(), "twilio.conversations");
  EXPECT_EQ(backend_.accepted()[0].enqueue_job().source_type(),
            v1::SOURCE_TYPE_GROUP);
  EXPECT_EQ(backend_.accepted()[0].enqueue_job().source_channel_id(), "CH1");
}

TEST_F(WebhookHandlerTest, AMissingSignatureIs403AndWritesNothing) {
  const WebhookResponse response = Post("/twilio/messages", kSmsBody, "");
  EXPECT_EQ(response.status, 403);
  ExpectNothingWritten();
}

TEST_F(WebhookHandlerTest, AForgedSignatureIs403AndWritesNothing) {
  const std::string url = absl::StrCat(kPublicBase, "/twilio/messages");
  EXPECT_EQ(Post("/twilio/messages", kSmsBody,
                 ComputeTwilioSignature("another-token", url,
                                        *ParseFormUrlEncoded(kSmsBody)))
                .status,
            403);
  EXPECT_EQ(Post("/twilio/messages", absl::StrCat(kSmsBody, "&Body=evil"),
                 Sign(url, kSmsBody))
                .status,
            403);
  ExpectNothingWritten();
}

TEST_F(WebhookHandlerTest, TheSignatureCoversThePublicUrlNotTheLocalOne) {
  EXPECT_EQ(Post("/twilio/messages", kSmsBody,
                 Sign("http://127.0.0.1:8080/twilio/messages", kSmsBody))
                .status,
            403);
  EXPECT_EQ(
      Post("/twilio/messages", kSmsBody,
           Sign("https://hooks.example.com:443/twilio/messages", kSmsBody))
          .status,
      200);
}

TEST_F(WebhookHandlerTest, AMalformedBodyIs400AndWritesNothing) {
  // Such a body cannot be signed by form parameters; any signature will do.
  const WebhookResponse response =
      Post("/twilio/messages", "From=%2B14158675309&Body=50%", "c2lnbmF0dXJl");
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("offset"));
  ExpectNothingWritten();
}

TEST_F(WebhookHandlerTest, AnUnsupportedContentTypeIs415) {
  EXPECT_EQ(Post("/twilio/messages", "<xml/>", "c2ln", "text/xml").status, 415);
  ExpectNothingWritten();
}

TEST_F(WebhookHandlerTest, AFormContentTypeWithACharsetIsAccepted) {
  const std::string url = absl::StrCat(kPublicBase, "/twilio/messages");
  EXPECT_EQ(Post("/twilio/messages", kSmsBody, Sign(url, kSmsBody),
                 "Application/X-WWW-Form-Urlencoded; charset=UTF-8")
                .status,
            200);
}

TEST_F(WebhookHandlerTest, AJsonBodySignedWithItsHashIsAccepted) {
  const std::string body =
      R"({"EventType":"onMessageAdded","ConversationSid":"CH9",)"
      R"("MessageSid":"IM9","Author":"+14158675309","Body":"json","Index":4})";
  const std::string target =
      absl::StrCat("/twilio/conversations?bodySHA256=", BodySha256Hex(body));
  const std::string signature =
      ComputeTwilioSignature(kToken, absl::StrCat(kPublicBase, target), {});
  EXPECT_EQ(Post(target, body, signature, "application/json").status, 200);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  EXPECT_EQ(
      PayloadText(backend_.accepted()[0].enqueue_job().payload(), "Index"),
      "4");

  const std::string tampered =
      absl::StrCat(body.substr(0, body.size() - 1), ",\"Extra\":1}");
  EXPECT_EQ(Post(target, tampered, signature, "application/json").status, 403);
  EXPECT_THAT(backend_.attempts(), SizeIs(1));
}

TEST_F(WebhookHandlerTest, ASignedBodyThatIsNotJsonIs400) {
  const std::string body = "[1, 2]";
  const std::string target =
      absl::StrCat("/twilio/messages?bodySHA256=", BodySha256Hex(body));
  EXPECT_EQ(Post(target, body,
                 ComputeTwilioSignature(kToken,
                                        absl::StrCat(kPublicBase, target), {}),
                 "application/json")
                .status,
            400);
  ExpectNothingWritten();
}

// A Conversations delivery whose "Attributes" nests objects and arrays so
// that the body is `depth` levels deep.
std::string NestedConversationBody(int depth) {
  std::string nested = "1";
  for (int level = 2; level <= depth; ++level) {
    nested = level % 2 == 0 ? absl::StrCat("[", nested, "]")
                            : absl::StrCat(R"({"a":)", nested, "}");
  }
  return absl::StrCat(
      R"({"EventType":"onMessageAdded","ConversationSid":"CH7",)",
      R"("MessageSid":"IM7","Author":"+14158675309","Body":"deep",)",
      R"("Index":1,"Attributes":)", nested, "}");
}

TEST_F(WebhookHandlerTest, AJsonBodyNestedTooDeepIs400AndWritesNothing) {
  // Down, so that anything accepted would be spooled.
  backend_.AnswerEnqueue(absl::UnavailableError("connection refused"));
  backend_.AnswerDeadLetter(absl::UnavailableError("connection refused"));
  for (int depth : {40, 60, 200}) {
    const std::string body = NestedConversationBody(depth);
    const std::string target =
        absl::StrCat("/twilio/conversations?bodySHA256=", BodySha256Hex(body));
    const WebhookResponse response = Post(
        target, body,
        ComputeTwilioSignature(kToken, absl::StrCat(kPublicBase, target), {}),
        "application/json");
    EXPECT_EQ(response.status, 400) << depth;
    EXPECT_THAT(response.body, HasSubstr("at most 20 levels")) << depth;
    ExpectNothingWritten();
  }

  // A delivery as deep as the limit still gets 200, and reads back.
  const std::string body = NestedConversationBody(20);
  const std::string target =
      absl::StrCat("/twilio/conversations?bodySHA256=", BodySha256Hex(body));
  EXPECT_EQ(Post(target, body,
                 ComputeTwilioSignature(kToken,
                                        absl::StrCat(kPublicBase, target), {}),
                 "application/json")
                .status,
            200);
  EXPECT_EQ(PostSigned("/twilio/messages", kSmsBody).status, 200);
  const std::vector<std::string> segments = spool_->Seal();
  ASSERT_THAT(segments, SizeIs(1));
  absl::StatusOr<SpoolSegmentContents> spooled = spool_->Read(segments[0]);
  ASSERT_TRUE(spooled.ok()) << spooled.status();
  EXPECT_THAT(spooled->unreadable, IsEmpty());
  ASSERT_THAT(spooled->deliveries, SizeIs(2));
  EXPECT_EQ(spooled->deliveries[0].enqueue_job().idempotency_key(), "IM7");
}

TEST_F(WebhookHandlerTest, WhenTheServiceIsDownTheDeliveryIsSpooled) {
  backend_.AnswerEnqueue(absl::UnavailableError("connection refused"));
  const WebhookResponse response = PostSigned("/twilio/messages", kSmsBody);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, kTwiml);
  EXPECT_EQ(delivered_callbacks_, 0);
  const std::vector<std::string> segments = spool_->Seal();
  ASSERT_THAT(segments, SizeIs(1));
  absl::StatusOr<SpoolSegmentContents> spooled = spool_->Read(segments[0]);
  ASSERT_TRUE(spooled.ok()) << spooled.status();
  ASSERT_THAT(spooled->deliveries, SizeIs(1));
  EXPECT_EQ(spooled->deliveries[0].enqueue_job().idempotency_key(),
            "SM11111111111111111111111111111111");
}

TEST_F(WebhookHandlerTest, WhileTheSpoolHoldsDeliveriesNewOnesQueueBehind) {
  backend_.AnswerEnqueue(absl::UnavailableError("connection refused"));
  ASSERT_EQ(PostSigned("/twilio/messages", SmsNumber(1)).status, 200);
  EXPECT_EQ(queued_callbacks_, 0) << "the service just failed: no wake-up";
  // The service is back, but SM1 still waits in the spool: SM2 must not
  // overtake it.
  backend_.AnswerEnqueue(absl::OkStatus());
  const WebhookResponse response = PostSigned("/twilio/messages", SmsNumber(2));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, kTwiml);
  EXPECT_THAT(backend_.attempts(), SizeIs(1)) << "SM2 went to the service";
  EXPECT_EQ(queued_callbacks_, 1) << "the replayer was not woken";
  EXPECT_EQ(delivered_callbacks_, 0);
  EXPECT_THAT(SpooledKeys(*spool_), ElementsAre("SM1", "SM2"));
}

TEST_F(WebhookHandlerTest, OnceTheSpoolIsEmptyDeliveriesGoDirectAgain) {
  backend_.AnswerEnqueue(absl::UnavailableError("connection refused"));
  ASSERT_EQ(PostSigned("/twilio/messages", SmsNumber(1)).status, 200);
  backend_.AnswerEnqueue(absl::OkStatus());
  // What the replayer does once the service took everything.
  for (const std::string& segment : spool_->Seal()) {
    ASSERT_TRUE(spool_->Remove(segment).ok());
  }
  ASSERT_FALSE(spool_->HasPending());
  EXPECT_EQ(PostSigned("/twilio/messages", SmsNumber(2)).status, 200);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  EXPECT_EQ(backend_.accepted()[0].enqueue_job().idempotency_key(), "SM2");
  EXPECT_EQ(delivered_callbacks_, 1);
  EXPECT_EQ(queued_callbacks_, 0);
}

TEST_F(WebhookHandlerTest, ADeadLetterTheServiceRefusesIsKeptInRejected) {
  backend_.AnswerEnqueue(absl::InvalidArgumentError("bad payload"));
  backend_.AnswerDeadLetter(absl::InvalidArgumentError("bad dead letter"));
  EXPECT_EQ(PostSigned("/twilio/messages", kSmsBody).status, 200);
  EXPECT_FALSE(spool_->HasPending()) << "not for replay";
  EXPECT_THAT(backend_.attempts(), SizeIs(2));
}

TEST_F(WebhookHandlerTest, ANulInTheBodyIsReplacedAndTheJobKeepsIt) {
  const std::string body =
      "MessageSid=SM5&From=%2B14158675309&Body=%00abc&ProfileName=A%00";
  EXPECT_EQ(PostSigned("/twilio/messages", body).status, 200);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  const v1::EnqueueJobRequest job = backend_.accepted()[0].enqueue_job();
  EXPECT_EQ(PayloadText(job.payload(), "Body"),
            "\xEF\xBF\xBD"
            "abc");
  EXPECT_EQ(job.user_first_name(), "A\xEF\xBF\xBD");
  EXPECT_EQ(PayloadText(job.payload(), kReplacedNulField), "Body");
  EXPECT_EQ(
      job.payload().fields().at(kReplacedNulField).list_value().values_size(),
      2);
}

TEST_F(WebhookHandlerTest, AnUnmappableDeliveryBecomesADeadLetter) {
  const std::string body = "MessageSid=SM2&Body=who+am+i&To=%2B18005551212";
  EXPECT_EQ(PostSigned("/twilio/messages", body).status, 200);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  const v1::RecordDeadLetterRequest dead_letter =
      backend_.accepted()[0].record_dead_letter();
  EXPECT_EQ(dead_letter.source(), "twilio.messages");
  EXPECT_EQ(dead_letter.delivery_id(), "SM2");
  EXPECT_THAT(dead_letter.reason(), HasSubstr("no From"));
  EXPECT_EQ(PayloadText(dead_letter.raw_payload(), "Body"), "who am i");
}

TEST_F(WebhookHandlerTest, AnUnparseableSenderBecomesADeadLetter) {
  const std::string body = "MessageSid=SM3&From=messenger%3A12345&Body=hi";
  EXPECT_EQ(PostSigned("/twilio/messages", body).status, 200);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  EXPECT_THAT(backend_.accepted()[0].record_dead_letter().reason(),
              HasSubstr("E.164"));
}

TEST_F(WebhookHandlerTest, ADeadLetterIsSpooledWhenTheServiceIsDown) {
  backend_.AnswerDeadLetter(absl::UnavailableError("down"));
  EXPECT_EQ(PostSigned("/twilio/messages", "MessageSid=SM4&Body=x").status,
            200);
  const std::vector<std::string> segments = spool_->Seal();
  ASSERT_THAT(segments, SizeIs(1));
  EXPECT_TRUE(
      spool_->Read(segments[0])->deliveries.at(0).has_record_dead_letter());
}

TEST_F(WebhookHandlerTest, AJobTheServiceRejectsBecomesADeadLetter) {
  backend_.AnswerEnqueue(absl::InvalidArgumentError("payload: too large"));
  EXPECT_EQ(PostSigned("/twilio/messages", kSmsBody).status, 200);
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  EXPECT_THAT(backend_.accepted()[0].record_dead_letter().reason(),
              HasSubstr("payload: too large"));
  EXPECT_FALSE(spool_->HasPending());
}

TEST_F(WebhookHandlerTest, HealthFollowsTheService) {
  WebhookRequest request;
  request.method = "GET";
  request.target = "/healthz";
  EXPECT_EQ(handler_->Handle(request).status, 200);
  backend_.AnswerHealth(absl::UnavailableError("connection refused"));
  const WebhookResponse down = handler_->Handle(request);
  EXPECT_EQ(down.status, 503);
  EXPECT_THAT(down.body, HasSubstr("connection refused"));
}

}  // namespace
}  // namespace jobqueue::shim
