// Named queues, unordered jobs and priorities, for every store (see
// job_store_suite.h): a claim takes only the queues it names, order holds
// per (queue, conversation), an unordered job neither waits nor holds
// others up, and a higher priority goes first without overtaking its
// conversation.

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// `job` (a JobStoreSuite::AJob) in `queue`.
Job EnqueueIn(JobStore& store, const std::string& queue, NewJob job,
              bool ordered = true, int priority = 0) {
  job.queue = queue;
  job.ordered = ordered;
  job.priority = priority;
  absl::StatusOr<EnqueueResult> r = store.Enqueue(job, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->job : Job();
}

std::vector<Job> ClaimFrom(JobStore& store, std::vector<std::string> queues,
                           bool ignore_order = false) {
  absl::StatusOr<std::vector<Job>> r =
      store.ClaimJobs({.worker_id = "w",
                       .queues = std::move(queues),
                       .max_jobs = 10,
                       .ignore_conversation_order = ignore_order},
                      Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<Job>();
}

TEST_P(JobStoreSuite, AClaimTakesOnlyTheQueuesItNames) {
  const Job reply = EnqueueIn(*store_, "replies", AJob("a"));
  const Job media = EnqueueIn(*store_, "media", AJob("b"));
  EXPECT_EQ(Get(reply.id).queue, "replies");
  EXPECT_THAT(Claim(10), IsEmpty()) << "the default queue has no job";
  EXPECT_THAT(Ids(ClaimFrom(*store_, {"replies"}, true)),
              ElementsAre(reply.id));
  EXPECT_THAT(Ids(ClaimFrom(*store_, {"replies"})), IsEmpty());
  const std::vector<Job> claimed = ClaimFrom(*store_, {"other", "media"});
  ASSERT_THAT(Ids(claimed), ElementsAre(media.id));
  EXPECT_EQ(claimed[0].queue, "media");
}

TEST_P(JobStoreSuite, AClaimOfSeveralQueuesTakesFromEach) {
  const Job a = EnqueueIn(*store_, "a", AJob("c1"));
  const Job b = EnqueueIn(*store_, "b", AJob("c2"));
  const Job c = EnqueueIn(*store_, "c", AJob("c3"));
  EXPECT_THAT(Ids(ClaimFrom(*store_, {"a", "b"})),
              UnorderedElementsAre(a.id, b.id));
  EXPECT_THAT(Ids(ClaimFrom(*store_, {"c"}, true)), ElementsAre(c.id));
}

TEST_P(JobStoreSuite, OrderIsKeptPerQueueAndConversation) {
  const Job media1 = EnqueueIn(*store_, "media", AJob("whatsapp:+1555"));
  const Job media2 = EnqueueIn(*store_, "media", AJob("whatsapp:+1555"));
  const Job reply = EnqueueIn(*store_, "replies", AJob("whatsapp:+1555"));
  const std::vector<Job> transcribing = ClaimFrom(*store_, {"media"});
  ASSERT_THAT(Ids(transcribing), ElementsAre(media1.id));
  // The media head is processing: the reply of the same channel runs, the
  // next media job waits.
  EXPECT_THAT(Ids(ClaimFrom(*store_, {"replies", "media"})),
              ElementsAre(reply.id));
  ASSERT_TRUE(
      store_->CompleteJob(media1.id, transcribing[0].lease_token, Deadline())
          .ok());
  EXPECT_THAT(Ids(ClaimFrom(*store_, {"media"})), ElementsAre(media2.id));
}

TEST_P(JobStoreSuite, AnUnorderedJobNeitherWaitsNorHoldsUp) {
  const Job first = Enqueue("c");
  const Job reminder =
      EnqueueIn(*store_, "default", AJob("c"), /*ordered=*/false);
  const Job second = Enqueue("c");
  EXPECT_FALSE(Get(reminder.id).ordered);
  // The head and the unordered job run together; the second waits.
  const std::vector<Job> claimed = Claim(10);
  ASSERT_THAT(Ids(claimed), UnorderedElementsAre(first.id, reminder.id));
  for (const Job& job : claimed) {
    if (job.id != first.id) continue;
    ASSERT_TRUE(store_->CompleteJob(job.id, job.lease_token, Deadline()).ok());
  }
  // The unordered job still runs: the conversation moves on without it.
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(second.id));
  // And one enqueued behind a processing head is claimable at once.
  const Job later = EnqueueIn(*store_, "default", AJob("c"), /*ordered=*/false);
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(later.id));
}

