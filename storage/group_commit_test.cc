#include "storage/group_commit.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace jobqueue {
namespace {

using Doubler = GroupCommit<int, int>;

struct Recorder {
  std::atomic<int> batches{0};
  std::atomic<int> largest{0};
  std::atomic<int> running{0};
  std::atomic<int> most_running{0};

  Doubler::RunBatch Run(absl::Duration each) {
    return [this, each](const std::vector<const int*>& in, absl::Time) {
      const int now_running = ++running;
      most_running = std::max(most_running.load(), now_running);
      ++batches;
      largest = std::max(largest.load(), static_cast<int>(in.size()));
      absl::SleepFor(each);
      std::vector<absl::StatusOr<int>> out;
      for (const int* v : in) {
        if (*v < 0) {
          out.push_back(absl::InvalidArgumentError("negative"));
        } else {
          out.push_back(*v * 2);
        }
      }
      --running;
      return out;
    };
  }
};

TEST(GroupCommitTest, ALoneCallerRunsAtOnceInABatchOfOne) {
  Recorder rec;
  Doubler commit({}, rec.Run(absl::ZeroDuration()));
  EXPECT_EQ(*commit.Call(21, absl::InfiniteFuture()), 42);
  EXPECT_EQ(*commit.Call(5, absl::InfiniteFuture()), 10);
  EXPECT_EQ(rec.batches, 2);
  EXPECT_EQ(rec.largest, 1);
}

TEST(GroupCommitTest, ConcurrentCallersShareBatchesAndGetTheirOwnResults) {
  Recorder rec;
  Doubler commit({.max_batch = 16, .max_in_flight = 2},
                 rec.Run(absl::Milliseconds(5)));
  constexpr int kCallers = 64;
  std::vector<absl::StatusOr<int>> results(kCallers, 0);
  std::vector<int> inputs(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    inputs[i] = i % 7 == 0 ? -i - 1 : i;
    threads.emplace_back([&, i] {
      results[i] = commit.Call(inputs[i], absl::InfiniteFuture());
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kCallers; ++i) {
    if (inputs[i] < 0) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kInvalidArgument);
    } else {
      ASSERT_TRUE(results[i].ok());
      EXPECT_EQ(*results[i], 2 * i);
    }
  }
  EXPECT_LT(rec.batches, kCallers);
  EXPECT_GT(rec.largest, 1);
  EXPECT_LE(rec.largest, 16);
  EXPECT_LE(rec.most_running, 2);
}

TEST(GroupCommitTest, AWrongResultCountBecomesAnErrorForEveryone) {
  Doubler commit({}, [](const std::vector<const int*>&, absl::Time) {
    return std::vector<absl::StatusOr<int>>{};
  });
  EXPECT_EQ(commit.Call(1, absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kInternal);
}

// A batch that never ends, as against a database that does not answer,
// until the test releases it.
struct Stuck {
  absl::Notification release;
  std::atomic<int> batches{0};
  Doubler::RunBatch Run() {
    return [this](const std::vector<const int*>& in, absl::Time) {
      ++batches;
      release.WaitForNotification();
      return std::vector<absl::StatusOr<int>>(in.size(), 0);
    };
  }
};

TEST(GroupCommitTest, EveryCallerReturnsByItsDeadlineWhileABatchHangs) {
  Stuck stuck;
  Doubler commit({.max_batch = 8, .max_in_flight = 1}, stuck.Run());
  std::thread leader(
      [&] { commit.Call(1, absl::InfiniteFuture()).IgnoreError(); });
  while (stuck.batches == 0) absl::SleepFor(absl::Milliseconds(1));

  // Joins a batch that cannot start: it fails whole, nothing sent.
  const absl::Time start = absl::Now();
  absl::StatusOr<int> waiting = commit.Call(2, start + absl::Milliseconds(200));
  EXPECT_EQ(waiting.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(waiting.status().message().find("nothing was written"),
            std::string::npos);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(stuck.batches, 1);
  stuck.release.Notify();
  leader.join();
}

TEST(GroupCommitTest, AFollowerOfAHungBatchLeavesAtItsDeadline) {
  Stuck stuck;
  Doubler commit({.max_batch = 8, .max_in_flight = 1}, stuck.Run());
  std::thread first(
      [&] { commit.Call(1, absl::InfiniteFuture()).IgnoreError(); });
  while (stuck.batches == 0) absl::SleepFor(absl::Milliseconds(1));
  // The second batch: a leader with a long deadline and a follower with a
  // short one. The leader's batch starts once the first one ends.
  std::thread leader(
      [&] { commit.Call(2, absl::InfiniteFuture()).IgnoreError(); });
  absl::SleepFor(absl::Milliseconds(50));
  const absl::Time start = absl::Now();
  absl::StatusOr<int> follower =
      commit.Call(3, start + absl::Milliseconds(200));
  EXPECT_EQ(follower.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  stuck.release.Notify();
  first.join();
  leader.join();
}

}  // namespace
}  // namespace jobqueue
