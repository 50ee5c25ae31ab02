// twilio_shim end to end: Twilio's own Node library signs deliveries, the
// shim (a real process) turns them into jobs in a real jobqueue_server over
// PostgreSQL, and the test reads them back over gRPC.

#include <algorithm>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/shim_stack.h"
#include "tests/support/twilio_node.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr char kTwiml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

Params Sms() {
  return {{"ToCountry", "US"},
          {"SmsMessageSid", "SM00000000000000000000000000000001"},
          {"NumMedia", "0"},
          {"SmsStatus", "received"},
          {"Body", "Hello from SMS: caf\xC3\xA9 & co +1"},
          {"To", "+18005551212"},
          {"MessageSid", "SM00000000000000000000000000000001"},
          {"AccountSid", "AC00000000000000000000000000000000"},
          {"From", "+14158675309"},
          {"ApiVersion", "2010-04-01"}};
}

Params WhatsAppImage() {
  return {{"MessageSid", "MM00000000000000000000000000000002"},
          {"AccountSid", "AC00000000000000000000000000000000"},
          {"From", "whatsapp:+14155238886"},
          {"To", "whatsapp:+18005551212"},
          {"ProfileName", "Ada"},
          {"WaId", "14155238886"},
          {"Body", ""},
          {"NumMedia", "1"},
          {"MediaContentType0", "image/jpeg"},
          {"MediaUrl0",
           "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM2/"
           "Media/ME0"},
          {"MessageType", "image"}};
}

Params WhatsAppLocation() {
  return {{"MessageSid", "SM00000000000000000000000000000003"},
          {"From", "whatsapp:+14155238886"},
          {"To", "whatsapp:+18005551212"},
          {"ProfileName", ""},
          {"Latitude", "52.5200"},
          {"Longitude", "13.4050"},
          {"Address", "Berlin"},
          {"MessageType", "location"},
          {"NumMedia", "0"}};
}

// `params` with the value of `name` replaced.
Params With(Params params, absl::string_view name, absl::string_view value) {
  for (auto& [key, old_value] : params) {
    if (key == name) old_value = std::string(value);
  }
  return params;
}

Params Without(Params params, absl::string_view name) {
  params.erase(
      std::remove_if(params.begin(), params.end(),
                     [&](const auto& param) { return param.first == name; }),
      params.end());
  return params;
}

Params ConversationMessage() {
  return {
      {"EventType", "onMessageAdded"},
      {"ConversationSid", "CH00000000000000000000000000000004"},
      {"MessageSid", "IM00000000000000000000000000000004"},
      {"Author", "+447700900123"},
      {"Body", "hello group"},
      {"Index", "0"},
      {"Source", "SMS"},
      {"Media",
       R"([{"Sid":"ME4","ContentType":"audio/ogg","Filename":"v.ogg","Size":99}])"}};
}

class TwilioShimEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ShimStack>> stack = ShimStack::Start();
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
  }

  // Signs each (target, params) with Twilio's Node library.
  std::vector<std::string> SignAll(
      const std::vector<std::pair<std::string, Params>>& deliveries) {
    std::vector<TwilioNodeRequest> requests;
    for (const auto& [target, params] : deliveries) {
      requests.push_back({stack_->PublicUrl(target), params, {}, {}});
    }
    absl::StatusOr<std::vector<TwilioNodeResult>> results =
        RunTwilioNode(ShimStack::kAuthToken, requests);
    EXPECT_TRUE(results.ok()) << results.status();
    std::vector<std::string> signatures;
    if (results.ok()) {
      for (const TwilioNodeResult& result : *results) {
        signatures.push_back(result.signature);
      }
    }
    return signatures;
  }

  // POSTs a delivery signed by Twilio's library; the HTTP status.
  int Deliver(const std::string& target, const Params& params) {
    const std::vector<std::string> signatures = SignAll({{target, params}});
    if (signatures.size() != 1) return -1;
    httplib::Result result =
        stack_->Post(target, FormEncode(params), signatures[0]);
    if (!result) return -1;
    if (result->status == 200) {
      EXPECT_EQ(result->body, kTwiml);
      EXPECT_EQ(result->get_header_value("Content-Type"), "text/xml");
    }
    return result->status;
  }

  std::vector<v1::Job> Jobs() {
    absl::StatusOr<std::vector<v1::Job>> jobs = stack_->ListAllJobs();
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    return jobs.ok() ? *jobs : std::vector<v1::Job>();
  }

  int DeadLetterRows() {
    pqxx::connection connection(stack_->database_url());
    pqxx::work transaction(connection);
    return transaction.exec1("SELECT count(*) FROM dlq_jobs")[0].as<int>();
  }

  std::unique_ptr<ShimStack> stack_;
};