TEST_P(JobStoreSuite, AnUnorderedJobInBackoffWaitsAndOthersDoNot) {
  const Job reminder =
      EnqueueIn(*store_, "default", AJob("c"), /*ordered=*/false);
  const Job leased = ClaimOne();
  ASSERT_EQ(leased.id, reminder.id);
  ASSERT_TRUE(
      store_
          ->FailJob(reminder.id, leased.lease_token, "later", true, Deadline())
          .ok());
  EXPECT_THAT(Claim(10), IsEmpty()) << "due in an hour";
  const Job other = EnqueueIn(*store_, "default", AJob("c"), /*ordered=*/false);
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(other.id));
}

TEST_P(JobStoreSuite, AnUnorderedJobsLapsedLeaseIsRescued) {
  const Job reminder =
      EnqueueIn(*store_, "default", AJob("c"), /*ordered=*/false);
  ASSERT_EQ(Claim(10, absl::Milliseconds(1)).size(), 1u);
  absl::SleepFor(absl::Milliseconds(50));
  auto report = store_->RunMaintenance(absl::ZeroDuration(), 100, Deadline());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rescued, 1);
  EXPECT_EQ(Get(reminder.id).status, JobStatus::kPending);
  EXPECT_EQ(ClaimOne().id, reminder.id);
}

TEST_P(JobStoreSuite, AHigherPriorityIsClaimedFirst) {
  const Job low = EnqueueIn(*store_, "default", AJob("a"), true, 0);
  const Job high = EnqueueIn(*store_, "default", AJob("b"), true, 9);
  const Job mid = EnqueueIn(*store_, "default", AJob("c"), false, 5);
  EXPECT_EQ(Get(high.id).priority, 9);
  EXPECT_EQ(ClaimOne().id, high.id);
  EXPECT_EQ(ClaimOne().id, mid.id);
  EXPECT_EQ(ClaimOne().id, low.id);
}

TEST_P(JobStoreSuite, APriorityNeverOvertakesItsConversation) {
  const Job head = EnqueueIn(*store_, "default", AJob("x"), true, 0);
  const Job urgent = EnqueueIn(*store_, "default", AJob("x"), true, 9);
  const Job other = EnqueueIn(*store_, "default", AJob("y"), true, 5);
  // x is ranked by its head (0): y (5) goes first, then x's head; the
  // urgent job waits for it.
  EXPECT_EQ(ClaimOne().id, other.id);
  const Job leased = ClaimOne();
  ASSERT_EQ(leased.id, head.id);
  EXPECT_THAT(Claim(10), IsEmpty());
  ASSERT_TRUE(
      store_->CompleteJob(head.id, leased.lease_token, Deadline()).ok());
  EXPECT_EQ(ClaimOne().id, urgent.id);
}

TEST_P(JobStoreSuite, IgnoringOrderAHigherPriorityIsClaimedFirst) {
  const Job low = Enqueue("a");
  const Job high = EnqueueIn(*store_, "default", AJob("a"), true, 7);
  auto claim_one = [&] {
    absl::StatusOr<std::vector<Job>> r = store_->ClaimJobs(
        {.worker_id = "w", .max_jobs = 1, .ignore_conversation_order = true},
        Deadline());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->size() == 1 ? (*r)[0].id : std::string();
  };
  EXPECT_EQ(claim_one(), high.id);
  EXPECT_EQ(claim_one(), low.id);
}

TEST_P(JobStoreSuite, APriorityOutsideZeroToNineWritesNothing) {
  for (int priority : {-1, 10}) {
    NewJob job = AJob("c");
    job.priority = priority;
    EXPECT_EQ(store_->Enqueue(job, Deadline()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << priority;
  }
  EXPECT_THAT(Claim(10), IsEmpty());
}

TEST_P(JobStoreSuite, AQueueNameOutsideTheRuleWritesNothing) {
  for (const char* name : {"", "has space", "-lead", "é", "x/y"}) {
    NewJob job = AJob("c");
    job.queue = name;
    EXPECT_EQ(store_->Enqueue(job, Deadline()).status().code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
  auto all = store_->ListJobs({}, std::nullopt, 10, Deadline());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(all->jobs.empty());
}

}  // namespace
}  // namespace jobqueue
