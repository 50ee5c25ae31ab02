#include "shim/delivery/delivery_attempt.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shim/backend/fake_job_queue_backend.h"
#include "shim/delivery/delivery_payload.h"
#include "shim/struct_matchers.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

SpooledDelivery Enqueue() {
  SpooledDelivery delivery;
  delivery.set_source("twilio.messages");
  delivery.mutable_received_at()->set_seconds(1700000000);
  v1::EnqueueJobRequest* job = delivery.mutable_enqueue_job();
  job->set_user_phone("+14158675309");
  job->set_idempotency_key("SM1");
  *job->mutable_payload() =
      FormToPayload({{"MessageSid", "SM1"}, {"Body", "hi"}});
  return delivery;
}

TEST(AttemptDeliveryTest, AnAcceptedJobIsDone) {
  FakeJobQueueBackend backend;
  SpooledDelivery delivery = Enqueue();
  EXPECT_TRUE(AttemptDelivery(backend, &delivery, {absl::Seconds(1)}).ok());
  EXPECT_TRUE(delivery.has_enqueue_job());
  EXPECT_THAT(backend.accepted(), SizeIs(1));
}

TEST(AttemptDeliveryTest, AnOutageIsReturnedForRetry) {
  FakeJobQueueBackend backend;
  backend.AnswerEnqueue(absl::UnavailableError("database down"));
  SpooledDelivery delivery = Enqueue();
  EXPECT_EQ(AttemptDelivery(backend, &delivery, {absl::Seconds(1)}).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(delivery.has_enqueue_job()) << "the job is what to retry";
  EXPECT_THAT(backend.attempts(), SizeIs(1)) << "no dead letter for an outage";
}

TEST(AttemptDeliveryTest, ARejectedJobBecomesADeadLetter) {
  FakeJobQueueBackend backend;
  backend.AnswerEnqueue(
      absl::InvalidArgumentError("payload: larger than 256 KiB"));
  SpooledDelivery delivery = Enqueue();
  EXPECT_TRUE(AttemptDelivery(backend, &delivery, {absl::Seconds(1)}).ok());
  ASSERT_TRUE(delivery.has_record_dead_letter());
  const v1::RecordDeadLetterRequest& dead_letter =
      delivery.record_dead_letter();
  EXPECT_EQ(dead_letter.source(), "twilio.messages");
  EXPECT_EQ(dead_letter.delivery_id(), "SM1");
  EXPECT_THAT(dead_letter.reason(), HasSubstr("larger than 256 KiB"));
  EXPECT_THAT(dead_letter.raw_payload(),
              EqualsJson(R"({"MessageSid": "SM1", "Body": "hi"})"));
  EXPECT_EQ(delivery.received_at().seconds(), 1700000000);
  ASSERT_THAT(backend.accepted(), SizeIs(1));
  EXPECT_TRUE(backend.accepted()[0].has_record_dead_letter());
}

TEST(AttemptDeliveryTest, AFailedDeadLetterIsReturnedForRetry) {
  FakeJobQueueBackend backend;
  backend.AnswerEnqueue(absl::InvalidArgumentError("bad"));
  backend.AnswerDeadLetter(absl::UnavailableError("down"));
  SpooledDelivery delivery = Enqueue();
  EXPECT_EQ(AttemptDelivery(backend, &delivery, {absl::Seconds(1)}).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(delivery.has_record_dead_letter());
}

TEST(DescribeDeliveryTest, NamesTheMessageButNotThePerson) {
  EXPECT_EQ(DescribeDelivery(Enqueue()), "job SM1 from twilio.messages");
  const std::string dead_letter = DescribeDelivery(DeadLetterDelivery(
      "twilio.conversations", FormToPayload({{"MessageSid", "IM1"}}), "x"));
  EXPECT_EQ(dead_letter, "dead letter IM1 from twilio.conversations");
  EXPECT_THAT(DescribeDelivery(Enqueue()), Not(HasSubstr("+1415")));
}

TEST(DeadLetterDeliveryTest, NamesTheMessageAndKeepsThePayload) {
  const google::protobuf::Struct payload =
      FormToPayload({{"SmsMessageSid", "SM9"}, {"Body", "no sender"}});
  SpooledDelivery delivery = DeadLetterDelivery("twilio.messages", payload,
                                                "the delivery has no From");
  EXPECT_EQ(delivery.source(), "twilio.messages");
  EXPECT_EQ(delivery.record_dead_letter().delivery_id(), "SM9");
  EXPECT_EQ(delivery.record_dead_letter().reason(), "the delivery has no From");
  EXPECT_THAT(delivery.record_dead_letter().raw_payload(),
              EqualsJson(R"({"SmsMessageSid": "SM9", "Body": "no sender"})"));
}

TEST(DeadLetterDeliveryTest, CarriesNoNulCharacter) {
  // A job spooled by a shim that did not replace U+0000 yet.
  SpooledDelivery job = Enqueue();
  (*job.mutable_enqueue_job()->mutable_payload()->mutable_fields())["Body"]
      .set_string_value(std::string("\0abc", 4));
  FakeJobQueueBackend backend;
  backend.AnswerEnqueue(absl::InvalidArgumentError(
      std::string("unsupported Unicode escape sequence \0", 37)));
  ASSERT_TRUE(AttemptDelivery(backend, &job, {}).ok());
  ASSERT_TRUE(job.has_record_dead_letter());
  const v1::RecordDeadLetterRequest& dead_letter = job.record_dead_letter();
  EXPECT_THAT(dead_letter.raw_payload(),
              EqualsJson(R"({"MessageSid":"SM1","Body":"\ufffdabc",)"
                         R"("_jobqueue_replaced_nul":["Body"]})"));
  EXPECT_EQ(dead_letter.reason().find('\0'), std::string::npos);
  EXPECT_THAT(dead_letter.reason(), HasSubstr("sequence \xEF\xBF\xBD"));
}

}  // namespace
}  // namespace jobqueue::shim