// The payload holds every parameter as sent, each as a string.
void ExpectPayloadIs(const v1::Job& job, const Params& params) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(job.payload(), &json);
  EXPECT_EQ(job.payload().fields_size(), static_cast<int>(params.size()))
      << json;
  for (const auto& [name, value] : params) {
    const auto it = job.payload().fields().find(name);
    ASSERT_NE(it, job.payload().fields().end()) << name << " in " << json;
    EXPECT_EQ(it->second.string_value(), value) << name;
  }
}

TEST_F(TwilioShimEndToEndTest, SignedDeliveriesBecomeExactlyTheExpectedJobs) {
  ASSERT_EQ(Deliver("/twilio/messages", Sms()), 200) << stack_->Outputs();
  ASSERT_EQ(Deliver("/twilio/messages", WhatsAppImage()), 200);
  ASSERT_EQ(Deliver("/twilio/messages", WhatsAppLocation()), 200);
  ASSERT_EQ(Deliver("/twilio/conversations", ConversationMessage()), 200);

  std::map<std::string, v1::Job> by_key;
  for (const v1::Job& job : Jobs()) by_key[job.idempotency_key()] = job;
  ASSERT_THAT(by_key, SizeIs(4)) << stack_->Outputs();

  const v1::Job& sms = by_key.at("SM00000000000000000000000000000001");
  EXPECT_EQ(sms.user_id(), "+14158675309");
  EXPECT_EQ(sms.user_phone(), "+14158675309");
  EXPECT_EQ(sms.source_type(), v1::SOURCE_TYPE_DM);
  EXPECT_EQ(sms.source_channel_id(), "+14158675309");
  EXPECT_EQ(sms.content_type(), v1::CONTENT_TYPE_TEXT);
  EXPECT_EQ(sms.status(), v1::JOB_STATUS_PENDING);
  ExpectPayloadIs(sms, Sms());

  const v1::Job& image = by_key.at("MM00000000000000000000000000000002");
  EXPECT_EQ(image.user_phone(), "+14155238886");
  EXPECT_EQ(image.source_channel_id(), "whatsapp:+14155238886");
  EXPECT_EQ(image.source_type(), v1::SOURCE_TYPE_DM);
  EXPECT_EQ(image.content_type(), v1::CONTENT_TYPE_IMAGE);
  ExpectPayloadIs(image, WhatsAppImage());

  const v1::Job& location = by_key.at("SM00000000000000000000000000000003");
  EXPECT_EQ(location.content_type(), v1::CONTENT_TYPE_LOCATION);
  EXPECT_EQ(location.source_channel_id(), "whatsapp:+14155238886");
  ExpectPayloadIs(location, WhatsAppLocation());

  const v1::Job& group = by_key.at("IM00000000000000000000000000000004");
  EXPECT_EQ(group.user_phone(), "+447700900123");
  EXPECT_EQ(group.source_type(), v1::SOURCE_TYPE_GROUP);
  EXPECT_EQ(group.source_channel_id(), "CH00000000000000000000000000000004");
  EXPECT_EQ(group.content_type(), v1::CONTENT_TYPE_AUDIO);
  ExpectPayloadIs(group, ConversationMessage());

  // GetJob returns the same job, and the WhatsApp profile name stayed on the
  // user although the later location message carried an empty one.
  v1::GetJobRequest get;
  get.set_id(image.id());
  v1::Job fetched;
  ASSERT_TRUE(stack_->service()
                  .GetJob(stack_->CallContext().get(), get, &fetched)
                  .ok());
  EXPECT_EQ(fetched.idempotency_key(), image.idempotency_key());
  v1::CreateUserRequest user_request;
  user_request.set_phone_number("+14155238886");
  v1::CreateUserResponse user;
  ASSERT_TRUE(stack_->service()
                  .CreateUser(stack_->CallContext().get(), user_request, &user)
                  .ok());
  EXPECT_FALSE(user.created());
  EXPECT_EQ(user.user().first_name(), "Ada");
  EXPECT_EQ(DeadLetterRows(), 0);
}

