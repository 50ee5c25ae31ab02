#include "service/page_token.h"

#include "absl/strings/escaping.h"
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

}  // namespace
}  // namespace jobqueue
