#include "shim/webhook/form_parser.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobqueue::shim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

TEST(ParseFormUrlEncodedTest, DecodesPercentEscapesAndPlus) {
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded(
      "From=%2B14155238886&Body=Hello+world%21+%F0%9F%91%8B&To=whatsapp%3a%"
      "2B1");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(*params,
              ElementsAre(Pair("From", "+14155238886"),
                          Pair("Body", "Hello world! \xF0\x9F\x91\x8B"),
                          Pair("To", "whatsapp:+1")));
}

TEST(ParseFormUrlEncodedTest, DecodesNames) {
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded("a+b%5B0%5D=1");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(*params, ElementsAre(Pair("a b[0]", "1")));
}

TEST(ParseFormUrlEncodedTest, KeepsEmptyValues) {
  absl::StatusOr<FormParams> params =
      ParseFormUrlEncoded("Body=&ProfileName&NumMedia=0");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(*params, ElementsAre(Pair("Body", ""), Pair("ProfileName", ""),
                                   Pair("NumMedia", "0")));
}

TEST(ParseFormUrlEncodedTest, KeepsRepeatedNamesInOrder) {
  absl::StatusOr<FormParams> params =
      ParseFormUrlEncoded("Digits=5678&Sid=CA1&Digits=1234");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(*params, ElementsAre(Pair("Digits", "5678"), Pair("Sid", "CA1"),
                                   Pair("Digits", "1234")));
}

TEST(ParseFormUrlEncodedTest, OnlyTheFirstEqualsSplits) {
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded("q=a=b");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(*params, ElementsAre(Pair("q", "a=b")));
}

TEST(ParseFormUrlEncodedTest, SkipsEmptyParts) {
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded("&a=1&&b=2&");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(*params, ElementsAre(Pair("a", "1"), Pair("b", "2")));
}

TEST(ParseFormUrlEncodedTest, EmptyBodyHasNoParams) {
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded("");
  ASSERT_TRUE(params.ok()) << params.status();
  EXPECT_THAT(*params, IsEmpty());
}

TEST(ParseFormUrlEncodedTest, RejectsTruncatedEscape) {
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded("Body=abc%4");
  EXPECT_EQ(params.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(params.status().message(), HasSubstr("offset 8"));
}

TEST(ParseFormUrlEncodedTest, RejectsNonHexEscape) {
  EXPECT_EQ(ParseFormUrlEncoded("Body=%zz").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseFormUrlEncoded("B%g1=x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParseFormUrlEncodedTest, RejectsEmptyName) {
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded("a=1&=2");
  EXPECT_EQ(params.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(params.status().message(), HasSubstr("empty parameter name"));
}

TEST(ParseFormUrlEncodedTest, RejectsTextThatIsNotUtf8) {
  // A lone continuation byte, an overlong '/', and a UTF-16 surrogate.
  EXPECT_EQ(ParseFormUrlEncoded("Body=%80").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseFormUrlEncoded("Body=%C0%AF").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseFormUrlEncoded("Body=%ED%A0%80").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jobqueue::shim
