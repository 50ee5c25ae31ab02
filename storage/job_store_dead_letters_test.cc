// Dead letters for operators, for every store (see job_store_suite.h): the
// list is newest first, filtered by source, reason text and time, in keyset
// pages; a delivery's replay enqueues the job `to_job` makes and a failed
// job's re-queues it at the end of its conversation; each replay is
// recorded and answers again without a second job, even when many run at
// once; a refused replay is recorded and may be tried again; a dead letter
// recorded again afterwards may be replayed again.

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;

class DeadLetterSuite : public JobStoreSuite {
 protected:
  DeadLetter Record(const std::string& source, const std::string& delivery_id,
                    const std::string& reason) {
    absl::StatusOr<DeadLetter> r =
        store_->RecordDeadLetter({.source = source,
                                  .delivery_id = delivery_id,
                                  .reason = reason,
                                  .raw_payload_json = R"({"Body": "hello"})"},
                                 Deadline());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : DeadLetter();
  }

  std::vector<std::string> ListIds(const DeadLetterFilter& filter,
                                   int limit = 100) {
    std::vector<std::string> ids;
    std::optional<DeadLetterCursor> after;
    for (int page = 0; page < 20; ++page) {
      absl::StatusOr<DeadLetterPage> r =
          store_->ListDeadLetters(filter, after, limit, Deadline());
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      EXPECT_LE(static_cast<int>(r->dead_letters.size()), limit);
      for (const DeadLetter& d : r->dead_letters) ids.push_back(d.id);
      if (!r->next.has_value()) break;
      after = r->next;
    }
    return ids;
  }

  DeadLetter Listed(const std::string& id) {
    absl::StatusOr<DeadLetterPage> r =
        store_->ListDeadLetters({}, std::nullopt, 100, Deadline());
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      for (const DeadLetter& d : r->dead_letters) {
        if (d.id == id) return d;
      }
    }
    ADD_FAILURE() << "dead letter " << id << " is not listed";
    return DeadLetter();
  }

  // The job of channel "replayed-<delivery id>" with the dead letter's
  // payload and its delivery id as idempotency key.
  static absl::StatusOr<NewJob> ToJob(const DeadLetter& letter) {
    NewJob job = AJob("replayed-" + letter.delivery_id, letter.delivery_id);
    job.payload_json = letter.raw_payload_json;
    return job;
  }

  absl::StatusOr<DeadLetterReplayResult> Replay(
      const std::string& id, const DeadLetterToJob& to_job = ToJob) {
    std::vector<absl::StatusOr<DeadLetterReplayResult>> r =
        store_->ReplayDeadLetters({id}, "ops@example.com", to_job, Deadline());
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? absl::InternalError("no result") : r[0];
  }

  // A job of channel `channel` failed for good: its dead letter.
  DeadLetter FailedJobDeadLetter(const std::string& channel) {
    Enqueue(channel, /*max_attempts=*/1);
    const Job claimed = ClaimOne();
    EXPECT_TRUE(store_
                    ->FailJob(claimed.id, claimed.lease_token, "boom",
                              /*retryable=*/false, Deadline())
                    .ok());
    absl::StatusOr<DeadLetterPage> r = store_->ListDeadLetters(
        {.source = "jobqueue.jobs"}, std::nullopt, 1, Deadline());
    EXPECT_TRUE(r.ok() && r->dead_letters.size() == 1u) << r.status();
    return r.ok() && !r->dead_letters.empty() ? r->dead_letters[0]
                                              : DeadLetter();
  }
};

