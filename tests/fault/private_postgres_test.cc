// What PrivatePostgres::Pause and Resume need of /proc while other processes
// come and go; the cluster itself is exercised by fault_test and the soak.

#include "tests/fault/private_postgres.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace jobqueue::fault {
namespace {

TEST(ParentPidFromStatTest, NamesTheParentOfALiveProcess) {
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  std::ifstream stat(absl::StrCat("/proc/", child, "/stat"));
  EXPECT_EQ(ParentPidFromStat(stat), getpid());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}

// A soak ended in std::terminate when a process on the machine exited
// between the open and the read of its stat file during Resume.
TEST(ParentPidFromStatTest, AProcessGoneAfterTheOpenIsZeroNotAnException) {
  const pid_t child = fork();
  if (child == 0) {
    pause();
    _exit(0);
  }
  std::ifstream stat(absl::StrCat("/proc/", child, "/stat"));
  ASSERT_TRUE(stat.is_open());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_EQ(ParentPidFromStat(stat), 0);
}

}  // namespace
}  // namespace jobqueue::fault
