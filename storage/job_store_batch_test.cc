// EnqueueJobs, against both stores: one result per job in order, batch
// order inside a conversation, keys repeated inside the batch, and nothing
// stored when one job breaks a rule.

#include <algorithm>
#include <map>

#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

std::vector<EnqueueResult> Results(
    const absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>>& r) {
  std::vector<EnqueueResult> out;
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return out;
  for (const absl::StatusOr<EnqueueResult>& one : *r) {
    EXPECT_TRUE(one.ok()) << one.status();
    out.push_back(one.ok() ? *one : EnqueueResult());
  }
  return out;
}

TEST_P(JobStoreSuite, EnqueueJobsAnswersEachJobInOrder) {
  std::vector<NewJob> jobs = {AJob("a"), AJob("b"), AJob("a"), AJob("c")};
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].payload_json = absl::StrCat(R"({"n": )", i, "}");
  }
  const std::vector<EnqueueResult> results =
      Results(store_->EnqueueJobs(jobs, Deadline()));
  ASSERT_EQ(results.size(), jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_TRUE(results[i].created);
    EXPECT_EQ(results[i].job.source_channel_id, jobs[i].source_channel_id);
    EXPECT_EQ(results[i].job.payload_json, absl::StrCat(R"({"n": )", i, "}"));
    EXPECT_EQ(Get(results[i].job.id).status, JobStatus::kPending);
  }
}

TEST_P(JobStoreSuite, EnqueueJobsKeepsBatchOrderInAConversation) {
  const Job before = Enqueue("c");
  std::vector<NewJob> jobs(5, AJob("c"));
  jobs.insert(jobs.begin() + 2, AJob("other"));
  const std::vector<EnqueueResult> results =
      Results(store_->EnqueueJobs(jobs, Deadline()));
  ASSERT_EQ(results.size(), 6u);
  std::vector<std::string> expected = {before.id};
  for (const EnqueueResult& r : results) {
    if (r.job.source_channel_id == "c") expected.push_back(r.job.id);
  }
  std::vector<std::string> handed_out;
  for (int i = 0; i < 6; ++i) {
    for (const Job& job : Claim(10)) {
      if (job.source_channel_id != "c") continue;
      handed_out.push_back(job.id);
      ASSERT_TRUE(
          store_->CompleteJob(job.id, job.lease_token, Deadline()).ok());
    }
  }
  EXPECT_EQ(handed_out, expected);
}

// Enough batches that PostgreSQL plans the statement once for any arrays
// (after five runs on a connection): every conversation still gets its jobs
// in arrival order, across batches and inside each.
TEST_P(JobStoreSuite, ManyInterleavedBatchesKeepEveryConversationsOrder) {
  const std::vector<std::string> channels = {"a", "b", "c", "d"};
  std::map<std::string, std::vector<std::string>> expected;
  for (int batch = 0; batch < 24; ++batch) {
    std::vector<NewJob> jobs;
    for (int i = 0; i < 12; ++i)
      jobs.push_back(AJob(channels[(batch + i * 3) % 4]));
    for (const EnqueueResult& r :
         Results(store_->EnqueueJobs(jobs, Deadline()))) {
      expected[r.job.source_channel_id].push_back(r.job.id);
    }
  }
  EXPECT_EQ(RunAllByConversation(24 * 12), expected);
}

TEST_P(JobStoreSuite, EnqueueJobsAnswersARepeatedKeyWithTheFirstJob) {
  const Job earlier = Enqueue("c");
  std::vector<NewJob> jobs = {AJob("a", "k1"), AJob("b", "k2"), AJob("a", "k1"),
                              AJob("a")};
  absl::StatusOr<EnqueueResult> taken =
      store_->Enqueue(AJob("z", "k2"), Deadline());
  ASSERT_TRUE(taken.ok()) << taken.status();
  const std::vector<EnqueueResult> results =
      Results(store_->EnqueueJobs(jobs, Deadline()));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].created);
  EXPECT_FALSE(results[1].created) << "k2 was taken before the batch";
  EXPECT_EQ(results[1].job.id, taken->job.id);
  EXPECT_FALSE(results[2].created) << "k1 repeats the batch's first job";
  EXPECT_EQ(results[2].job.id, results[0].job.id);
  EXPECT_TRUE(results[3].created);
  auto all = store_->ListJobs({}, std::nullopt, 10, Deadline());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->jobs.size(), 4u) << "earlier, k2, k1 and the last job";
  EXPECT_NE(earlier.id, results[3].job.id);
}

TEST_P(JobStoreSuite, EnqueueJobsKeepsEachJobsQueueOrderAndPriority) {
  std::vector<NewJob> jobs = {AJob("c"), AJob("c"), AJob("c"), AJob("c")};
  jobs[1].queue = "media";
  jobs[2].ordered = false;
  jobs[3].priority = 9;
  const std::vector<EnqueueResult> results =
      Results(store_->EnqueueJobs(jobs, Deadline()));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(Get(results[1].job.id).queue, "media");
  EXPECT_FALSE(Get(results[2].job.id).ordered);
  EXPECT_EQ(Get(results[3].job.id).priority, 9);
  // Default queue: the head (jobs[0]) and the unordered job; jobs[3] waits
  // for the head whatever its priority.
  std::vector<std::string> ids = Ids(Claim(10));
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> expected = {results[0].job.id, results[2].job.id};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);
}

TEST_P(JobStoreSuite, EnqueueJobsWithABrokenJobStoresNothing) {
  std::vector<NewJob> jobs = {AJob("a"), AJob("b"), AJob("c")};
  jobs[0].user_first_name = "Ada";
  jobs[2].payload_json = "[1, 2]";
  EXPECT_EQ(store_->EnqueueJobs(jobs, Deadline()).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto all = store_->ListJobs({}, std::nullopt, 10, Deadline());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->jobs.empty());
  auto user = store_->UpsertUser(kPhone, "", Deadline());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_TRUE(user->created) << "no user was written";
  EXPECT_TRUE(Claim(10).empty());
}

}  // namespace
}  // namespace jobqueue
