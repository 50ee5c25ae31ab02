#include "service/mapping/job_mapping.h"

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(EnumColumnsTest, EveryStatusRoundTrips) {
  for (v1::JobStatus s : {v1::JOB_STATUS_PENDING, v1::JOB_STATUS_PROCESSING,
                          v1::JOB_STATUS_COMPLETE, v1::JOB_STATUS_FAILED}) {
    absl::StatusOr<JobStatus> status = ToJobStatus("status", s);
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(ProtoStatus(*status), s);
  }
  EXPECT_EQ(*ToJobStatus("status", v1::JOB_STATUS_PROCESSING),
            JobStatus::kProcessing);
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
