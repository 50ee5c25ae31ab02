// Data handed between threads through absl::Mutex, CondVar, Await and
// Notification. Under --config=tsan, TSan reports each of these as a race
// unless absl_tsan_annotations tells it about Debian's uninstrumented abseil;
// in the other builds they check the hand-offs themselves. Under TSan a true
// race must still be reported.
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace {

TEST(AbslTsanAnnotations, MutexGuardsACounter) {
  absl::Mutex mu;
  long counter = 0;  // Guarded by mu, but a plain long to TSan.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        absl::MutexLock lock(&mu);
        ++counter;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(counter, 4000);
}

TEST(AbslTsanAnnotations, ReaderLockSeesTheWriter) {
  absl::Mutex mu;
  int value = 0;
  std::thread writer([&] {
    absl::MutexLock lock(&mu);
    value = 7;
  });
  writer.join();
  std::thread reader([&] {
    absl::ReaderMutexLock lock(&mu);
    EXPECT_EQ(value, 7);
  });
  reader.join();
}

TEST(AbslTsanAnnotations, CondVarHandsOffAValue) {
  absl::Mutex mu;
  absl::CondVar ready;
  int value = 0;
  bool set = false;
  std::thread producer([&] {
    absl::MutexLock lock(&mu);
    value = 42;
    set = true;
    ready.Signal();
  });
  {
    absl::MutexLock lock(&mu);
    while (!set) ready.Wait(&mu);
    EXPECT_EQ(value, 42);
  }
  producer.join();
}

TEST(AbslTsanAnnotations, AwaitAndLockWhenHandOffValues) {
  absl::Mutex mu;
  std::vector<int> items;
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      absl::MutexLock lock(&mu);
      items.push_back(i);
    }
  });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<int>* v) { return v->size() >= 50; }, &items));
    EXPECT_GE(items.size(), 50u);
  }
  mu.LockWhen(absl::Condition(
      +[](std::vector<int>* v) { return v->size() == 100; }, &items));
  EXPECT_EQ(items.back(), 99);
  mu.Unlock();
  producer.join();
}

TEST(AbslTsanAnnotations, NotificationPublishesWrites) {
  absl::Notification done;
  int value = 0;
  std::thread writer([&] {
    value = 5;
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_EQ(value, 5);
  writer.join();
}

#if defined(JOBQUEUE_TSAN)
// The annotations must not hide a real race: two threads write one int
// unguarded.
TEST(AbslTsanAnnotationsDeathTest, ARealRaceIsStillReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        absl::Mutex mu;
        int value = 0;
        std::thread a([&] { value = 1; });
        std::thread b([&] { value = 2; });
        a.join();
        b.join();
        absl::MutexLock lock(&mu);
        std::exit(value == 0 ? 1 : 0);
      },
      testing::ExitedWithCode(66), "data race");
}
#endif

}  // namespace
