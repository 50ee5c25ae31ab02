#include "service/mapping/job_mapping.h"

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(EnumColumnsTest, EveryStatusRoundTrips) {
  for (v1::JobStatus s : {v1::JOB_STATUS_PENDING, v1::JOB_STATUS_PROCESSING,
                          v1::JOB_STATUS_COMPLETE, v1::JOB_STATUS_FAILED,
                          v1::JOB_STATUS_CANCELLED}) {
    absl::StatusOr<JobStatus> status = ToJobStatus("status", s);
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(ProtoStatus(*status), s);
  }
  EXPECT_EQ(*ToJobStatus("status", v1::JOB_STATUS_PROCESSING),
            JobStatus::kProcessing);
}

TEST(JobProtoTest, CarriesResultCancelAndAttemptHistory) {
  Job job{.id = "j", .payload_json = "{}"};
  v1::Job out;
  ToProto(job, &out);
  EXPECT_FALSE(out.has_result());
  EXPECT_FALSE(out.has_cancel_requested_at());
  EXPECT_EQ(out.attempt_errors_size(), 0);

  job.status = JobStatus::kCancelled;
  job.result_json = R"({"reply": "hi"})";
  job.cancel_requested_at = absl::FromUnixSeconds(100);
  job.attempt_errors = {{.attempt = 1,
                         .error = "boom",
                         .worker_id = "w",
                         .failed_at = absl::FromUnixSeconds(90)}};
  ToProto(job, &out);
  EXPECT_EQ(out.status(), v1::JOB_STATUS_CANCELLED);
  EXPECT_EQ(out.result().fields().at("reply").string_value(), "hi");
  EXPECT_EQ(out.cancel_requested_at().seconds(), 100);
  ASSERT_EQ(out.attempt_errors_size(), 1);
  EXPECT_EQ(out.attempt_errors(0).attempt(), 1);
  EXPECT_EQ(out.attempt_errors(0).error(), "boom");
  EXPECT_EQ(out.attempt_errors(0).worker_id(), "w");
  EXPECT_EQ(out.attempt_errors(0).failed_at().seconds(), 90);
}

TEST(EnumColumnsTest, UnspecifiedIsRequiredExceptForContentType) {
  EXPECT_EQ(
      ToJobStatus("status", v1::JOB_STATUS_UNSPECIFIED).status().message(),
      "status is required");
  EXPECT_EQ(SourceTypeColumn("source_type", v1::SOURCE_TYPE_UNSPECIFIED)
                .status()
                .message(),
            "source_type is required");
  EXPECT_EQ(*ContentTypeColumn("content_type", v1::CONTENT_TYPE_UNSPECIFIED),
            "text");
  EXPECT_EQ(*ContentTypeColumn("content_type", v1::CONTENT_TYPE_DOCUMENT),
            "document");
  EXPECT_EQ(*SourceTypeColumn("source_type", v1::SOURCE_TYPE_GROUP), "group");
}

TEST(EnumColumnsTest, UnknownNumbersAreRejectedByName) {
  absl::Status s =
      SourceTypeColumn("source_type", static_cast<v1::SourceType>(9)).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "source_type has an unknown value 9");
  EXPECT_EQ(
      ToJobStatus("status", static_cast<v1::JobStatus>(9)).status().message(),
      "status has an unknown value 9");
}

TEST(TimestampTest, KeepsMicrosecondsIncludingBeforeTheEpoch) {
  for (absl::Time t : {absl::FromUnixMicros(1795557617127713),
                       absl::FromUnixMicros(-1500001)}) {
    google::protobuf::Timestamp ts;
    ToTimestamp(t, &ts);
    EXPECT_GE(ts.nanos(), 0);
    EXPECT_EQ(FromTimestamp(ts), t);
  }
}

TEST(TimestampTest, ReadsEveryValidTimestamp) {
  // Past 2262, where int64 nanoseconds end, up to the last valid instant.
  google::protobuf::Timestamp last;
  last.set_seconds(253402300799);
  last.set_nanos(999999999);
  EXPECT_EQ(FromTimestamp(last),
            absl::FromUnixSeconds(253402300799) + absl::Nanoseconds(999999999));
  google::protobuf::Timestamp first;
  first.set_seconds(-62135596800);
  EXPECT_EQ(FromTimestamp(first), absl::FromUnixSeconds(-62135596800));
}

}  // namespace
}  // namespace jobqueue