TEST_F(TwilioShimEndToEndTest, AReplayedDeliveryYieldsOneJob) {
  const std::vector<std::string> signature =
      SignAll({{"/twilio/messages", Sms()}});
  ASSERT_THAT(signature, SizeIs(1));
  for (int attempt = 0; attempt < 3; ++attempt) {
    httplib::Result result =
        stack_->Post("/twilio/messages", FormEncode(Sms()), signature[0]);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200) << "attempt " << attempt;
  }
  // A retry may list the parameters in another order.
  Params reordered = Sms();
  std::reverse(reordered.begin(), reordered.end());
  ASSERT_EQ(Deliver("/twilio/messages", reordered), 200);
  const std::vector<v1::Job> jobs = Jobs();
  ASSERT_THAT(jobs, SizeIs(1)) << stack_->Outputs();
  EXPECT_EQ(jobs[0].idempotency_key(), "SM00000000000000000000000000000001");
}

TEST_F(TwilioShimEndToEndTest, AForgedDeliveryGets403AndNoRow) {
  const std::string body = FormEncode(Sms());
  // Signed with another token.
  absl::StatusOr<std::vector<TwilioNodeResult>> forged =
      RunTwilioNode("not-the-auth-token",
                    {{stack_->PublicUrl("/twilio/messages"), Sms(), {}, {}}});
  ASSERT_TRUE(forged.ok()) << forged.status();
  httplib::Result wrong_token =
      stack_->Post("/twilio/messages", body, (*forged)[0].signature);
  ASSERT_TRUE(wrong_token);
  EXPECT_EQ(wrong_token->status, 403);

  // A genuine signature over other parameters.
  httplib::Result tampered_body =
      stack_->Post("/twilio/messages",
                   FormEncode(With(Sms(), "Body", "Send the money elsewhere")),
                   SignAll({{"/twilio/messages", Sms()}}).at(0));
  ASSERT_TRUE(tampered_body);
  EXPECT_EQ(tampered_body->status, 403);

  // A genuine signature for the other endpoint.
  httplib::Result other_url =
      stack_->Post("/twilio/conversations", body,
                   SignAll({{"/twilio/messages", Sms()}}).at(0));
  ASSERT_TRUE(other_url);
  EXPECT_EQ(other_url->status, 403);

  httplib::Result unsigned_request = stack_->Post("/twilio/messages", body, "");
  ASSERT_TRUE(unsigned_request);
  EXPECT_EQ(unsigned_request->status, 403);

  EXPECT_THAT(Jobs(), IsEmpty());
  EXPECT_EQ(DeadLetterRows(), 0);
  EXPECT_THAT(stack_->Outputs(), Not(HasSubstr(ShimStack::kAuthToken)));
}

