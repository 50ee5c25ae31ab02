#include "service/checks/every_field.h"

#include <string>

#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.pb.h"

namespace jobqueue {
namespace {

using std::string_literals::operator""s;

void ExpectInvalid(const absl::Status& s, const std::string& text) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(text), std::string::npos) << s;
}

TEST(CheckEveryFieldTest, AcceptsAWellFormedRequest) {
  v1::EnqueueJobRequest r;
  r.set_user_phone("+15551234567");
  r.set_source_channel_id("chan \xEF\xBF\xBF \xF4\x8F\xBF\xBF");
  (*r.mutable_payload()->mutable_fields())["Body"].set_string_value("hi");
  EXPECT_TRUE(CheckEveryField(r).ok());
}

TEST(CheckEveryFieldTest, NamesTheStringFieldWithUPlus0000) {
  v1::EnqueueJobRequest r;
  r.set_source_channel_id("chan\0x"s);
  absl::Status s = CheckEveryField(r);
  ExpectInvalid(s, "source_channel_id contains U+0000 (at byte 4)");
  ExpectInvalid(s, "PostgreSQL cannot store");
  ExpectInvalid(s, "byte for byte");

  v1::FailJobRequest f;
  f.set_error("boom\0"s);
  ExpectInvalid(CheckEveryField(f), "error contains U+0000");
  ExpectInvalid(CheckEveryField(f), "replace it");
}

TEST(CheckEveryFieldTest, NamesEntriesOfRepeatedMessages) {
  v1::CompleteJobsRequest r;
  r.add_jobs()->set_job_id("a");
  r.add_jobs()->set_lease_token("b\0"s);
  ExpectInvalid(CheckEveryField(r), "jobs[1].lease_token contains U+0000");
}

TEST(CheckEveryFieldTest, NamesPayloadValuesAndKeysByJsonPath) {
  v1::EnqueueJobRequest r;
  auto& fields = *r.mutable_payload()->mutable_fields();
  fields["Body"].set_string_value("a\0b"s);
  ExpectInvalid(CheckEveryField(r),
                "payload.Body contains U+0000 (at byte 1), which PostgreSQL "
                "cannot store");

  fields.clear();
  auto& media = *fields["media"].mutable_list_value();
  media.add_values()->set_number_value(1);
  (*media.add_values()
        ->mutable_struct_value()
        ->mutable_fields())["content type"]
      .set_string_value("x\0"s);
  ExpectInvalid(CheckEveryField(r), "payload.media[1][\"content type\"]");

  fields.clear();
  (*fields["meta"].mutable_struct_value()->mutable_fields())["k\0"s]
      .set_bool_value(true);
  ExpectInvalid(CheckEveryField(r),
                "a key of payload.meta (payload.meta[\"k\\u0000\"]) contains "
                "U+0000");

  v1::RecordDeadLetterRequest d;
  (*d.mutable_raw_payload()->mutable_fields())["Body"].set_string_value("\0"s);
  ExpectInvalid(CheckEveryField(d), "raw_payload.Body contains U+0000");
}

TEST(CheckEveryFieldTest, EnumsMustHoldADeclaredValue) {
  v1::ListJobsRequest r;
  r.set_status(static_cast<v1::JobStatus>(99));
  ExpectInvalid(CheckEveryField(r), "status has an unknown value 99");
  r.set_status(v1::JOB_STATUS_PENDING);
  r.set_source_type(static_cast<v1::SourceType>(-1));
  ExpectInvalid(CheckEveryField(r), "source_type has an unknown value -1");

  v1::ClaimJobsRequest claim;
  claim.add_content_types(v1::CONTENT_TYPE_AUDIO);
  claim.add_content_types(static_cast<v1::ContentType>(42));
  ExpectInvalid(CheckEveryField(claim),
                "content_types[1] has an unknown value 42; use one of "
                "CONTENT_TYPE_UNSPECIFIED (0)");
}

TEST(CheckEveryFieldTest, TimestampsMustBeValid) {
  v1::ListJobsRequest r;
  r.mutable_created_after()->set_seconds(253402300799);
  r.mutable_created_after()->set_nanos(999999999);
  r.mutable_created_before()->set_seconds(-62135596800);
  EXPECT_TRUE(CheckEveryField(r).ok());

  r.mutable_created_after()->set_seconds(253402300800);
  ExpectInvalid(CheckEveryField(r), "created_after.seconds");
  r.mutable_created_after()->set_seconds(0);
  r.mutable_created_after()->set_nanos(1000000000);
  ExpectInvalid(CheckEveryField(r), "created_after.nanos");
  r.mutable_created_after()->set_nanos(0);
  r.mutable_created_before()->set_nanos(-1);
  ExpectInvalid(CheckEveryField(r), "created_before.nanos");
  r.mutable_created_before()->set_nanos(0);
  r.mutable_created_before()->set_seconds(-62135596801);
  ExpectInvalid(CheckEveryField(r), "created_before.seconds");
}

TEST(CheckEveryFieldTest, DurationsMustBeValid) {
  v1::ClaimJobsRequest r;
  r.mutable_lease_duration()->set_seconds(5);
  r.mutable_lease_duration()->set_nanos(999999999);
  r.mutable_wait_timeout()->set_seconds(-1);
  r.mutable_wait_timeout()->set_nanos(-999999999);
  EXPECT_TRUE(CheckEveryField(r).ok());

  r.mutable_lease_duration()->set_nanos(-1);
  ExpectInvalid(CheckEveryField(r),
                "lease_duration has seconds 5 and nanos -1");
  r.mutable_lease_duration()->set_nanos(1000000000);
  ExpectInvalid(CheckEveryField(r), "lease_duration.nanos");
  r.mutable_lease_duration()->set_nanos(0);
  r.mutable_wait_timeout()->set_seconds(315576000001);
  r.mutable_wait_timeout()->set_nanos(0);
  ExpectInvalid(CheckEveryField(r), "wait_timeout.seconds");
}

TEST(JsonPathStepTest, QuotesKeysThatAreNotIdentifiers) {
  EXPECT_EQ(JsonPathStep("payload", "Body"), "payload.Body");
  EXPECT_EQ(JsonPathStep("payload", "a.b"), "payload[\"a.b\"]");
  EXPECT_EQ(JsonPathStep("payload", ""), "payload[\"\"]");
  EXPECT_EQ(JsonPathStep("payload", "1x"), "payload[\"1x\"]");
  EXPECT_EQ(JsonPathStep("p", "q\"\n"), "p[\"q\\\"\\u000a\"]");
}

}  // namespace
}  // namespace jobqueue
