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

const UserCursor kUserCursor{absl::FromUnixMicros(1795557617127713),
                             "+15551234567"};

TEST(UserPageTokenTest, RoundTripsTheCursor) {
  const UserFilter filter{.created_after = absl::UnixEpoch()};
  const std::string fp = UserFilterFingerprint(filter);
  absl::StatusOr<UserCursor> c =
      DecodeUserPageToken(EncodeUserPageToken(kUserCursor, fp), fp);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->created_at, kUserCursor.created_at);
  EXPECT_EQ(c->phone_number, kUserCursor.phone_number);
}

TEST(UserPageTokenTest, FingerprintDependsOnEveryFilter) {
  const std::string base = UserFilterFingerprint({});
  EXPECT_EQ(base, UserFilterFingerprint({}));
  EXPECT_NE(base, UserFilterFingerprint({.created_after = absl::UnixEpoch()}));
  EXPECT_NE(base, UserFilterFingerprint({.created_before = absl::UnixEpoch()}));
  EXPECT_NE(UserFilterFingerprint({.created_after = absl::UnixEpoch()}),
            UserFilterFingerprint({.created_before = absl::UnixEpoch()}));
  // Never a ListJobs fingerprint, even for the same times.
  EXPECT_NE(base, FilterFingerprint({}));
}

TEST(UserPageTokenTest, ATokenForOtherFiltersIsRejected) {
  const std::string token = EncodeUserPageToken(
      kUserCursor, UserFilterFingerprint({.created_after = absl::UnixEpoch()}));
  absl::StatusOr<UserCursor> c =
      DecodeUserPageToken(token, UserFilterFingerprint({}));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("different filters"), std::string::npos);
}

TEST(UserPageTokenTest, EachListRefusesTheOthersTokens) {
  // Even with the other list's fingerprint, which is no secret.
  const std::string jobs_fp = FilterFingerprint({});
  const std::string users_fp = UserFilterFingerprint({});
  for (const std::string& fp : {jobs_fp, users_fp}) {
    absl::StatusOr<UserCursor> u =
        DecodeUserPageToken(EncodePageToken(kCursor, fp), users_fp);
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(u.status().message().find("page_token was issued by ListJobs"),
              std::string::npos)
        << u.status();
    absl::StatusOr<JobCursor> j =
        DecodePageToken(EncodeUserPageToken(kUserCursor, fp), jobs_fp);
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(j.status().message().find("page_token was issued by ListUsers"),
              std::string::npos)
        << j.status();
  }
}

TEST(UserPageTokenTest, ForgedTokensAreRejected) {
  const std::string fp = UserFilterFingerprint({});
  for (const std::string& forged :
       {std::string("garbage!"), std::string("Zm9vYmFy"), std::string(""),
        absl::WebSafeBase64Escape("u1:abc:+15551234567:" + fp),
        absl::WebSafeBase64Escape("u1:5:15551234567:" + fp),
        absl::WebSafeBase64Escape("u1:5:+1234567:" + fp),
        absl::WebSafeBase64Escape("u1:5:+15551234567:" + fp + ":x"),
        absl::WebSafeBase64Escape("u1:5::" + fp),
        absl::WebSafeBase64Escape("u1:-62135596800000001:+15551234567:" + fp),
        absl::WebSafeBase64Escape("u1:253402300800000000:+15551234567:" + fp),
        absl::WebSafeBase64Escape("u2:5:+15551234567:" + fp)}) {
    absl::StatusOr<UserCursor> c = DecodeUserPageToken(forged, fp);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << forged;
    EXPECT_NE(c.status().message().find("page_token"), std::string::npos);
    EXPECT_NE(c.status().message().find("ListUsers"), std::string::npos)
        << c.status();
  }
  for (const std::string& micros :
       {std::string("-62135596800000000"), std::string("253402300799999999")}) {
    EXPECT_TRUE(DecodeUserPageToken(absl::WebSafeBase64Escape(absl::StrCat(
                                        "u1:", micros, ":+15551234567:", fp)),
                                    fp)
                    .ok())
        << micros;
  }
}

TEST(DeadLetterPageTokenTest, RoundTripsTheCursorForItsFilters) {
  const DeadLetterFilter filter{.source = "twilio.messages",
                                .reason_contains = "From"};
  const std::string fp = DeadLetterFilterFingerprint(filter);
  const DeadLetterCursor cursor{kCursor.created_at, kCursor.id};
  const std::string token = EncodeDeadLetterPageToken(cursor, fp);
  absl::StatusOr<DeadLetterCursor> c = DecodeDeadLetterPageToken(token, fp);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->last_seen_at, cursor.last_seen_at);
  EXPECT_EQ(c->id, cursor.id);
  EXPECT_EQ(DecodeDeadLetterPageToken(
                token, DeadLetterFilterFingerprint({.source = "twilio"}))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // The lengths keep "a" + "b\n" apart from "a\nb" + "".
  EXPECT_NE(
      DeadLetterFilterFingerprint({.source = "a", .reason_contains = "b"}),
      DeadLetterFilterFingerprint({.source = "a\n1:b"}));
  EXPECT_NE(DeadLetterFilterFingerprint({}),
            DeadLetterFilterFingerprint({.since = absl::UnixEpoch()}));
  EXPECT_NE(DeadLetterFilterFingerprint({}),
            DeadLetterFilterFingerprint({.until = absl::UnixEpoch()}));
}

TEST(DeadLetterPageTokenTest, EachListRefusesTheOthersTokens) {
  const std::string jobs = EncodePageToken(kCursor, FilterFingerprint({}));
  const std::string users = EncodeUserPageToken(
      {kCursor.created_at, "+15551234567"}, UserFilterFingerprint({}));
  const std::string fp = DeadLetterFilterFingerprint({});
  const std::string letters =
      EncodeDeadLetterPageToken({kCursor.created_at, kCursor.id}, fp);
  for (const std::string& other : {jobs, users}) {
    absl::StatusOr<DeadLetterCursor> c = DecodeDeadLetterPageToken(other, fp);
    EXPECT_NE(c.status().message().find("was issued by List"),
              std::string::npos)
        << c.status();
  }
  EXPECT_EQ(DecodePageToken(letters, FilterFingerprint({})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      DecodeUserPageToken(letters, UserFilterFingerprint({})).status().code(),
      absl::StatusCode::kInvalidArgument);
  for (const std::string& forged :
       {std::string("garbage!"), absl::WebSafeBase64Escape("d1:x:y:z"),
        absl::WebSafeBase64Escape(absl::StrCat("d1:1:not-a-uuid:", fp)),
        absl::WebSafeBase64Escape(
            absl::StrCat("d1:9223372036854775807:", kCursor.id, ":", fp))}) {
    EXPECT_EQ(DecodeDeadLetterPageToken(forged, fp).status().code(),
              absl::StatusCode::kInvalidArgument)
        << forged;
  }
}

}  // namespace
}  // namespace jobqueue
