#include "shim/delivery/delivery_mapping.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shim/delivery/delivery_payload.h"
#include "shim/struct_matchers.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;

// Parameters as Twilio posts them for an incoming SMS.
FormParams SmsParams() {
  return {{"ToCountry", "US"},
          {"SmsMessageSid", "SM0123456789abcdef0123456789abcdef"},
          {"NumMedia", "0"},
          {"SmsSid", "SM0123456789abcdef0123456789abcdef"},
          {"SmsStatus", "received"},
          {"Body", "Hello there"},
          {"To", "+18005551212"},
          {"NumSegments", "1"},
          {"MessageSid", "SM0123456789abcdef0123456789abcdef"},
          {"AccountSid", "AC0123456789abcdef0123456789abcdef"},
          {"From", "+14158675309"},
          {"ApiVersion", "2010-04-01"}};
}

// Parameters as Twilio posts them for an incoming WhatsApp message.
FormParams WhatsAppParams() {
  return {{"SmsMessageSid", "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
          {"NumMedia", "0"},
          {"ProfileName", "Ada"},
          {"MessageType", "text"},
          {"WaId", "14155238886"},
          {"Body", "hi from whatsapp"},
          {"To", "whatsapp:+18005551212"},
          {"MessageSid", "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
          {"AccountSid", "AC0123456789abcdef0123456789abcdef"},
          {"From", "whatsapp:+14155238886"},
          {"ApiVersion", "2010-04-01"}};
}

FormParams With(FormParams params, const FormParams& changes) {
  for (const auto& [name, value] : changes) {
    bool replaced = false;
    for (auto& param : params) {
      if (param.first == name) {
        param.second = value;
        replaced = true;
      }
    }
    if (!replaced) params.emplace_back(name, value);
  }
  return params;
}

FormParams Without(FormParams params, absl::string_view name) {
  FormParams kept;
  for (auto& param : params) {
    if (param.first != name) kept.push_back(std::move(param));
  }
  return kept;
}

TEST(MapMessageDeliveryTest, SmsBecomesATextJobFromItsSender) {
  absl::StatusOr<v1::EnqueueJobRequest> job =
      MapMessageDelivery(FormToPayload(SmsParams()));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->user_phone(), "+14158675309");
  EXPECT_EQ(job->user_first_name(), "");
  EXPECT_EQ(job->source_type(), v1::SOURCE_TYPE_DM);
  EXPECT_EQ(job->source_channel_id(), "+14158675309");
  EXPECT_EQ(job->content_type(), v1::CONTENT_TYPE_TEXT);
  EXPECT_EQ(job->idempotency_key(), "SM0123456789abcdef0123456789abcdef");
  EXPECT_THAT(job->payload(), EqualsJson(R"({
      "ToCountry": "US", "SmsMessageSid": "SM0123456789abcdef0123456789abcdef",
      "NumMedia": "0", "SmsSid": "SM0123456789abcdef0123456789abcdef",
      "SmsStatus": "received", "Body": "Hello there", "To": "+18005551212",
      "NumSegments": "1", "MessageSid": "SM0123456789abcdef0123456789abcdef",
      "AccountSid": "AC0123456789abcdef0123456789abcdef",
      "From": "+14158675309", "ApiVersion": "2010-04-01"})"));
}

TEST(MapMessageDeliveryTest, WhatsAppKeepsItsChannelApartAndNamesTheUser) {
  absl::StatusOr<v1::EnqueueJobRequest> job =
      MapMessageDelivery(FormToPayload(WhatsAppParams()));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->user_phone(), "+14155238886");
  EXPECT_EQ(job->user_first_name(), "Ada");
  EXPECT_EQ(job->source_channel_id(), "whatsapp:+14155238886");
  EXPECT_EQ(job->source_type(), v1::SOURCE_TYPE_DM);
  EXPECT_EQ(job->content_type(), v1::CONTENT_TYPE_TEXT);
  EXPECT_EQ(job->idempotency_key(), "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  EXPECT_EQ(PayloadText(job->payload(), "WaId"), "14155238886");
}

TEST(MapMessageDeliveryTest, WhatsAppMediaTypeComesFromTheFirstMedia) {
  const FormParams image =
      With(WhatsAppParams(),
           {{"NumMedia", "2"},
            {"MediaContentType0", "image/jpeg"},
            {"MediaUrl0",
             "https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME0"},
            {"MediaContentType1", "audio/ogg"},
            {"MediaUrl1",
             "https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1"},
            {"Body", ""}});
  absl::StatusOr<v1::EnqueueJobRequest> job =
      MapMessageDelivery(FormToPayload(image));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->content_type(), v1::CONTENT_TYPE_IMAGE);
  EXPECT_EQ(PayloadText(job->payload(), "MediaUrl1"),
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Media/ME1");
  EXPECT_EQ(PayloadText(job->payload(), "Body"), "");
}

TEST(MapMessageDeliveryTest, EachMajorMediaTypeHasItsContentType) {
  const std::pair<const char*, v1::ContentType> cases[] = {
      {"audio/ogg", v1::CONTENT_TYPE_AUDIO},
      {"video/mp4", v1::CONTENT_TYPE_VIDEO},
      {"application/pdf", v1::CONTENT_TYPE_DOCUMENT},
      {"IMAGE/PNG", v1::CONTENT_TYPE_IMAGE},
      {"text/vcard", v1::CONTENT_TYPE_OTHER},
      {"", v1::CONTENT_TYPE_OTHER},
  };
  for (const auto& [mime, content_type] : cases) {
    absl::StatusOr<v1::EnqueueJobRequest> job =
        MapMessageDelivery(FormToPayload(With(
            SmsParams(), {{"NumMedia", "1"}, {"MediaContentType0", mime}})));
    ASSERT_TRUE(job.ok()) << job.status();
    EXPECT_EQ(job->content_type(), content_type) << mime;
  }
}

TEST(MapMessageDeliveryTest, SharedLocationIsALocation) {
  absl::StatusOr<v1::EnqueueJobRequest> job = MapMessageDelivery(
      FormToPayload(With(WhatsAppParams(), {{"Latitude", "37.7749"},
                                            {"Longitude", "-122.4194"},
                                            {"Address", "San Francisco"},
                                            {"MessageType", "location"},
                                            {"Body", ""}})));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->content_type(), v1::CONTENT_TYPE_LOCATION);
  EXPECT_EQ(PayloadText(job->payload(), "Latitude"), "37.7749");
}