TEST_P(DeadLetterSuite, ListsNewestFirstFilteredInPages) {
  const DeadLetter a = Record("twilio.messages", "SM1", "From is missing");
  const DeadLetter b =
      Record("twilio.conversations", "IM1", "EventType onConversationAdded");
  const DeadLetter c = Record("twilio.messages", "SM2", "from is not E.164");
  const DeadLetter d = Record("other", "", "payload too large");

  EXPECT_THAT(ListIds({}), ElementsAre(d.id, c.id, b.id, a.id));
  // Pages of one and of three hold the same dead letters in the same order.
  EXPECT_THAT(ListIds({}, 1), ElementsAre(d.id, c.id, b.id, a.id));
  EXPECT_THAT(ListIds({}, 3), ElementsAre(d.id, c.id, b.id, a.id));
  EXPECT_THAT(ListIds({.source = "twilio.messages"}, 1),
              ElementsAre(c.id, a.id));
  EXPECT_THAT(ListIds({.source = "twilio"}), ElementsAre());
  EXPECT_THAT(ListIds({.reason_contains = "FROM"}), ElementsAre(c.id, a.id));
  EXPECT_THAT(ListIds({.source = "twilio.messages", .reason_contains = "e.1"}),
              ElementsAre(c.id));
  // since is inclusive, until exclusive, on last_seen_at.
  EXPECT_THAT(ListIds({.since = b.last_seen_at, .until = d.last_seen_at}),
              ElementsAre(c.id, b.id));

  const DeadLetter listed = Listed(c.id);
  EXPECT_EQ(listed.source, "twilio.messages");
  EXPECT_EQ(listed.delivery_id, "SM2");
  EXPECT_EQ(listed.reason, "from is not E.164");
  EXPECT_EQ(listed.raw_payload_json, R"({"Body": "hello"})");
  EXPECT_EQ(listed.attempts, 1);
  EXPECT_EQ(listed.job_id, "");
  EXPECT_FALSE(listed.replay.has_value());
}

TEST_P(DeadLetterSuite, ADeliveryIsReplayedOnceIntoTheJobToJobMakes) {
  const DeadLetter letter = Record("twilio.messages", "SM7", "From is missing");
  absl::StatusOr<DeadLetterReplayResult> first = Replay(letter.id);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->tried_now);
  EXPECT_EQ(first->replay.requested_by, "ops@example.com");
  EXPECT_EQ(first->replay.error, "");
  EXPECT_EQ(first->replay.tries, 1);
  EXPECT_EQ(first->replay.dead_letter_attempts, 1);
  const Job job = Get(first->replay.job_id);
  EXPECT_EQ(job.status, JobStatus::kPending);
  EXPECT_EQ(job.source_channel_id, "replayed-SM7");
  EXPECT_EQ(job.payload_json, R"({"Body": "hello"})");

  absl::StatusOr<DeadLetterReplayResult> again = Replay(letter.id);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->tried_now);
  EXPECT_EQ(again->replay.job_id, job.id);
  EXPECT_EQ(again->replay.replayed_at, first->replay.replayed_at);
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(job.id));

  const DeadLetter listed = Listed(letter.id);
  ASSERT_TRUE(listed.replay.has_value());
  EXPECT_EQ(listed.replay->job_id, job.id);
  EXPECT_EQ(listed.replay->requested_by, "ops@example.com");
}

TEST_P(DeadLetterSuite, AFailedJobIsRequeuedAtTheEndOfItsConversation) {
  const DeadLetter letter = FailedJobDeadLetter("c");
  ASSERT_FALSE(letter.job_id.empty());
  EXPECT_EQ(letter.reason, "boom");
  const Job later = Enqueue("c");

  absl::StatusOr<DeadLetterReplayResult> r = Replay(letter.id);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->tried_now);
  EXPECT_EQ(r->replay.job_id, letter.job_id);
  const Job requeued = Get(letter.job_id);
  EXPECT_EQ(requeued.status, JobStatus::kPending);
  EXPECT_EQ(requeued.attempts, 0);
  // Behind the job that arrived while it was failed, as RetryJob puts it.
  EXPECT_THAT(RunAllByConversation(10)["c"],
              ElementsAre(later.id, letter.job_id));

  absl::StatusOr<DeadLetterReplayResult> again = Replay(letter.id);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->tried_now);
  EXPECT_EQ(Get(letter.job_id).status, JobStatus::kComplete);
}

