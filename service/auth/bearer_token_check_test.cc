#include "service/auth/bearer_token_check.h"

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(BearerTokenCheckTest, DisabledWithoutAToken) {
  BearerTokenCheck check("");
  EXPECT_FALSE(check.enabled());
  EXPECT_TRUE(check.CheckHeader("").ok());
}

TEST(BearerTokenCheckTest, AcceptsOnlyTheConfiguredToken) {
  BearerTokenCheck check("s3cret-token");
  EXPECT_TRUE(check.CheckHeader("Bearer s3cret-token").ok());
  EXPECT_TRUE(check.CheckHeader("bearer s3cret-token").ok());
  for (const char* wrong : {"Bearer s3cret-tokeN", "Bearer s3cret-token ",
                            "Bearer ", "Basic czNjcmV0", "s3cret-token"}) {
    absl::Status s = check.CheckHeader(wrong);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << wrong;
    EXPECT_EQ(s.message().find("s3cret"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace jobqueue
