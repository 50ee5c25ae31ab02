#include "service/checks/field_rules.h"

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(IsE164Test, AcceptsPlusAndEightToFifteenDigits) {
  EXPECT_TRUE(IsE164("+15551234567"));
  EXPECT_TRUE(IsE164("+12345678"));
  EXPECT_TRUE(IsE164("+123456789012345"));
  EXPECT_FALSE(IsE164("+1234567"));
  EXPECT_FALSE(IsE164("+1234567890123456"));
  EXPECT_FALSE(IsE164("15551234567"));
  EXPECT_FALSE(IsE164("+1 555 123 4567"));
  EXPECT_FALSE(IsE164("whatsapp:+15551234567"));
  EXPECT_FALSE(IsE164(""));
}

TEST(IsUuidTest, AcceptsOnlyTheCanonicalForm) {
  EXPECT_TRUE(IsUuid("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab"));
  EXPECT_TRUE(IsUuid("7D3F2F0C-2B9E-4A55-9C1E-0123456789AB"));
  EXPECT_FALSE(IsUuid("7d3f2f0c2b9e4a559c1e0123456789ab"));
  EXPECT_FALSE(IsUuid("7d3f2f0c-2b9e-4a55-9c1e-0123456789ag"));
  EXPECT_FALSE(IsUuid("not-a-uuid"));
}

TEST(CheckTest, MessagesNameTheFieldAndValue) {
  absl::Status s = CheckE164("user_phone", "555");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "user_phone must be an E.164 phone number (+ then 8 to 15 "
            "digits), got \"555\"");
  EXPECT_EQ(CheckUuid("id", "x").message(), "id must be a UUID, got \"x\"");
  // Control characters are escaped, so a message stays one printable line.
  EXPECT_EQ(CheckUuid("id", std::string("a\0\n\"", 4)).message(),
            "id must be a UUID, got \"a\\u0000\\u000a\\\"\"");
  EXPECT_EQ(CheckRequired("source_channel_id", "", 10).message(),
            "source_channel_id is required");
  EXPECT_EQ(
      CheckMaxLength("idempotency_key", std::string(300, 'k'), 255).message(),
      "idempotency_key is 300 bytes; the limit is 255");
  EXPECT_TRUE(CheckMaxLength("f", "", 1).ok());
}

TEST(CheckTest, ALongValueIsShortenedInTheMessage) {
  absl::Status s = CheckE164("user_phone", std::string(1000, '9'));
  EXPECT_LT(s.message().size(), 200u);
}

}  // namespace
}  // namespace jobqueue
