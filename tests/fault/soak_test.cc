// The soak's bounded unit: 25 s of mixed load with a server kill, a database
// crash and a database pause, every check clean, RSS and threads bounded.

#include "tests/fault/soak.h"

#include <iostream>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"

namespace jobqueue::fault {
namespace {

TEST(SoakTest, TwentyFiveSecondsOfFaultsLeaveEveryCheckClean) {
  SoakResult result =
      RunSoak({.duration = absl::Seconds(25),
               .fault_every = absl::Seconds(3),
               .server_binary = RunfilePath("service/jobqueue_server")},
              std::cout);
  EXPECT_TRUE(result.problems.empty()) << absl::StrJoin(result.problems, "\n");
  EXPECT_GE(result.faults, 3);
  EXPECT_GT(result.completed, 50);
  EXPECT_LT(result.most_threads, 200);
  EXPECT_LT(result.most_rss_kib, 512 * 1024);
}

}  // namespace
}  // namespace jobqueue::fault
