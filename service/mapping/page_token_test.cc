#include "service/mapping/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace jobqueue {
namespace {

const JobCursor kCursor{absl::FromUnixMicros(1795557617127713),
                        "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab"};

TEST(PageTokenTest, RoundTripsTheCursor) {
  JobFilter filter{.user_id = "+15551234567", .status = JobStatus::kPending};
  const std::string fp = FilterFingerprint(filter);
  absl::StatusOr<JobCursor> c =
      DecodePageToken(EncodePageToken(kCursor, fp), fp);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->created_at, kCursor.created_at);
  EXPECT_EQ(c->id, kCursor.id);
}

TEST(PageTokenTest, FingerprintDependsOnEveryFilter) {
  const std::string base = FilterFingerprint({});
  EXPECT_EQ(base, FilterFingerprint({}));
  EXPECT_NE(base, FilterFingerprint({.user_id = "+15551234567"}));
  EXPECT_NE(base, FilterFingerprint({.status = JobStatus::kFailed}));
  EXPECT_NE(base, FilterFingerprint({.source_channel_id = "c"}));
  EXPECT_NE(base, FilterFingerprint({.source_type = "dm"}));
  EXPECT_NE(base, FilterFingerprint({.created_after = absl::UnixEpoch()}));
  EXPECT_NE(base, FilterFingerprint({.created_before = absl::UnixEpoch()}));
}

TEST(PageTokenTest, ATokenForOtherFiltersIsRejected) {
  const std::string token = EncodePageToken(
      kCursor, FilterFingerprint({.status = JobStatus::kPending}));
  absl::StatusOr<JobCursor> c =
      DecodePageToken(token, FilterFingerprint({.status = JobStatus::kFailed}));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("different filters"), std::string::npos);
}

TEST(PageTokenTest, ForgedTokensAreRejected) {
  const std::string fp = FilterFingerprint({});
  for (const std::string& forged :
       {std::string("garbage!"), std::string("Zm9vYmFy"),
        absl::WebSafeBase64Escape(
            "1:abc:7d3f2f0c-2b9e-4a55-9c1e-0123456789ab:" + fp),
        absl::WebSafeBase64Escape("1:5:not-a-uuid:" + fp),
        absl::WebSafeBase64Escape("2:5:7d3f2f0c-2b9e-4a55-9c1e-0123456789ab:" +
                                  fp)}) {
    absl::StatusOr<JobCursor> c = DecodePageToken(forged, fp);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << forged;
    EXPECT_NE(c.status().message().find("page_token"), std::string::npos);
  }
}

TEST(PageTokenTest, CursorTimesOutsideTimestampsAreRejected) {
  // Well formed and bound to the right filters (the fingerprint is no
  // secret), but no server issues a time before year 1 or after 9999, and
  // PostgreSQL would refuse it with its own words.
  const std::string fp = FilterFingerprint({});
  for (const std::string& micros :
       {std::string("-62135596800000001"), std::string("253402300800000000"),
        std::string("-9223372036854775808"),
        std::string("9223372036854775807")}) {
    absl::StatusOr<JobCursor> c = DecodePageToken(
        absl::WebSafeBase64Escape(absl::StrCat(
            "1:", micros, ":7d3f2f0c-2b9e-4a55-9c1e-0123456789ab:", fp)),
        fp);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << micros;
    EXPECT_NE(c.status().message().find("page_token"), std::string::npos);
  }
  for (const std::string& micros :
       {std::string("-62135596800000000"), std::string("253402300799999999")}) {
    EXPECT_TRUE(
        DecodePageToken(
            absl::WebSafeBase64Escape(absl::StrCat(
                "1:", micros, ":7d3f2f0c-2b9e-4a55-9c1e-0123456789ab:", fp)),
            fp)
            .ok())
        << micros;
  }
}

}  // namespace
}  // namespace jobqueue
