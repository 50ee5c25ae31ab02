// One suite of JobStore's promises for every store: each case runs once
// against FakeJobStore and once against PgJobStore over a fresh database,
// so the fake that service tests use answers as PostgreSQL does.
//
//   TEST_P(JobStoreSuite, X) { Job job = Enqueue("c"); ... }
//
// job_store_suite.cc instantiates it for both stores; the cases are in the
// job_store_*_test.cc files.
//
// What only PostgreSQL does stays out of the suite, in the Pg tests:
// deadlines and statement timeouts, lock timeouts and SKIP LOCKED,
// transaction pooling, the maintenance lock and the conversations' repairs
// (recount, idle rows, the ready floor), and jsonb's normalized text (the
// fake keeps a payload as it was given, so the cases write theirs as jsonb
// prints it).

#ifndef JOBQUEUE_STORAGE_JOB_STORE_SUITE_H_
#define JOBQUEUE_STORAGE_JOB_STORE_SUITE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/job_store.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {

enum class StoreKind { kFake, kPg };

class JobStoreSuite : public PgTest,
                      public ::testing::WithParamInterface<StoreKind> {
 protected:
  static constexpr char kPhone[] = "+15551234567";

  // Opens the store with retries backing off for an hour.
  void SetUp() override;
  // A new store with `backoff`, over the same database for Pg; for the fake
  // an empty one, so call it before writing anything.
  void Open(RetryBackoff backoff);

  static NewJob AJob(const std::string& channel, const std::string& key = "");
  // Enqueues AJob(channel); returns the job.
  Job Enqueue(const std::string& channel, int max_attempts = 5);
  // Claims as worker "w" in conversation order.
  std::vector<Job> Claim(int max_jobs = 10,
                         absl::Duration lease = absl::Seconds(30));
  Job Get(const std::string& id);
  // A single job claimed: the first of Claim(1), or an empty Job.
  Job ClaimOne(absl::Duration lease = absl::Seconds(30));

  // Records job `id`'s dead letter once more; returns its attempts, 2 when
  // the store had made one.
  int RecordAgain(const std::string& id);

  static std::vector<std::string> Ids(const std::vector<Job>& jobs);

  // Claims and completes until nothing is left (at most `max_claims`
  // claims of 10); returns each conversation's job ids in claim order.
  std::map<std::string, std::vector<std::string>> RunAllByConversation(
      int max_claims);

  std::unique_ptr<JobStore> store_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_JOB_STORE_SUITE_H_
