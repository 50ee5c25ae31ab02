#include "storage/client_limits.h"

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(ClientLimitsTest, AddsTheLimitsToAUrl) {
  EXPECT_EQ(WithClientLimits("postgresql://u@db:5432/app"),
            "postgresql://u@db:5432/app?connect_timeout=5&keepalives=1"
            "&keepalives_idle=10&keepalives_interval=5&keepalives_count=3"
            "&tcp_user_timeout=15000");
  EXPECT_EQ(WithClientLimits("postgres://db/app?sslmode=require"),
            "postgres://db/app?sslmode=require&connect_timeout=5"
            "&keepalives=1&keepalives_idle=10&keepalives_interval=5"
            "&keepalives_count=3&tcp_user_timeout=15000");
}

TEST(ClientLimitsTest, AddsThemToKeyValueSettingsToo) {
  EXPECT_EQ(WithClientLimits("host=db dbname=app"),
            "host=db dbname=app connect_timeout=5 keepalives=1"
            " keepalives_idle=10 keepalives_interval=5 keepalives_count=3"
            " tcp_user_timeout=15000");
}

TEST(ClientLimitsTest, KeepsWhatTheUrlSets) {
  const std::string url = WithClientLimits(
      "postgresql://db/app?connect_timeout=30&tcp_user_timeout=0");
  EXPECT_EQ(url.find("connect_timeout=5"), std::string::npos) << url;
  EXPECT_EQ(url.find("tcp_user_timeout=15000"), std::string::npos) << url;
  EXPECT_NE(url.find("keepalives_idle=10"), std::string::npos) << url;
}

}  // namespace
}  // namespace jobqueue
