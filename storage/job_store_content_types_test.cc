// Claims filtered by content type, for every store (see job_store_suite.h):
// a claim naming content types takes only jobs of those types. In
// conversation order a conversation's head decides: one whose head is of
// another type gives the claim nothing, never a later job of it. Unordered
// jobs, and claims that ignore order, are filtered job by job.

#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// `job` (a JobStoreSuite::AJob) of `content_type`, in `queue`.
Job EnqueueOf(JobStore& store, NewJob job, const std::string& content_type,
              const std::string& queue = "default", bool ordered = true,
              int priority = 0) {
  job.content_type = content_type;
  job.queue = queue;
  job.ordered = ordered;
  job.priority = priority;
  absl::StatusOr<EnqueueResult> r = store.Enqueue(job, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->job : Job();
}

// `request` as worker "w".
std::vector<Job> ClaimBy(JobStore& store, ClaimRequest request) {
  request.worker_id = "w";
  absl::StatusOr<std::vector<Job>> r = store.ClaimJobs(request, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<Job>();
}

TEST_P(JobStoreSuite, AContentTypeClaimTakesOnlyThoseTypes) {
  const Job text = EnqueueOf(*store_, AJob("c1"), "text", "a", true, 9);
  const Job audio_low = EnqueueOf(*store_, AJob("c2"), "audio", "a", true, 0);
  const Job audio_high = EnqueueOf(*store_, AJob("c3"), "audio", "b", true, 5);
  const Job image = EnqueueOf(*store_, AJob("c4"), "image", "b", true, 9);
  EXPECT_EQ(Get(audio_low.id).content_type, "audio");
  const ClaimRequest one{
      .queues = {"a", "b"}, .max_jobs = 1, .content_types = {"audio"}};
  const std::vector<Job> first = ClaimBy(*store_, one);
  ASSERT_THAT(Ids(first), ElementsAre(audio_high.id));
  EXPECT_EQ(first[0].content_type, "audio");
  EXPECT_THAT(Ids(ClaimBy(*store_, one)), ElementsAre(audio_low.id));
  EXPECT_THAT(Ids(ClaimBy(*store_, one)), IsEmpty());
  EXPECT_THAT(Ids(ClaimBy(*store_, {.queues = {"a", "b"},
                                    .max_jobs = 10,
                                    .content_types = {"image", "video"}})),
              ElementsAre(image.id));
  EXPECT_THAT(Ids(ClaimBy(*store_, {.queues = {"a", "b"}, .max_jobs = 10})),
              ElementsAre(text.id));
}

TEST_P(JobStoreSuite, AFilteredClaimNeverSkipsItsConversationsHead) {
  const Job head = EnqueueOf(*store_, AJob("c"), "text");
  const Job voice = EnqueueOf(*store_, AJob("c"), "audio");
  const ClaimRequest audio{.max_jobs = 10, .content_types = {"audio"}};
  EXPECT_THAT(Ids(ClaimBy(*store_, audio)), IsEmpty()) << "the head is text";
  const std::vector<Job> leased =
      ClaimBy(*store_, {.max_jobs = 10, .content_types = {"text"}});
  ASSERT_THAT(Ids(leased), ElementsAre(head.id));
  EXPECT_THAT(Ids(ClaimBy(*store_, audio)), IsEmpty())
      << "the head is processing";
  ASSERT_TRUE(
      store_->CompleteJob(head.id, leased[0].lease_token, Deadline()).ok());
  EXPECT_THAT(Ids(ClaimBy(*store_, audio)), ElementsAre(voice.id));
}

TEST_P(JobStoreSuite, AnUnorderedJobIsFilteredByItsOwnType) {
  const Job head = EnqueueOf(*store_, AJob("c"), "text");
  const Job voice = EnqueueOf(*store_, AJob("c"), "audio", "default", false);
  const Job note = EnqueueOf(*store_, AJob("c"), "text", "default", false);
  EXPECT_THAT(Ids(ClaimBy(*store_, {.max_jobs = 10,
                                    .content_types = {"audio", "image"}})),
              ElementsAre(voice.id));
  EXPECT_THAT(Ids(ClaimBy(*store_, {.max_jobs = 10})),
              UnorderedElementsAre(head.id, note.id));
}

TEST_P(JobStoreSuite, AContentTypeFilterCombinesWithSourceType) {
  NewJob group = AJob("g");
  group.source_type = "group";
  const Job group_audio = EnqueueOf(*store_, group, "audio");
  group.source_channel_id = "g2";
  const Job group_text = EnqueueOf(*store_, group, "text");
  const Job dm_audio = EnqueueOf(*store_, AJob("d"), "audio");
  EXPECT_THAT(Ids(ClaimBy(*store_, {.max_jobs = 10,
                                    .source_type = "group",
                                    .content_types = {"audio"}})),
              ElementsAre(group_audio.id));
  EXPECT_THAT(Ids(ClaimBy(*store_, {.max_jobs = 10,
                                    .source_type = "dm",
                                    .content_types = {"text"}})),
              IsEmpty());
  EXPECT_THAT(Ids(ClaimBy(*store_, {.max_jobs = 10})),
              UnorderedElementsAre(group_text.id, dm_audio.id));
}

TEST_P(JobStoreSuite, IgnoringOrderTheContentTypeFilterIsPerJob) {
  const Job head = EnqueueOf(*store_, AJob("c"), "text");
  const Job voice1 = EnqueueOf(*store_, AJob("c"), "audio");
  const Job voice2 = EnqueueOf(*store_, AJob("c"), "audio", "default", true, 3);
  const Job photo = EnqueueOf(*store_, AJob("c"), "image");
  const ClaimRequest audio{.max_jobs = 1,
                           .content_types = {"audio"},
                           .ignore_conversation_order = true};
  EXPECT_THAT(Ids(ClaimBy(*store_, audio)), ElementsAre(voice2.id))
      << "priority 3 first";
  EXPECT_THAT(Ids(ClaimBy(*store_, audio)), ElementsAre(voice1.id));
  EXPECT_THAT(Ids(ClaimBy(*store_, audio)), IsEmpty());
  EXPECT_EQ(Get(head.id).status, JobStatus::kPending);
  EXPECT_EQ(Get(photo.id).status, JobStatus::kPending);
}

}  // namespace
}  // namespace jobqueue
