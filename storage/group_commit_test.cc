#include "storage/group_commit.h"

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/time_budget.h"

namespace jobqueue {
namespace {

using Doubler = GroupCommit<int, int>;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A database whose batches answer only when the test opens the gate for
// them, one batch per Open() in the order they started (or all at once),
// and that gives up at the batch's deadline as the connection pool does. It
// records what each batch was sent and under which deadline.
class GatedDatabase {
 public:
  Doubler::RunBatch Run() {
    return [this](const std::vector<const int*>& in, absl::Time deadline) {
      absl::MutexLock lock(&mu_);
      const int n = static_cast<int>(sent_.size());
      sent_.emplace_back();
      for (const int* v : in) sent_.back().push_back(*v);
      deadlines_.push_back(deadline);
      ++running_;
      most_running_ = std::max(most_running_, running_);
      auto opened = [this, n] { return all_open_ || open_ > n; };
      const bool answered =
          mu_.AwaitWithDeadline(absl::Condition(&opened), deadline);
      --running_;
      std::vector<absl::StatusOr<int>> out;
      for (const int* v : in) {
        if (!answered) {
          out.push_back(absl::DeadlineExceededError("statement cut"));
        } else if (*v < 0) {
          out.push_back(absl::InvalidArgumentError("negative"));
        } else {
          out.push_back(*v * 2);
        }
      }
      return out;
    };
  }

  // Lets the oldest batch still held answer.
  void Open() {
    absl::MutexLock lock(&mu_);
    ++open_;
  }
  void OpenAll() {
    absl::MutexLock lock(&mu_);
    all_open_ = true;
  }
  // Waits until `n` batches were sent.
  bool WaitSent(int n) {
    absl::MutexLock lock(&mu_);
    auto sent = [this, n] { return static_cast<int>(sent_.size()) >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&sent),
                                TimeBudget(absl::Seconds(10)));
  }
  std::vector<std::vector<int>> sent() {
    absl::MutexLock lock(&mu_);
    return sent_;
  }
  std::vector<absl::Time> deadlines() {
    absl::MutexLock lock(&mu_);
    return deadlines_;
  }
  int most_running() {
    absl::MutexLock lock(&mu_);
    return most_running_;
  }

 private:
  absl::Mutex mu_;
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  bool all_open_ ABSL_GUARDED_BY(mu_) = false;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int most_running_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::vector<int>> sent_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);
};