TEST_F(TwilioShimEndToEndTest, AnUnmappableDeliveryBecomesADeadLetter) {
  ASSERT_EQ(Deliver("/twilio/messages", Without(Sms(), "From")), 200)
      << stack_->Outputs();
  // A chat identity, not a phone number.
  ASSERT_EQ(Deliver("/twilio/conversations",
                    With(ConversationMessage(), "Author", "alice")),
            200);

  EXPECT_THAT(Jobs(), IsEmpty());
  pqxx::connection connection(stack_->database_url());
  pqxx::work transaction(connection);
  const pqxx::result rows = transaction.exec(
      "SELECT source, delivery_id, reason, raw_payload->>'Body' FROM dlq_jobs "
      "ORDER BY source");
  ASSERT_EQ(rows.size(), 2u) << stack_->Outputs();
  EXPECT_EQ(rows[0][0].as<std::string>(), "twilio.conversations");
  EXPECT_EQ(rows[0][1].as<std::string>(), "IM00000000000000000000000000000004");
  EXPECT_THAT(rows[0][2].as<std::string>(), HasSubstr("alice"));
  EXPECT_EQ(rows[0][3].as<std::string>(), "hello group");
  EXPECT_EQ(rows[1][0].as<std::string>(), "twilio.messages");
  EXPECT_EQ(rows[1][1].as<std::string>(), "SM00000000000000000000000000000001");
  EXPECT_THAT(rows[1][2].as<std::string>(), HasSubstr("From"));
}

// U+0000 cannot be stored by PostgreSQL (text or jsonb): the shim replaces
// it with U+FFFD and says so, so the delivery still becomes a job (or a dead
// letter), never only a file in the spool's rejected/.
TEST_F(TwilioShimEndToEndTest, ANulCharacterIsReplacedAndTheJobStored) {
  const std::string nul_abc("\0abc", 4);
  ASSERT_EQ(Deliver("/twilio/messages", With(Sms(), "Body", nul_abc)), 200)
      << stack_->Outputs();
  // Unmappable too: a dead letter, with the same replacement.
  ASSERT_EQ(Deliver("/twilio/messages",
                    With(With(Without(Sms(), "From"), "MessageSid",
                              "SM00000000000000000000000000000009"),
                         "Body", nul_abc)),
            200);

  const std::vector<v1::Job> jobs = Jobs();
  ASSERT_THAT(jobs, SizeIs(1)) << stack_->Outputs();
  const auto& fields = jobs[0].payload().fields();
  EXPECT_EQ(fields.at("Body").string_value(),
            "\xEF\xBF\xBD"
            "abc");
  ASSERT_EQ(fields.count("_jobqueue_replaced_nul"), 1u);
  const auto& replaced = fields.at("_jobqueue_replaced_nul").list_value();
  ASSERT_EQ(replaced.values_size(), 1);
  EXPECT_EQ(replaced.values(0).string_value(), "Body");

  pqxx::connection connection(stack_->database_url());
  pqxx::work transaction(connection);
  const pqxx::result rows = transaction.exec(
      "SELECT delivery_id, raw_payload->>'Body', "
      "raw_payload->'_jobqueue_replaced_nul'->>0 FROM dlq_jobs");
  ASSERT_EQ(rows.size(), 1u) << stack_->Outputs();
  EXPECT_EQ(rows[0][0].as<std::string>(), "SM00000000000000000000000000000009");
  EXPECT_EQ(rows[0][1].as<std::string>(),
            "\xEF\xBF\xBD"
            "abc");
  EXPECT_EQ(rows[0][2].as<std::string>(), "Body");
  EXPECT_THAT(stack_->Outputs(), Not(HasSubstr("rejected")));
  httplib::Result metrics = stack_->GetMetrics();
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              HasSubstr("twilio_shim_deliveries_rejected_total 0\n"));
}

