// Waking waiting claims without a NOTIFY inside the writers' transactions:
// two servers over one PostgreSQL database, real gRPC channels. A claim
// waiting on server B returns soon after an enqueue or a completion through
// server A (announced after A's commit), and after an INSERT by plain SQL
// (the trigger still notifies for other writers); the notifications the
// service's own writes cause come from its announcing connection, never
// from the sessions that wrote the jobs.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/in_process_server.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

constexpr int kTrials = 5;

class WakeE2eTest : public PgTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    for (int i = 0; i < 2; ++i) {
      // A recheck far longer than the wake-ups asked for: only a
      // notification can wake a claim in time.
      absl::StatusOr<std::unique_ptr<InProcessServer>> server =
          InProcessServer::Start(
              {.database_url = url(), .claim_recheck = absl::Seconds(5)});
      ASSERT_TRUE(server.ok()) << server.status();
      stubs_.push_back((*server)->NewStub());
      servers_.push_back(*std::move(server));
    }
  }

  v1::JobQueue::Stub& a() { return *stubs_[0]; }
  v1::JobQueue::Stub& b() { return *stubs_[1]; }

  static std::string Enqueue(v1::JobQueue::Stub& stub,
                             const std::string& channel) {
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id(channel);
    r.set_source_type(v1::SOURCE_TYPE_DM);
    v1::EnqueueJobResponse response;
    grpc::Status s = stub.EnqueueJob(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job().id();
  }

  static std::vector<v1::Job> Claim(v1::JobQueue::Stub& stub,
                                    absl::Duration wait) {
    v1::ClaimJobsRequest r;
    r.set_worker_id("waiter");
    r.set_max_jobs(1);
    r.mutable_lease_duration()->set_seconds(60);
    r.mutable_wait_timeout()->set_seconds(absl::ToInt64Seconds(wait));
    v1::ClaimJobsResponse response;
    grpc::Status s = stub.ClaimJobs(CallContext().get(), r, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.jobs().begin(), response.jobs().end()};
  }

  static void Complete(v1::JobQueue::Stub& stub, const v1::Job& job) {
    v1::CompleteJobRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(job.lease_token());
    v1::Job done;
    grpc::Status s = stub.CompleteJob(CallContext().get(), r, &done);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  // How long after `act` returns a claim already waiting on B gets a job,
  // as the median of kTrials; `prepare` runs before the claim, `act` once
  // it waits.
  absl::Duration MedianWake(const std::function<void(int)>& act,
                            const std::function<void(int)>& prepare = {}) {
    std::vector<absl::Duration> latencies;
    for (int trial = 0; trial < kTrials; ++trial) {
      if (prepare) prepare(trial);
      std::atomic<int64_t> returned_at{0};
      std::vector<v1::Job> claimed;
      std::thread waiter([&] {
        claimed = Claim(b(), absl::Seconds(20));
        returned_at = absl::ToUnixMicros(absl::Now());
      });
      absl::SleepFor(absl::Milliseconds(300));  // the claim waits now
      act(trial);
      const absl::Time acted = absl::Now();
      waiter.join();
      EXPECT_EQ(claimed.size(), 1u);
      if (!claimed.empty()) Complete(b(), claimed[0]);
      latencies.push_back(absl::FromUnixMicros(returned_at) - acted);
    }
    std::sort(latencies.begin(), latencies.end());
    return latencies[kTrials / 2];
  }

  std::vector<std::unique_ptr<InProcessServer>> servers_;
  std::vector<std::unique_ptr<v1::JobQueue::Stub>> stubs_;
};

TEST_F(WakeE2eTest, AClaimOnOneServerWakesSoonAfterAnEnqueueOnAnother) {
  const absl::Duration median = MedianWake(
      [&](int trial) { Enqueue(a(), absl::StrCat("chat-", trial)); });
  EXPECT_LT(median, absl::Milliseconds(100));
}

TEST_F(WakeE2eTest,
       AClaimWakesSoonAfterACompletionOnAnotherServerFreesItsTurn) {
  // A conversation's second job waits for its first, which A's worker
  // holds; B's claim waits until A completes it.
  v1::Job first;
  const absl::Duration median = MedianWake(
      [&](int) { Complete(a(), first); },
      [&](int trial) {
        const std::string chat = absl::StrCat("turns-", trial);
        Enqueue(a(), chat);
        std::vector<v1::Job> claimed = Claim(a(), absl::ZeroDuration());
        ASSERT_EQ(claimed.size(), 1u);
        first = claimed[0];
        Enqueue(a(), chat);
      });
  EXPECT_LT(median, absl::Milliseconds(100));
}

TEST_F(WakeE2eTest, AnInsertByPlainSqlStillWakesAClaim) {
  const absl::Duration median = MedianWake([&](int trial) {
    pqxx::connection c(url());
    pqxx::work txn(c);
    txn.exec0(absl::StrCat(
        "INSERT INTO jobs (user_id, user_phone, source_channel_id, "
        "source_type, payload) VALUES (NULL, '+15551234567', 'sql-",
        trial, "', 'dm', '{}')"));
    txn.commit();
  });
  EXPECT_LT(median, absl::Milliseconds(100));
}

TEST_F(WakeE2eTest, TheServiceNotifiesFromItsAnnouncerNotFromItsWriters) {
  pqxx::connection listener(url());
  std::set<int> notifying;
  struct Receiver : pqxx::notification_receiver {
    Receiver(pqxx::connection_base& c, std::set<int>* pids)
        : pqxx::notification_receiver(c, "jobqueue_jobs_changed"), pids(pids) {}
    void operator()(const std::string&, int pid) override { pids->insert(pid); }
    std::set<int>* pids;
  } receiver(listener, &notifying);
  for (int i = 0; i < 20; ++i) {
    Enqueue(a(), absl::StrCat("burst-", i % 4));
    std::vector<v1::Job> jobs = Claim(a(), absl::ZeroDuration());
    for (const v1::Job& job : jobs) Complete(a(), job);
  }
  const absl::Time until = absl::Now() + absl::Seconds(2);
  while (absl::Now() < until) listener.await_notification(0, 100 * 1000);
  ASSERT_FALSE(notifying.empty()) << "enqueues and completions woke no one";
  pqxx::connection look(url());
  pqxx::nontransaction txn(look);
  for (int pid : notifying) {
    const pqxx::result r = txn.exec_params(
        "SELECT query FROM pg_stat_activity WHERE pid = $1", pid);
    ASSERT_EQ(r.size(), 1u) << "backend " << pid << " is gone";
    // The writers' sessions last ran an enqueue, a claim or a completion.
    EXPECT_EQ(r[0][0].as<std::string>().rfind("NOTIFY", 0), 0u)
        << "backend " << pid << " notified; it last ran "
        << r[0][0].as<std::string>();
  }
}

}  // namespace
}  // namespace jobqueue