// Waits until `n` callers are inside `commit` (joined a batch or running
// one): synchronisation on the state itself, not on thread start speed.
::testing::AssertionResult WaitForCallers(const Doubler& commit, int n) {
  const absl::Time give_up = absl::Now() + TimeBudget(absl::Seconds(10));
  while (commit.callers() < n && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  if (commit.callers() == n) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << commit.callers() << " of " << n << " callers joined";
}

// A call on its own thread.
class Caller {
 public:
  Caller(Doubler& commit, GatedDatabase& db, int value, absl::Time deadline)
      : db_(db), thread_([this, &commit, value, deadline] {
          result_ = commit.Call(value, deadline);
        }) {}
  // A test that failed early lets the call end.
  ~Caller() {
    if (!thread_.joinable()) return;
    db_.OpenAll();
    thread_.join();
  }
  absl::StatusOr<int> Result() {
    thread_.join();
    return result_;
  }

 private:
  GatedDatabase& db_;
  absl::StatusOr<int> result_ = absl::UnknownError("not run");
  std::thread thread_;
};

constexpr absl::Time kNever = absl::InfiniteFuture();

TEST(GroupCommitTest, ALoneCallerRunsAtOnceInABatchOfOne) {
  GatedDatabase db;
  db.OpenAll();
  Doubler commit({}, db.Run());
  EXPECT_EQ(*commit.Call(21, kNever), 42);
  EXPECT_EQ(*commit.Call(5, kNever), 10);
  EXPECT_THAT(db.sent(), ElementsAre(ElementsAre(21), ElementsAre(5)));
  EXPECT_EQ(commit.callers(), 0);
}

// The first batches hold the database until every caller has joined, so the
// batches formed do not depend on how fast threads start: two batches of one
// take both slots, the other 62 callers fill batches of 16 in order.
TEST(GroupCommitTest, ConcurrentCallersShareBatchesAndGetTheirOwnResults) {
  GatedDatabase db;
  Doubler commit({.max_batch = 16, .max_in_flight = 2}, db.Run());
  constexpr int kCallers = 64;
  std::vector<int> inputs(kCallers);
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < kCallers; ++i) {
    inputs[i] = i % 7 == 0 ? -i - 1 : i;
    callers.push_back(std::make_unique<Caller>(commit, db, inputs[i], kNever));
  }
  ASSERT_TRUE(WaitForCallers(commit, kCallers));
  db.OpenAll();
  for (int i = 0; i < kCallers; ++i) {
    absl::StatusOr<int> result = callers[i]->Result();
    if (inputs[i] < 0) {
      EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    } else {
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(*result, 2 * i);
    }
  }
  std::vector<int> sizes;
  int requests = 0;
  for (const std::vector<int>& batch : db.sent()) {
    sizes.push_back(static_cast<int>(batch.size()));
    requests += static_cast<int>(batch.size());
  }
  std::sort(sizes.begin(), sizes.end());
  EXPECT_THAT(sizes, ElementsAre(1, 1, 14, 16, 16, 16));
  EXPECT_EQ(requests, kCallers);
  EXPECT_EQ(db.most_running(), 2);
}

TEST(GroupCommitTest, AWrongResultCountBecomesAnErrorForEveryone) {
  Doubler commit({}, [](const std::vector<const int*>&, absl::Time) {
    return std::vector<absl::StatusOr<int>>{};
  });
  EXPECT_EQ(commit.Call(1, kNever).status().code(),
            absl::StatusCode::kInternal);
}

// The batch runs under the latest deadline of its members: a caller with no
// hurry gets its answer although it shared the batch with one whose
// deadline passed while the database worked. The impatient one is told the
// outcome is unknown, at its own deadline.
TEST(GroupCommitTest, AShortDeadlineInTheBatchDoesNotCutTheOthersShort) {
  GatedDatabase db;
  Doubler commit({.max_batch = 8, .max_in_flight = 1}, db.Run());
  Caller first(commit, db, 1, kNever);
  ASSERT_TRUE(db.WaitSent(1));
  // Joins first, so it would lead the next batch.
  const absl::Time short_deadline =
      absl::Now() + TimeBudget(absl::Milliseconds(500));
  Caller impatient(commit, db, 2, short_deadline);
  ASSERT_TRUE(WaitForCallers(commit, 2));
  Caller patient(commit, db, 3, kNever);
  ASSERT_TRUE(WaitForCallers(commit, 3));
  db.Open();  // the first batch ends; the next one is sent
  ASSERT_TRUE(db.WaitSent(2));
  ASSERT_THAT(db.sent()[1], ElementsAre(2, 3))
      << "the impatient caller's deadline passed before its batch was sent";

  absl::StatusOr<int> r = impatient.Result();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("may or may not"));
  EXPECT_GE(absl::Now(), short_deadline);
  db.Open();
  EXPECT_EQ(*first.Result(), 2);
  absl::StatusOr<int> p = patient.Result();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, 6);
  EXPECT_EQ(db.deadlines()[1], kNever);
}