TEST(MapMessageDeliveryTest, RepeatedParametersStayInThePayload) {
  FormParams params = SmsParams();
  params.emplace_back("Extra", "a");
  params.emplace_back("Extra", "b");
  absl::StatusOr<v1::EnqueueJobRequest> job =
      MapMessageDelivery(FormToPayload(params));
  ASSERT_TRUE(job.ok()) << job.status();
  const google::protobuf::ListValue& extra =
      job->payload().fields().at("Extra").list_value();
  ASSERT_EQ(extra.values_size(), 2);
  EXPECT_EQ(extra.values(0).string_value(), "a");
  EXPECT_EQ(extra.values(1).string_value(), "b");
}

TEST(MapMessageDeliveryTest, LegacyMessageSidIsTheIdempotencyKey) {
  absl::StatusOr<v1::EnqueueJobRequest> job =
      MapMessageDelivery(FormToPayload(Without(SmsParams(), "MessageSid")));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->idempotency_key(), "SM0123456789abcdef0123456789abcdef");
}

TEST(MapMessageDeliveryTest, WithoutASenderIsNotAJob) {
  absl::StatusOr<v1::EnqueueJobRequest> job =
      MapMessageDelivery(FormToPayload(Without(SmsParams(), "From")));
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(), HasSubstr("From"));
}

TEST(MapMessageDeliveryTest, AnUnparseableNumberIsNotAJob) {
  for (const char* from : {"messenger:1234567890", "+1 (415) 867-5309",
                           "whatsapp:14155238886", "+123"}) {
    absl::StatusOr<v1::EnqueueJobRequest> job =
        MapMessageDelivery(FormToPayload(With(SmsParams(), {{"From", from}})));
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument) << from;
    EXPECT_THAT(job.status().message(), HasSubstr("E.164")) << from;
  }
}

TEST(MapMessageDeliveryTest, WithoutAMessageIdIsNotAJob) {
  absl::StatusOr<v1::EnqueueJobRequest> job = MapMessageDelivery(FormToPayload(
      Without(Without(SmsParams(), "MessageSid"), "SmsMessageSid")));
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(), HasSubstr("MessageSid"));
}

