#include "storage/deadline_watch.h"

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

// A connected pair of sockets; reading one blocks until the other writes.
struct SocketPair {
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0); }
  ~SocketPair() {
    close(fds[0]);
    close(fds[1]);
  }
  int fds[2];
};

TEST(DeadlineWatchTest, ABlockedReadReturnsAtTheDeadline) {
  DeadlineWatch watch;
  SocketPair pair;
  const absl::Time start = absl::Now();
  DeadlineWatch::Guard guard =
      watch.Watch(pair.fds[0], start + absl::Milliseconds(200));
  char byte;
  EXPECT_EQ(read(pair.fds[0], &byte, 1), 0);  // end of stream, not data
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(190));
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_TRUE(guard.fired());
}

TEST(DeadlineWatchTest, AGuardGoneBeforeItsDeadlineLeavesTheSocketAlone) {
  DeadlineWatch watch;
  SocketPair pair;
  {
    DeadlineWatch::Guard guard =
        watch.Watch(pair.fds[0], absl::Now() + absl::Milliseconds(100));
  }
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_EQ(write(pair.fds[1], "x", 1), 1);
  char byte = 0;
  EXPECT_EQ(read(pair.fds[0], &byte, 1), 1);
  EXPECT_EQ(byte, 'x');
}

TEST(DeadlineWatchTest, FireAllCutsOffEverySocketNow) {
  DeadlineWatch watch;
  SocketPair a, b;
  DeadlineWatch::Guard never = watch.Watch(a.fds[0], absl::InfiniteFuture());
  DeadlineWatch::Guard later =
      watch.Watch(b.fds[0], absl::Now() + absl::Hours(1));
  std::thread reader([&] {
    char byte;
    EXPECT_EQ(read(a.fds[0], &byte, 1), 0);
  });
  absl::SleepFor(absl::Milliseconds(100));
  watch.FireAll();
  reader.join();
  EXPECT_TRUE(never.fired());
  EXPECT_TRUE(later.fired());
}

}  // namespace
}  // namespace jobqueue
