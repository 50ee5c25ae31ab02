#include "storage/group_commit.h"

#include <atomic>
#include <thread>

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

}  // namespace
}  // namespace jobqueue
