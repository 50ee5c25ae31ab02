// RetryJobs and CancelJobs, for every store (see job_store_suite.h): each
// call stops at its bound and says whether more match, so the next call
// goes on; jobs outside the filter are left alone; retried jobs run in
// their conversation's order, behind the jobs that came meanwhile; a
// processing job is asked to stop and its worker hears it; a request that
// would act on every job without saying so is refused; a dry run changes
// nothing. PostgreSQL only: a job another session holds is skipped at
// once, reported by `more`, and taken by a later call.

#include <map>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// Fails, for good, every job claims hand out until none is left (at most
// 100 claims of 10): a conversation's jobs fail one after the other.
void FailEverything(JobStore& store) {
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::vector<Job>> claimed =
        store.ClaimJobs({.worker_id = "w", .max_jobs = 10}, Deadline());
    ASSERT_TRUE(claimed.ok()) << claimed.status();
    if (claimed->empty()) return;
    for (const Job& job : *claimed) {
      ASSERT_TRUE(
          store.FailJob(job.id, job.lease_token, "boom", false, Deadline())
              .ok());
    }
  }
}

// The jobs of the suite's user (all of them, unless a test says).
BulkJobs OfUser(int limit = 100) {
  BulkJobs jobs{.limit = limit};
  jobs.filter.user_id = "+15551234567";  // JobStoreSuite::kPhone
  return jobs;
}