// A caller whose deadline passes while its batch still waits for the
// database leaves the batch: it is told nothing was written, and its
// request is not sent; the others in the batch are not affected.
TEST(GroupCommitTest, ACallerThatLeadsAWaitingBatchLeavesItAlone) {
  GatedDatabase db;
  Doubler commit({.max_batch = 8, .max_in_flight = 1}, db.Run());
  Caller first(commit, db, 1, kNever);
  ASSERT_TRUE(db.WaitSent(1));
  const absl::Time start = absl::Now();
  Caller impatient(commit, db, 2, start + absl::Milliseconds(200));
  ASSERT_TRUE(WaitForCallers(commit, 2));
  Caller patient(commit, db, 3, kNever);
  ASSERT_TRUE(WaitForCallers(commit, 3));

  absl::StatusOr<int> r = impatient.Result();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("nothing was written"));
  EXPECT_LT(absl::Now() - start, TimeBudget(absl::Seconds(2)));
  db.OpenAll();
  EXPECT_EQ(*first.Result(), 2);
  absl::StatusOr<int> p = patient.Result();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, 6);
  EXPECT_THAT(db.sent(), ElementsAre(ElementsAre(1), ElementsAre(3)));
}

TEST(GroupCommitTest, ACallerThatJoinedAWaitingBatchLeavesItAlone) {
  GatedDatabase db;
  Doubler commit({.max_batch = 8, .max_in_flight = 1}, db.Run());
  Caller first(commit, db, 1, kNever);
  ASSERT_TRUE(db.WaitSent(1));
  Caller patient(commit, db, 3, kNever);
  ASSERT_TRUE(WaitForCallers(commit, 2));
  const absl::Time start = absl::Now();
  Caller impatient(commit, db, 2, start + absl::Milliseconds(200));

  absl::StatusOr<int> r = impatient.Result();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("nothing was written"));
  EXPECT_LT(absl::Now() - start, TimeBudget(absl::Seconds(2)));
  db.OpenAll();
  EXPECT_EQ(*first.Result(), 2);
  EXPECT_EQ(*patient.Result(), 6);
  EXPECT_THAT(db.sent(), ElementsAre(ElementsAre(1), ElementsAre(3)));
}

// A batch everyone left is never sent, and does not keep a slot.
TEST(GroupCommitTest, ABatchEveryoneLeftIsNotSent) {
  GatedDatabase db;
  Doubler commit({.max_batch = 8, .max_in_flight = 1}, db.Run());
  Caller first(commit, db, 1, kNever);
  ASSERT_TRUE(db.WaitSent(1));
  const absl::Time deadline = absl::Now() + absl::Milliseconds(200);
  Caller a(commit, db, 2, deadline);
  Caller b(commit, db, 3, deadline);
  EXPECT_EQ(a.Result().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(b.Result().status().code(), absl::StatusCode::kDeadlineExceeded);
  db.OpenAll();
  EXPECT_EQ(*first.Result(), 2);
  EXPECT_EQ(*commit.Call(4, kNever), 8);
  EXPECT_THAT(db.sent(), ElementsAre(ElementsAre(1), ElementsAre(4)));
  EXPECT_EQ(commit.callers(), 0);
}

// A batch sent to a database that does not answer: its callers return by
// their own deadlines; the batch itself ends at its latest one.
TEST(GroupCommitTest, EveryCallerReturnsByItsDeadlineWhileABatchHangs) {
  GatedDatabase db;
  Doubler commit({.max_batch = 8, .max_in_flight = 1}, db.Run());
  const absl::Time start = absl::Now();
  const absl::Time later = start + TimeBudget(absl::Milliseconds(500));
  Caller runner(commit, db, 1, later);
  ASSERT_TRUE(db.WaitSent(1));
  absl::StatusOr<int> r = commit.Call(2, start + absl::Milliseconds(200));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("nothing was written"));
  EXPECT_LT(absl::Now() - start, TimeBudget(absl::Milliseconds(800)));
  absl::StatusOr<int> hung = runner.Result();
  EXPECT_EQ(hung.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now(), later);
  EXPECT_LT(absl::Now() - later, TimeBudget(absl::Seconds(1)));
  EXPECT_THAT(db.sent(), ElementsAre(ElementsAre(1)));
}

}  // namespace
}  // namespace jobqueue