// Parameters as Twilio Conversations posts them for onMessageAdded.
FormParams ConversationParams() {
  return {{"EventType", "onMessageAdded"},
          {"ConversationSid", "CH0123456789abcdef0123456789abcdef"},
          {"MessageSid", "IM0123456789abcdef0123456789abcdef"},
          {"ChatServiceSid", "IS0123456789abcdef0123456789abcdef"},
          {"AccountSid", "AC0123456789abcdef0123456789abcdef"},
          {"ParticipantSid", "MB0123456789abcdef0123456789abcdef"},
          {"Author", "whatsapp:+14155238886"},
          {"Body", "hello group"},
          {"Index", "7"},
          {"Source", "WHATSAPP"},
          {"DateCreated", "2024-05-01T12:00:00.000Z"},
          {"Attributes", "{}"}};
}

TEST(MapConversationDeliveryTest, MessageAddedBecomesAGroupJob) {
  absl::StatusOr<v1::EnqueueJobRequest> job =
      MapConversationDelivery(FormToPayload(ConversationParams()));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->user_phone(), "+14155238886");
  EXPECT_EQ(job->source_type(), v1::SOURCE_TYPE_GROUP);
  EXPECT_EQ(job->source_channel_id(), "CH0123456789abcdef0123456789abcdef");
  EXPECT_EQ(job->content_type(), v1::CONTENT_TYPE_TEXT);
  EXPECT_EQ(job->idempotency_key(), "IM0123456789abcdef0123456789abcdef");
  EXPECT_EQ(PayloadText(job->payload(), "Index"), "7");
  EXPECT_EQ(job->payload().fields_size(), 12);
}

TEST(MapConversationDeliveryTest, MediaTypeComesFromTheFirstMedia) {
  absl::StatusOr<v1::EnqueueJobRequest> job =
      MapConversationDelivery(FormToPayload(With(
          ConversationParams(),
          {{"Media",
            R"([{"Sid":"ME1","Filename":"report.pdf","ContentType":"application/pdf","Size":1024,"Category":"media"},)"
            R"({"Sid":"ME2","ContentType":"image/png","Size":10,"Category":"media"}])"},
           {"Body", ""}})));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->content_type(), v1::CONTENT_TYPE_DOCUMENT);
}

TEST(MapConversationDeliveryTest, UnreadableMediaIsOther) {
  absl::StatusOr<v1::EnqueueJobRequest> job = MapConversationDelivery(
      FormToPayload(With(ConversationParams(), {{"Media", "[{not json"}})));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->content_type(), v1::CONTENT_TYPE_OTHER);
}

TEST(MapConversationDeliveryTest, JsonBodyMediaArrayIsRead) {
  absl::StatusOr<google::protobuf::Struct> payload = JsonToPayload(R"({
      "EventType": "onMessageAdded", "ConversationSid": "CH1",
      "MessageSid": "IM1", "Author": "+14158675309", "Index": 2,
      "Media": [{"Sid": "ME1", "ContentType": "video/mp4"}]})");
  ASSERT_TRUE(payload.ok()) << payload.status();
  absl::StatusOr<v1::EnqueueJobRequest> job = MapConversationDelivery(*payload);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->content_type(), v1::CONTENT_TYPE_VIDEO);
  EXPECT_EQ(job->user_phone(), "+14158675309");
}

TEST(MapConversationDeliveryTest, AChatIdentityIsNotAPhoneNumber) {
  absl::StatusOr<v1::EnqueueJobRequest> job = MapConversationDelivery(
      FormToPayload(With(ConversationParams(), {{"Author", "alice"}})));
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(), HasSubstr("alice"));
}

TEST(MapConversationDeliveryTest, MissingFieldsAreNamed) {
  for (const char* field : {"Author", "ConversationSid", "MessageSid"}) {
    absl::StatusOr<v1::EnqueueJobRequest> job = MapConversationDelivery(
        FormToPayload(Without(ConversationParams(), field)));
    EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(job.status().message(), HasSubstr(field));
  }
}

TEST(MapConversationDeliveryTest, OtherEventsAreNotJobs) {
  absl::StatusOr<v1::EnqueueJobRequest> job =
      MapConversationDelivery(FormToPayload(
          With(ConversationParams(), {{"EventType", "onConversationAdded"}})));
  EXPECT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(job.status().message(), HasSubstr("onConversationAdded"));
}

}  // namespace
}  // namespace jobqueue::shim
