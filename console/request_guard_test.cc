#include "console/request_guard.h"

#include "gtest/gtest.h"

namespace jobqueue::console {
namespace {

RequestFacts SameSite() {
  return {.host = "127.0.0.1:9090",
          .origin = "http://127.0.0.1:9090",
          .sec_fetch_site = "same-origin",
          .content_type = "application/json; charset=utf-8",
          .console_header = "1"};
}

TEST(RequestGuardTest, TheConsolesOwnPageIsAllowed) {
  EXPECT_TRUE(CheckApiRequest(SameSite(), false).ok());
  RequestFacts no_fetch_headers = SameSite();
  no_fetch_headers.origin = "";
  no_fetch_headers.sec_fetch_site = "";
  EXPECT_TRUE(CheckApiRequest(no_fetch_headers, false).ok());
}

TEST(RequestGuardTest, CrossSiteRequestsAreRefusedNamingWhy) {
  RequestFacts form = SameSite();
  form.content_type = "text/plain";  // what a cross-site form can send
  EXPECT_NE(CheckApiRequest(form, true).message().find("Content-Type"),
            std::string::npos);
  RequestFacts no_header = SameSite();
  no_header.console_header = "";
  EXPECT_NE(
      CheckApiRequest(no_header, true).message().find("X-Jobqueue-Console"),
      std::string::npos);
  RequestFacts other_origin = SameSite();
  other_origin.origin = "http://evil.example";
  EXPECT_NE(CheckApiRequest(other_origin, true).message().find("Origin"),
            std::string::npos);
  RequestFacts cross = SameSite();
  cross.sec_fetch_site = "cross-site";
  EXPECT_EQ(CheckApiRequest(cross, true).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(RequestGuardTest, WithoutATokenOnlyLoopbackHostsAreAnswered) {
  RequestFacts rebound = SameSite();
  rebound.host = "attacker.example:9090";
  rebound.origin = "http://attacker.example:9090";
  EXPECT_EQ(CheckApiRequest(rebound, false).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckApiRequest(rebound, true).ok());
  EXPECT_TRUE(CheckHost("localhost:9090", false).ok());
  EXPECT_TRUE(CheckHost("[::1]:9090", false).ok());
  EXPECT_FALSE(CheckHost("", true).ok());
}

}  // namespace
}  // namespace jobqueue::console