TEST_P(DeadLetterSuite, ADeadLetterRecordedAgainCanBeReplayedAgain) {
  const DeadLetter letter = FailedJobDeadLetter("c");
  ASSERT_TRUE(Replay(letter.id).ok());
  const Job claimed = ClaimOne();
  ASSERT_EQ(claimed.id, letter.job_id);
  ASSERT_TRUE(store_
                  ->FailJob(claimed.id, claimed.lease_token, "boom again",
                            /*retryable=*/false, Deadline())
                  .ok());
  EXPECT_EQ(Listed(letter.id).attempts, 2);

  absl::StatusOr<DeadLetterReplayResult> r = Replay(letter.id);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->tried_now);
  EXPECT_EQ(r->replay.dead_letter_attempts, 2);
  EXPECT_EQ(Get(letter.job_id).status, JobStatus::kPending);
}

TEST_P(DeadLetterSuite, ARefusedReplayIsRecordedAndTriedAgain) {
  const DeadLetter letter = Record("custom", "X1", "no mapping");
  const DeadLetterToJob refuse = [](const DeadLetter&) {
    return absl::StatusOr<NewJob>(
        absl::InvalidArgumentError("source custom cannot be replayed"));
  };
  absl::StatusOr<DeadLetterReplayResult> refused = Replay(letter.id, refuse);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_TRUE(refused->tried_now);
  EXPECT_EQ(refused->replay.job_id, "");
  EXPECT_EQ(refused->replay.error, "source custom cannot be replayed");
  EXPECT_EQ(refused->replay.tries, 1);
  ASSERT_TRUE(Listed(letter.id).replay.has_value());
  EXPECT_EQ(Listed(letter.id).replay->error,
            "source custom cannot be replayed");

  absl::StatusOr<DeadLetterReplayResult> done = Replay(letter.id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->tried_now);
  EXPECT_EQ(done->replay.tries, 2);
  EXPECT_EQ(done->replay.error, "");
  EXPECT_EQ(Get(done->replay.job_id).source_channel_id, "replayed-X1");
}

TEST_P(DeadLetterSuite, AJobThatIsNoLongerFailedIsARecordedRefusal) {
  const DeadLetter letter = FailedJobDeadLetter("c");
  ASSERT_TRUE(store_->RetryJob(letter.job_id, Deadline()).ok());
  absl::StatusOr<DeadLetterReplayResult> r = Replay(letter.id);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->replay.job_id, "");
  EXPECT_EQ(r->replay.error, absl::StrCat("job ", letter.job_id,
                                          " is 'pending'; only a failed job "
                                          "is re-queued"));
}

TEST_P(DeadLetterSuite, AnUnknownIdIsNotFoundAndTheOthersGoOn) {
  const DeadLetter letter = Record("twilio.messages", "SM8", "r");
  std::vector<absl::StatusOr<DeadLetterReplayResult>> r =
      store_->ReplayDeadLetters(
          {"7d3f2f0c-2b9e-4a55-9c1e-0123456789ab", letter.id}, "ops", ToJob,
          Deadline());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(r[1].ok()) << r[1].status();
  EXPECT_FALSE(r[1]->replay.job_id.empty());
}

TEST_P(DeadLetterSuite, ConcurrentReplaysOfOneDeadLetterMakeOneJob) {
  const DeadLetter letter = Record("twilio.messages", "SM9", "r");
  // No idempotency key: only the replay's record keeps a second job out.
  const DeadLetterToJob keyless = [](const DeadLetter& d) {
    absl::StatusOr<NewJob> job = ToJob(d);
    job->idempotency_key = "";
    return job;
  };
  constexpr int kCalls = 8;
  std::vector<absl::StatusOr<DeadLetterReplayResult>> results(
      kCalls, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      results[i] = store_->ReplayDeadLetters({letter.id}, absl::StrCat("op", i),
                                             keyless, Deadline())[0];
    });
  }
  for (std::thread& t : threads) t.join();
  std::set<std::string> jobs;
  int tried = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    jobs.insert(r->replay.job_id);
    tried += r->tried_now ? 1 : 0;
  }
  EXPECT_EQ(tried, 1);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_THAT(Ids(Claim(10)), ElementsAre(*jobs.begin()));
}

INSTANTIATE_TEST_SUITE_P(Stores, DeadLetterSuite,
                         ::testing::Values(StoreKind::kFake, StoreKind::kPg),
                         [](const auto& info) {
                           return info.param == StoreKind::kFake ? "Fake"
                                                                 : "Pg";
                         });

}  // namespace
}  // namespace jobqueue
