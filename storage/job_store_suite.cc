#include "storage/job_store_suite.h"

#include "storage/fake_job_store.h"
#include "storage/pg_job_store.h"

namespace jobqueue {

void JobStoreSuite::SetUp() {
  if (GetParam() == StoreKind::kPg) {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
  }
  Open({.base = absl::Hours(1), .max = absl::Hours(1)});
}

void JobStoreSuite::Open(RetryBackoff backoff) {
  store_.reset();
  if (GetParam() == StoreKind::kPg) {
    store_ = std::make_unique<PgJobStore>(
        PgJobStore::Options{.url = url(), .retry_backoff = backoff});
  } else {
    store_ = std::make_unique<FakeJobStore>(backoff);
  }
}

NewJob JobStoreSuite::AJob(const std::string& channel, const std::string& key) {
  return {.user_phone = kPhone,
          .source_channel_id = channel,
          .source_type = "dm",
          .payload_json = R"({"Body": "hi"})",
          .content_type = "text",
          .idempotency_key = key};
}

Job JobStoreSuite::Enqueue(const std::string& channel, int max_attempts) {
  NewJob job = AJob(channel);
  job.max_attempts = max_attempts;
  absl::StatusOr<EnqueueResult> r = store_->Enqueue(job, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->job : Job();
}

std::vector<Job> JobStoreSuite::Claim(int max_jobs, absl::Duration lease) {
  absl::StatusOr<std::vector<Job>> r = store_->ClaimJobs(
      {.worker_id = "w", .max_jobs = max_jobs, .lease = lease}, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<Job>();
}

Job JobStoreSuite::ClaimOne(absl::Duration lease) {
  std::vector<Job> jobs = Claim(1, lease);
  EXPECT_EQ(jobs.size(), 1u);
  return jobs.empty() ? Job() : jobs[0];
}

Job JobStoreSuite::Get(const std::string& id) {
  absl::StatusOr<Job> r = store_->GetJob(id, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Job();
}

int JobStoreSuite::RecordAgain(const std::string& id) {
  absl::StatusOr<DeadLetter> letter =
      store_->RecordDeadLetter({.source = "jobqueue.jobs",
                                .delivery_id = id,
                                .reason = "again",
                                .raw_payload_json = "{}"},
                               Deadline());
  EXPECT_TRUE(letter.ok()) << letter.status();
  return letter.ok() ? letter->attempts : 0;
}

std::map<std::string, std::vector<std::string>>
JobStoreSuite::RunAllByConversation(int max_claims) {
  std::map<std::string, std::vector<std::string>> handed_out;
  for (int i = 0; i < max_claims; ++i) {
    const std::vector<Job> claimed = Claim(10);
    if (claimed.empty()) break;
    for (const Job& job : claimed) {
      handed_out[job.source_channel_id].push_back(job.id);
      EXPECT_TRUE(
          store_->CompleteJob(job.id, job.lease_token, Deadline()).ok());
    }
  }
  return handed_out;
}

std::vector<std::string> JobStoreSuite::Ids(const std::vector<Job>& jobs) {
  std::vector<std::string> ids;
  for (const Job& job : jobs) ids.push_back(job.id);
  return ids;
}

namespace {

std::string StoreName(const ::testing::TestParamInfo<StoreKind>& info) {
  return info.param == StoreKind::kPg ? "Pg" : "Fake";
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Stores, JobStoreSuite,
                         ::testing::Values(StoreKind::kFake, StoreKind::kPg),
                         StoreName);

}  // namespace jobqueue
