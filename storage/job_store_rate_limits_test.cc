// Rate limits per queue, for every store (see job_store_suite.h): the burst
// at once, then the rate; concurrent claimers together within it; the other
// queues of a claim not held back; settings, refunds and the next token.
//
// Times are bounded from the test's own clock around each call: the tokens
// a claim finds are at most burst + rate * (time since the limit was set),
// and at least rate * (time since the last claim's answer), whatever the
// machine's speed.

#include <cmath>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// `count` unordered jobs (or ordered, each its own conversation) in `queue`
// at `priority`.
void Fill(JobStore& store, const std::string& queue, int count,
          bool ordered = false, int priority = 0) {
  for (int i = 0; i < count; ++i) {
    NewJob job{.user_phone = "+15551234567",
               .source_channel_id = absl::StrCat(queue, "-", i),
               .source_type = "dm",
               .payload_json = "{}",
               .content_type = "text"};
    job.queue = queue;
    job.ordered = ordered;
    job.priority = priority;
    absl::StatusOr<EnqueueResult> r = store.Enqueue(job, Deadline());
    ASSERT_TRUE(r.ok()) << r.status();
  }
}

enum class Mode { kInOrder, kByKind, kAnyOrder };

// Claims up to `max` jobs of `queues` the way `mode` names (each of the
// three claim statements); returns how many of each queue.
std::map<std::string, int> ClaimCount(JobStore& store,
                                      std::vector<std::string> queues, int max,
                                      Mode mode = Mode::kInOrder) {
  ClaimRequest request{.worker_id = "w", .queues = std::move(queues)};
  request.max_jobs = max;
  if (mode == Mode::kByKind) request.source_type = "dm";
  if (mode == Mode::kAnyOrder) request.ignore_conversation_order = true;
  absl::StatusOr<std::vector<Job>> r = store.ClaimJobs(request, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  std::map<std::string, int> counts;
  if (r.ok()) {
    for (const Job& job : *r) ++counts[job.queue];
  }
  return counts;
}

QueueSettings Limit(JobStore& store, const std::string& queue, double rate,
                    int burst) {
  absl::StatusOr<QueueSettings> r = store.SetQueueRateLimit(
      queue, RateLimit{.jobs_per_second = rate, .burst = burst}, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : QueueSettings();
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

TEST_P(JobStoreSuite, TheBurstIsClaimableAtOnceThenTheRate) {
  for (Mode mode : {Mode::kInOrder, Mode::kByKind, Mode::kAnyOrder}) {
    const std::string q = absl::StrCat("limited", static_cast<int>(mode));
    Fill(*store_, q, 20, /*ordered=*/mode != Mode::kAnyOrder);
    const absl::Time set = absl::Now();
    Limit(*store_, q, 4, 5);
    EXPECT_EQ(ClaimCount(*store_, {q}, 10, mode)[q], 5) << "the whole burst";
    // Right after: only what flowed in since, at 4 a second.
    const int again = ClaimCount(*store_, {q}, 10, mode)[q];
    EXPECT_LE(again, std::floor(4 * Seconds(absl::Now() - set)));
    absl::SleepFor(absl::Seconds(1));
    // A second later at least 4 tokens, and never more than the burst.
    const int later = ClaimCount(*store_, {q}, 10, mode)[q];
    EXPECT_GE(later, 4);
    EXPECT_LE(later, 5);
    EXPECT_LE(5 + again + later, 5 + 4 * Seconds(absl::Now() - set));
  }
}

TEST_P(JobStoreSuite, ALimitSpansPriorityLevels) {
  Fill(*store_, "limited", 5, /*ordered=*/false, /*priority=*/7);
  Fill(*store_, "limited", 5, /*ordered=*/true, /*priority=*/3);
  Fill(*store_, "limited", 5, /*ordered=*/false, /*priority=*/1);
  Limit(*store_, "limited", 0.01, 8);
  EXPECT_EQ(ClaimCount(*store_, {"limited"}, 20)["limited"], 8);
  EXPECT_THAT(ClaimCount(*store_, {"limited"}, 20), IsEmpty());
}

TEST_P(JobStoreSuite, AnUnlimitedQueueBesideALimitedOneIsNotCapped) {
  Fill(*store_, "limited", 20);
  Fill(*store_, "free", 30, /*ordered=*/true);
  Limit(*store_, "limited", 0.01, 3);
  std::map<std::string, int> first =
      ClaimCount(*store_, {"limited", "free"}, 10);
  EXPECT_EQ(first["limited"], 3);
  EXPECT_EQ(first["free"], 7) << "the cap leaves room to the other queue";
  std::map<std::string, int> second =
      ClaimCount(*store_, {"free", "limited"}, 10, Mode::kAnyOrder);
  EXPECT_EQ(second["limited"], 0);
  EXPECT_EQ(second["free"], 10);
  EXPECT_EQ(ClaimCount(*store_, {"free"}, 20)["free"], 13);
}

TEST_P(JobStoreSuite, ConcurrentClaimersTogetherKeepTheRate) {
  Fill(*store_, "limited", 200);
  const absl::Time set = absl::Now();
  Limit(*store_, "limited", 20, 5);
  absl::Mutex mu;
  std::set<std::string> ids;
  int claims = 0;
  // Each claimer claims every 5 ms for 1.5 s: the window is time, not a
  // count a fast store would use up early (the fake, 2,000 claims in a
  // fraction of a second, saw too few tokens accrue for the lower bound).
  auto claimer = [&] {
    const absl::Time end = absl::Now() + absl::Milliseconds(1500);
    for (int i = 0; i < 2000 && absl::Now() < end; ++i) {
      if (i > 0) absl::SleepFor(absl::Milliseconds(5));
      absl::StatusOr<std::vector<Job>> r = store_->ClaimJobs(
          {.worker_id = "w", .queues = {"limited"}, .max_jobs = 3}, Deadline());
      ASSERT_TRUE(r.ok()) << r.status();
      absl::MutexLock lock(&mu);
      ++claims;
      for (const Job& job : *r) EXPECT_TRUE(ids.insert(job.id).second);
    }
  };
  std::thread a(claimer), b(claimer);
  a.join();
  b.join();
  const double elapsed = Seconds(absl::Now() - set);
  EXPECT_LE(ids.size(), 5 + 20 * elapsed) << claims << " claims";
  EXPECT_GE(ids.size(), 5u + 10u) << "over 1.5 s at 20 a second";
}

TEST_P(JobStoreSuite, AQueueWithoutSettingsHasNoLimit) {
  absl::StatusOr<QueueSettings> q = store_->GetQueue("never-set", Deadline());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->name, "never-set");
  EXPECT_FALSE(q->rate_limit.has_value());
  EXPECT_EQ(store_->NextTokenIn({"never-set"}, Deadline())->next,
            absl::InfiniteDuration());
}

TEST_P(JobStoreSuite, SettingsAreKeptAndANewBurstCapsTheTokens) {
  Fill(*store_, "limited", 20);
  QueueSettings set = Limit(*store_, "limited", 0.01, 10);
  EXPECT_EQ(set.name, "limited");
  ASSERT_TRUE(set.rate_limit.has_value());
  EXPECT_EQ(set.rate_limit->jobs_per_second, 0.01);
  EXPECT_EQ(set.rate_limit->burst, 10);
  EXPECT_EQ(ClaimCount(*store_, {"limited"}, 3)["limited"], 3);  // 7 left
  Limit(*store_, "limited", 0.02, 2);
  absl::StatusOr<QueueSettings> got = store_->GetQueue("limited", Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->rate_limit.has_value());
  EXPECT_EQ(got->rate_limit->jobs_per_second, 0.02);
  EXPECT_EQ(got->rate_limit->burst, 2);
  EXPECT_EQ(ClaimCount(*store_, {"limited"}, 10)["limited"], 2);
  Limit(*store_, "limited", 0.02, 6);  // a bigger burst adds no tokens
  EXPECT_THAT(ClaimCount(*store_, {"limited"}, 10), IsEmpty());

  absl::StatusOr<QueueSettings> removed =
      store_->SetQueueRateLimit("limited", std::nullopt, Deadline());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(removed->rate_limit.has_value());
  EXPECT_FALSE(store_->GetQueue("limited", Deadline())->rate_limit);
  EXPECT_EQ(ClaimCount(*store_, {"limited"}, 20)["limited"], 15);
}

TEST_P(JobStoreSuite, AReleasedJobGivesItsTokenBack) {
  Fill(*store_, "limited", 10);
  Limit(*store_, "limited", 0.01, 3);
  absl::StatusOr<std::vector<Job>> claimed = store_->ClaimJobs(
      {.worker_id = "w", .queues = {"limited"}, .max_jobs = 10}, Deadline());
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  ASSERT_EQ(claimed->size(), 3u);
  ASSERT_TRUE(store_
                  ->ReleaseJobs({{(*claimed)[0].id, (*claimed)[0].lease_token},
                                 {(*claimed)[1].id, (*claimed)[1].lease_token}},
                                Deadline())
                  .ok());
  EXPECT_EQ(ClaimCount(*store_, {"limited"}, 10)["limited"], 2);
}

TEST_P(JobStoreSuite, TheNextTokenIsDueAtTheRate) {
  Fill(*store_, "limited", 10);
  Limit(*store_, "limited", 4, 2);
  EXPECT_EQ(store_->NextTokenIn({"limited"}, Deadline())->next,
            absl::InfiniteDuration())
      << "a whole token is there";
  EXPECT_EQ(ClaimCount(*store_, {"limited"}, 10)["limited"], 2);
  absl::StatusOr<TokenWait> next =
      store_->NextTokenIn({"free", "limited"}, Deadline());
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(next->next, absl::ZeroDuration());
  EXPECT_LE(next->next, absl::Milliseconds(250));
  EXPECT_EQ(next->interval, absl::Milliseconds(250));
  EXPECT_FALSE(next->every_queue) << "free has no limit";
  EXPECT_TRUE(store_->NextTokenIn({"limited"}, Deadline())->every_queue);
}

TEST_P(JobStoreSuite, ALimitOutOfRangeIsRefusedAndChangesNothing) {
  const RateLimit bad[] = {
      {.jobs_per_second = 0, .burst = 1},
      {.jobs_per_second = -1, .burst = 1},
      {.jobs_per_second = std::nan(""), .burst = 1},
      {.jobs_per_second = INFINITY, .burst = 1},
      {.jobs_per_second = 100001, .burst = 1},
      {.jobs_per_second = 1, .burst = 0},
      {.jobs_per_second = 1, .burst = 100001},
  };
  for (const RateLimit& limit : bad) {
    absl::StatusOr<QueueSettings> r =
        store_->SetQueueRateLimit("q", limit, Deadline());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << limit.jobs_per_second << " " << limit.burst;
  }
  EXPECT_EQ(store_->SetQueueRateLimit("no spaces", RateLimit{1, 1}, Deadline())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(store_->GetQueue("q", Deadline())->rate_limit);
}

}  // namespace
}  // namespace jobqueue
