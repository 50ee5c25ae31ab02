// A PgJobStore over PgTest's database, with the calls store tests make
// most: enqueue, claim and complete by conversation, plain SQL, and the
// shared buffers a statement touches.
//
//   class MyTest : public StoreFixture {};
//   TEST_F(MyTest, X) { Enqueue("c"); EXPECT_EQ(Claim().size(), 1u); }

#ifndef JOBQUEUE_TESTS_SUPPORT_STORE_FIXTURE_H_
#define JOBQUEUE_TESTS_SUPPORT_STORE_FIXTURE_H_

#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "storage/pg_job_store.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {

class StoreFixture : public PgTest {
 protected:
  void SetUp() override;
  // Options of the store SetUp creates; retries back off for an hour.
  virtual PgJobStore::Options StoreOptions(const std::string& url);

  // Enqueues a job of `channel` for +15551234567; returns its id.
  std::string Enqueue(const std::string& channel);
  // Claims in conversation order; remembers each lease for Complete.
  std::vector<std::string> Claim(int max_jobs = 10);
  void Complete(const std::string& id);
  // One maintenance round with no retention.
  MaintenanceReport Maintain();

  // Shared buffers `sql` touches, by EXPLAIN ANALYZE in a transaction that
  // is rolled back, after `setup` in the same transaction.
  int64_t Buffers(const std::string& sql, const std::string& setup = "");

  // Index entries of jobs and conversations `sql` reads (live or not), run
  // in a transaction that is rolled back, after `setup` in it; only those of
  // `indexes` when not empty.
  int64_t IndexEntries(const std::string& sql, const std::string& setup = "",
                       const std::vector<std::string>& indexes = {});

  // `n` conversations named prefix-1.., each with `jobs` pending jobs.
  void AddConversations(const std::string& prefix, int n, int jobs);

  std::unique_ptr<PgJobStore> store_;
  std::map<std::string, std::string> leases_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_STORE_FIXTURE_H_