RetryJobsResult Retry(JobStore& store, const BulkJobs& jobs) {
  absl::StatusOr<RetryJobsResult> r = store.RetryJobs(jobs, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : RetryJobsResult{.retried = -1};
}

CancelJobsResult Cancel(JobStore& store, const BulkJobs& jobs) {
  absl::StatusOr<CancelJobsResult> r = store.CancelJobs(jobs, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CancelJobsResult{.cancelled = -1};
}

// "retried more" or "cancelled requested more", for one-line expectations.
std::string Said(const RetryJobsResult& r) {
  return absl::StrCat(r.retried, r.more ? " more" : "");
}
std::string Said(const CancelJobsResult& r) {
  return absl::StrCat(r.cancelled, " ", r.cancel_requested,
                      r.more ? " more" : "");
}

TEST_P(JobStoreSuite, RetryJobsStopsAtItsBoundAndTheNextCallGoesOn) {
  std::vector<Job> jobs;
  for (const char* channel : {"a", "b", "c", "d", "e"}) {
    jobs.push_back(Enqueue(channel));
  }
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  EXPECT_EQ(Said(Retry(*store_, OfUser(2))), "2 more");
  // The oldest first.
  EXPECT_EQ(Get(jobs[0].id).status, JobStatus::kPending);
  EXPECT_EQ(Get(jobs[1].id).status, JobStatus::kPending);
  EXPECT_EQ(Get(jobs[2].id).status, JobStatus::kFailed);
  EXPECT_EQ(Said(Retry(*store_, OfUser(2))), "2 more");
  EXPECT_EQ(Said(Retry(*store_, OfUser(2))), "1");
  EXPECT_EQ(Said(Retry(*store_, OfUser(2))), "0");
  for (const Job& job : jobs) {
    const Job now = Get(job.id);
    EXPECT_EQ(now.status, JobStatus::kPending);
    EXPECT_EQ(now.attempts, 0);
  }
}

TEST_P(JobStoreSuite, RetryJobsLeavesJobsOutsideItsFilterAlone) {
  const Job in1 = Enqueue("in");
  const Job out = Enqueue("out");
  NewJob stranger = AJob("in");
  stranger.user_phone = "+15559876543";
  absl::StatusOr<EnqueueResult> other = store_->Enqueue(stranger, Deadline());
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  const Job in2 = Enqueue("in");
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  const Job late = Enqueue("in");  // failed, created at the bound
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  const Job pending = Enqueue("in");
  BulkJobs jobs = OfUser();
  jobs.filter.source_channel_id = "in";
  jobs.filter.created_before = late.created_at;
  EXPECT_EQ(Said(Retry(*store_, jobs)), "2");
  EXPECT_EQ(Get(in1.id).status, JobStatus::kPending);
  EXPECT_EQ(Get(in2.id).status, JobStatus::kPending);
  EXPECT_EQ(Get(late.id).status, JobStatus::kFailed);
  EXPECT_EQ(Get(out.id).status, JobStatus::kFailed);
  EXPECT_EQ(Get(other->job.id).status, JobStatus::kFailed);
  const Job untouched = Get(pending.id);
  EXPECT_EQ(untouched.status, JobStatus::kPending);
  EXPECT_EQ(untouched.updated_at, pending.updated_at);
}

TEST_P(JobStoreSuite, RetriedJobsRunInTheirConversationsOrder) {
  std::vector<std::string> a, b;
  for (int i = 0; i < 6; ++i) a.push_back(Enqueue("a").id);
  for (int i = 0; i < 3; ++i) b.push_back(Enqueue("b").id);
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  const Job meanwhile = Enqueue("a");
  // Four at a time, so each call retries several jobs of one conversation
  // and conversation a is split across two calls.
  BulkJobs jobs{.all = true, .limit = 4};
  int calls = 0;
  for (RetryJobsResult r{.more = true}; r.more && calls < 5; ++calls) {
    r = Retry(*store_, jobs);
  }
  EXPECT_EQ(calls, 3);
  std::vector<std::string> a_then = {meanwhile.id};
  a_then.insert(a_then.end(), a.begin(), a.end());
  std::map<std::string, std::vector<std::string>> handed_out =
      RunAllByConversation(20);
  EXPECT_THAT(handed_out["a"], ElementsAreArray(a_then));
  EXPECT_THAT(handed_out["b"], ElementsAreArray(b));
}

// One EnqueueJobs call creates its jobs at one time: its order decides.
TEST_P(JobStoreSuite, RetriedJobsOfOneBatchRunInTheBatchsOrder) {
  std::vector<NewJob> batch(8, AJob("a"));
  absl::StatusOr<std::vector<absl::StatusOr<EnqueueResult>>> enqueued =
      store_->EnqueueJobs(batch, Deadline());
  ASSERT_TRUE(enqueued.ok()) << enqueued.status();
  std::vector<std::string> ids;
  for (const absl::StatusOr<EnqueueResult>& r : *enqueued) {
    ASSERT_TRUE(r.ok()) << r.status();
    ids.push_back(r->job.id);
  }
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  BulkJobs jobs{.all = true, .limit = 3};
  EXPECT_EQ(Said(Retry(*store_, jobs)), "3 more");
  EXPECT_EQ(Said(Retry(*store_, jobs)), "3 more");
  EXPECT_EQ(Said(Retry(*store_, jobs)), "2");
  EXPECT_THAT(RunAllByConversation(20)["a"], ElementsAreArray(ids));
}

TEST_P(JobStoreSuite, CancelJobsCancelsAtOnceOrAsksTheWorkerToStop) {
  const Job processing = Enqueue("p");
  const Job leased = ClaimOne();
  ASSERT_EQ(leased.id, processing.id);
  const Job failed = Enqueue("f");
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  const Job pending = Enqueue("q");
  NewJob later = AJob("s");
  later.delay = absl::Hours(1);
  absl::StatusOr<EnqueueResult> scheduled = store_->Enqueue(later, Deadline());
  ASSERT_TRUE(scheduled.ok()) << scheduled.status();

  EXPECT_EQ(Said(Cancel(*store_, OfUser())), "2 1");
  EXPECT_EQ(Get(pending.id).status, JobStatus::kCancelled);
  EXPECT_EQ(Get(scheduled->job.id).status, JobStatus::kCancelled);
  EXPECT_EQ(Get(failed.id).status, JobStatus::kFailed);
  const Job asked = Get(processing.id);
  EXPECT_EQ(asked.status, JobStatus::kProcessing);
  EXPECT_NE(asked.cancel_requested_at, absl::InfinitePast());
  // Asked once: not matched again.
  EXPECT_EQ(Said(Cancel(*store_, OfUser())), "0 0");

  absl::StatusOr<Job> heartbeat = store_->ExtendLease(
      leased.id, leased.lease_token, absl::Seconds(30), Deadline());
  EXPECT_EQ(heartbeat.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(heartbeat.status().message(), HasSubstr("cancelled"));
  EXPECT_EQ(Get(processing.id).status, JobStatus::kCancelled);
}

TEST_P(JobStoreSuite, CancelJobsStopsAtItsBoundAndKeepsToItsStatus) {
  const Job processing = Enqueue("p");
  ASSERT_EQ(ClaimOne().id, processing.id);
  std::vector<Job> pending;
  for (const char* channel : {"a", "b", "c"}) {
    pending.push_back(Enqueue(channel));
  }
  BulkJobs jobs = {.limit = 2};
  jobs.filter.status = JobStatus::kPending;
  EXPECT_EQ(Said(Cancel(*store_, jobs)), "2 0 more");
  EXPECT_EQ(Get(pending[0].id).status, JobStatus::kCancelled);
  EXPECT_EQ(Get(pending[2].id).status, JobStatus::kPending);
  EXPECT_EQ(Said(Cancel(*store_, jobs)), "1 0");
  EXPECT_EQ(Get(pending[2].id).status, JobStatus::kCancelled);
  const Job still = Get(processing.id);
  EXPECT_EQ(still.status, JobStatus::kProcessing);
  EXPECT_EQ(still.cancel_requested_at, absl::InfinitePast());
}

TEST_P(JobStoreSuite, ADryRunCountsAndChangesNothing) {
  std::vector<Job> failed;
  for (const char* channel : {"a", "b", "c"})
    failed.push_back(Enqueue(channel));
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  const Job processing = Enqueue("p");
  ASSERT_EQ(ClaimOne().id, processing.id);
  const Job pending = Enqueue("q");

  BulkJobs jobs = OfUser(2);
  jobs.dry_run = true;
  EXPECT_EQ(Said(Retry(*store_, jobs)), "2 more");
  EXPECT_EQ(Said(Cancel(*store_, jobs)), "1 1");
  for (const Job& job : failed) {
    EXPECT_EQ(Get(job.id).status, JobStatus::kFailed);
  }
  EXPECT_EQ(Get(pending.id).status, JobStatus::kPending);
  EXPECT_EQ(Get(processing.id).cancel_requested_at, absl::InfinitePast());
  // What the dry run counted is what the call then does.
  jobs.dry_run = false;
  EXPECT_EQ(Said(Cancel(*store_, jobs)), "1 1");
}

TEST_P(JobStoreSuite, ABulkActionOnEveryJobMustBeAskedFor) {
  const Job job = Enqueue("a");
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  const Job pending = Enqueue("b");
  struct Case {
    BulkJobs jobs;
    const char* says;
  };
  BulkJobs both = OfUser();
  both.all = true;
  BulkJobs only_failed;  // the status narrows nothing a retry takes
  only_failed.filter.status = JobStatus::kFailed;
  const Case cases[] = {
      {BulkJobs{}, "set a filter, or all=true"},
      {only_failed, "set a filter, or all=true"},
      {both, "all must be false"},
      {OfUser(0), "limit must be between 1 and 1000"},
      {OfUser(1001), "limit must be between 1 and 1000"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<RetryJobsResult> r = store_->RetryJobs(c.jobs, Deadline());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.says));
  }
  for (int i = 0; i < 4; ++i) {
    if (i == 1) continue;  // a status is a filter for CancelJobs
    absl::StatusOr<CancelJobsResult> r =
        store_->CancelJobs(cases[i].jobs, Deadline());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(cases[i].says));
  }
  BulkJobs pending_only = OfUser();
  pending_only.filter.status = JobStatus::kPending;
  EXPECT_EQ(store_->RetryJobs(pending_only, Deadline()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->CancelJobs(only_failed, Deadline()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Get(job.id).status, JobStatus::kFailed);
  EXPECT_EQ(Get(pending.id).status, JobStatus::kPending);
}

TEST_P(JobStoreSuite, AJobAnotherSessionHoldsIsSkippedAndLeftForLater) {
  if (GetParam() == StoreKind::kFake) GTEST_SKIP() << "no row locks";
  const Job held = Enqueue("a");
  const Job free = Enqueue("b");
  ASSERT_NO_FATAL_FAILURE(FailEverything(*store_));
  const Job held_pending = Enqueue("c");
  const Job free_pending = Enqueue("d");
  {
    pqxx::connection c(url());
    pqxx::work operator_txn(c);
    operator_txn.exec("SELECT 1 FROM jobs WHERE id IN ('" + held.id + "', '" +
                      held_pending.id + "') FOR UPDATE");
    // Skipped, not waited for: a wait would end in the lock timeout's error.
    EXPECT_EQ(Said(Cancel(*store_, OfUser())), "1 0 more");
    EXPECT_EQ(Said(Retry(*store_, OfUser())), "1 more");
    EXPECT_EQ(Get(free.id).status, JobStatus::kPending);
    EXPECT_EQ(Get(free_pending.id).status, JobStatus::kCancelled);
    EXPECT_EQ(Get(held.id).status, JobStatus::kFailed);
    EXPECT_EQ(Get(held_pending.id).status, JobStatus::kPending);
    operator_txn.commit();
  }
  EXPECT_EQ(Said(Retry(*store_, OfUser())), "1");
  EXPECT_EQ(Get(held.id).status, JobStatus::kPending);
  BulkJobs channel_c = OfUser();
  channel_c.filter.source_channel_id = "c";
  EXPECT_EQ(Said(Cancel(*store_, channel_c)), "1 0");
  EXPECT_EQ(Get(held_pending.id).status, JobStatus::kCancelled);
}

}  // namespace
}  // namespace jobqueue