// What the service itself answers when a caller sends U+0000 (the shim no
// longer does): a clear INVALID_ARGUMENT, so that the shim records a dead
// letter instead of retrying.
TEST_F(TwilioShimEndToEndTest, TheServiceRefusesNulAsAnInvalidArgument) {
  v1::EnqueueJobRequest job;
  job.set_user_phone("+14158675309");
  job.set_source_channel_id("+14158675309");
  job.set_source_type(v1::SOURCE_TYPE_DM);
  job.set_content_type(v1::CONTENT_TYPE_TEXT);
  job.set_idempotency_key("SM-nul-payload");
  (*job.mutable_payload()->mutable_fields())["Body"].set_string_value(
      std::string("\0abc", 4));
  v1::EnqueueJobResponse response;
  grpc::Status status =
      stack_->service().EnqueueJob(stack_->CallContext().get(), job, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();

  v1::RecordDeadLetterRequest dead_letter;
  dead_letter.set_source("twilio.messages");
  dead_letter.set_delivery_id("SM-nul-dead-letter");
  dead_letter.set_reason("test");
  (*dead_letter.mutable_raw_payload()->mutable_fields())["Body"]
      .set_string_value(std::string("\0abc", 4));
  v1::DeadLetter recorded;
  status = stack_->service().RecordDeadLetter(stack_->CallContext().get(),
                                              dead_letter, &recorded);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_THAT(Jobs(), IsEmpty());
  EXPECT_EQ(DeadLetterRows(), 0);
}

TEST_F(TwilioShimEndToEndTest, AJsonBodySignedWithItsHashBecomesAJob) {
  const std::string body =
      R"({"EventType":"onMessageAdded","ConversationSid":"CH5","MessageSid":)"
      R"("IM5","Author":"whatsapp:+14155238886","Body":"json","Index":3})";
  absl::StatusOr<std::vector<TwilioNodeResult>> signed_request = RunTwilioNode(
      ShimStack::kAuthToken,
      {{stack_->PublicUrl("/twilio/conversations"), {}, body, {}}});
  ASSERT_TRUE(signed_request.ok()) << signed_request.status();
  const std::string signed_url = (*signed_request)[0].url;
  const std::string target =
      signed_url.substr(std::string(ShimStack::kPublicBaseUrl).size());
  httplib::Result result = stack_->Post(
      target, body, (*signed_request)[0].signature, "application/json");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200) << stack_->Outputs();
  const std::vector<v1::Job> jobs = Jobs();
  ASSERT_THAT(jobs, SizeIs(1));
  EXPECT_EQ(jobs[0].source_channel_id(), "CH5");
  EXPECT_EQ(jobs[0].payload().fields().at("Index").number_value(), 3);
}

TEST_F(TwilioShimEndToEndTest, WrongRequestsAreRefusedWithoutWriting) {
  httplib::Result unknown = stack_->Post("/twilio/voice", "a=1", "c2ln");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  httplib::Result wrong_method = stack_->Get("/twilio/messages");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
  httplib::Result too_large =
      stack_->Post("/twilio/messages",
                   FormEncode({{"Body", std::string(70 * 1024, 'x')}}), "c2ln");
  ASSERT_TRUE(too_large);
  EXPECT_EQ(too_large->status, 413);
  httplib::Result malformed =
      stack_->Post("/twilio/messages", "Body=100%", "c2ln");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  EXPECT_THAT(Jobs(), IsEmpty());
  EXPECT_EQ(DeadLetterRows(), 0);
}

TEST_F(TwilioShimEndToEndTest, HealthzFollowsTheService) {
  httplib::Result up = stack_->Get("/healthz");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 200);
  ASSERT_TRUE(stack_->StopService().ok());
  httplib::Result down = stack_->Get("/healthz");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
  ASSERT_TRUE(stack_->StartService().ok());
  // The channel reconnects within its capped backoff.
  int status = 0;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    httplib::Result again = stack_->Get("/healthz");
    status = again ? again->status : -1;
    if (status != 200) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace jobqueue::shim
