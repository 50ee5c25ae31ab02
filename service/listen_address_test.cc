#include "service/listen_address.h"

#include <tuple>

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(SplitHostPortTest, TakesHostPortWithIpv6InBrackets) {
  for (const auto& [address, host, port] :
       {std::tuple{"127.0.0.1:50051", "127.0.0.1", 50051},
        std::tuple{"0.0.0.0:0", "0.0.0.0", 0},
        std::tuple{"[::1]:9090", "::1", 9090},
        std::tuple{"[::]:65535", "::", 65535},
        std::tuple{"jobs.internal:8080", "jobs.internal", 8080}}) {
    absl::StatusOr<HostPort> split = SplitHostPort(address);
    ASSERT_TRUE(split.ok()) << address << ": " << split.status();
    EXPECT_EQ(split->host, host);
    EXPECT_EQ(split->port, port);
    EXPECT_EQ(JoinHostPort(split->host, split->port), address);
  }
}

TEST(SplitHostPortTest, RefusesWhatIsNotHostPort) {
  for (const char* address :
       {"", "localhost", ":8080", "127.0.0.1:", "127.0.0.1:65536",
        "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x", "::1:8080",
        "[::1:8080", "[::1]", "::1]:80", "[]:80"}) {
    absl::StatusOr<HostPort> split = SplitHostPort(address);
    EXPECT_EQ(split.status().code(), absl::StatusCode::kInvalidArgument)
        << address;
    if (!split.ok()) {
      EXPECT_NE(split.status().message().find("host:port"), std::string::npos);
    }
  }
}

TEST(IsLoopbackListenAddressTest, OnlyThisMachine) {
  for (const char* listen :
       {"127.0.0.1:50051", "127.0.0.1:0", "127.1.2.3:1", "127.255.255.255:1",
        "localhost:50051", "LocalHost:0", "[::1]:50051", "[::1]:0",
        "[0:0:0:0:0:0:0:1]:1", "[::ffff:127.0.0.1]:1", "unix:/run/jq.sock",
        "unix-abstract:jq"}) {
    EXPECT_TRUE(IsLoopbackListenAddress(listen)) << listen;
  }
}

TEST(IsLoopbackListenAddressTest, EverythingOtherMachinesCanReach) {
  for (const char* listen :
       {"0.0.0.0:50051", "0.0.0.0:0", "[::]:50051", "[::]:0",
        "[0:0:0:0:0:0:0:0]:1", "10.0.0.5:50051", "192.168.1.20:0",
        "[2001:db8::1]:50051", "[::ffff:10.0.0.1]:1", "jobs.internal:50051",
        "myhost:0", "localhost.evil.com:1", "127.0.0.1.evil.com:1",
        "128.0.0.1:1", "127.0.0.256:1", "126.255.255.255:1",
        // Not host:port: refused, whatever gRPC would make of it.
        "localhost", "::1:50051", "127.0.0.1", "", ":50051"}) {
    EXPECT_FALSE(IsLoopbackListenAddress(listen)) << listen;
  }
}

}  // namespace
}  // namespace jobqueue
