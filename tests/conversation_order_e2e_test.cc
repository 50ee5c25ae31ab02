// Conversation order under concurrency, end to end: 32 conversations whose
// messages are fired a few milliseconds apart without waiting, through two
// jobqueue_server processes (each with its own pool and group commit, both
// running maintenance), while 8 workers claim
// from the start and sometimes fail (with and without retry), die (their
// lease lapses and is rescued), or have a failed job retried. A checker over
// the recorded history proves that no conversation ever had two jobs
// processing at once, that a message acknowledged before another was sent
// was handed out first, and that every job completed exactly once.

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/child_process.h"
#include "tests/in_process_server.h"
#include "tests/test_database.h"

namespace jobqueue {
namespace {

constexpr int kConversations = 32;
constexpr int kMessages = 8;
constexpr int kWorkers = 8;

struct Sent {
  std::string job_id;
  absl::Time sent, acked;
};

struct Held {  // one lease of a job, from claim to its end
  std::string job_id, channel;
  absl::Time claimed, ended;
};

class ConversationOrderE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    for (int i = 0; i < 2; ++i) {
      const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
      auto server = ChildProcess::Start(
          RunfilePath("service/jobqueue_server"),
          {"serve", "--database_url=" + db_->url(), "--listen=" + address,
           "--metrics_listen=", "--log_requests=none",
           "--maintenance_interval=100ms", "--retry_base_delay=50ms",
           "--retry_max_delay=200ms"});
      ASSERT_TRUE(server.ok()) << server.status();
      ASSERT_TRUE((*server)->WaitForOutput("serving on", absl::Seconds(20)))
          << (*server)->output();
      servers_.push_back(std::move(*server));
      stubs_.push_back(v1::JobQueue::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
    }
  }

  std::unique_ptr<TestDatabase> db_;
  std::vector<std::unique_ptr<ChildProcess>> servers_;
  std::vector<std::unique_ptr<v1::JobQueue::Stub>> stubs_;
};

TEST_F(ConversationOrderE2eTest, NoTwoAtOnceAndAcknowledgedOrderKept) {
  std::mutex mu;
  std::map<std::string, std::vector<Sent>> sent;  // by channel, in send order
  std::vector<Held> held;
  std::map<std::string, int> completions;
  std::atomic<int> completed{0};
  const absl::Time give_up = absl::Now() + absl::Seconds(90);

  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      std::mt19937 random(w);
      v1::JobQueue::Stub& stub = *stubs_[w % 2];
      while (completed < kConversations * kMessages && absl::Now() < give_up) {
        v1::ClaimJobsRequest claim;
        claim.set_worker_id(absl::StrCat("w", w));
        claim.set_max_jobs(4);
        claim.mutable_lease_duration()->set_seconds(1);
        claim.mutable_wait_timeout()->set_nanos(200 * 1000 * 1000);
        v1::ClaimJobsResponse claimed;
        if (!stub.ClaimJobs(CallContext().get(), claim, &claimed).ok()) {
          continue;
        }
        const absl::Time claimed_at = absl::Now();
        for (const v1::Job& job : claimed.jobs()) {
          absl::SleepFor(absl::Milliseconds(random() % 5));
          const int fate = random() % 100;
          Held h{job.id(), job.source_channel_id(), claimed_at, absl::Now()};
          v1::Job out;
          if (fate < 5) {  // dies: the lease lapses and is rescued
            h.ended = absl::FromUnixMicros(
                google::protobuf::util::TimeUtil::TimestampToMicroseconds(
                    job.lease_expires_at()));
          } else if (fate < 15) {  // fails, maybe for good
            v1::FailJobRequest fail;
            fail.set_job_id(job.id());
            fail.set_lease_token(job.lease_token());
            fail.set_error("flaky");
            fail.set_retryable(fate < 11);
            EXPECT_TRUE(stub.FailJob(CallContext().get(), fail, &out).ok());
            if (out.status() == v1::JOB_STATUS_FAILED) {
              v1::RetryJobRequest retry;  // an operator retries it
              retry.set_job_id(job.id());
              EXPECT_TRUE(stub.RetryJob(CallContext().get(), retry, &out).ok());
            }
          } else {
            v1::CompleteJobRequest done;
            done.set_job_id(job.id());
            done.set_lease_token(job.lease_token());
            const bool ok =
                stub.CompleteJob(CallContext().get(), done, &out).ok();
            EXPECT_TRUE(ok);
            if (ok) {
              std::lock_guard<std::mutex> lock(mu);
              ++completions[job.id()];
              ++completed;
            }
          }
          std::lock_guard<std::mutex> lock(mu);
          held.push_back(h);
        }
      }
    });
  }

  // Each conversation's messages a few milliseconds apart, none waiting for
  // the one before, alternating servers.
  std::atomic<int> in_flight{0};
  for (int m = 0; m < kMessages; ++m) {
    for (int c = 0; c < kConversations; ++c) {
      auto* call = new std::pair<grpc::ClientContext, v1::EnqueueJobResponse>;
      call->first.set_deadline(
          absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      v1::EnqueueJobRequest r;
      r.set_user_phone("+15551234567");
      r.set_source_channel_id(absl::StrCat("conversation-", c));
      r.set_source_type(v1::SOURCE_TYPE_GROUP);
      const std::string channel = r.source_channel_id();
      size_t index;
      {
        std::lock_guard<std::mutex> lock(mu);
        index = sent[channel].size();
        sent[channel].push_back({"", absl::Now(), absl::InfiniteFuture()});
      }
      ++in_flight;
      stubs_[(m + c) % 2]->async()->EnqueueJob(
          &call->first, &r, &call->second,
          [&, call, channel, index](grpc::Status s) {
            EXPECT_TRUE(s.ok()) << s.error_message();
            {
              std::lock_guard<std::mutex> lock(mu);
              sent[channel][index].job_id = call->second.job().id();
              sent[channel][index].acked = absl::Now();
            }
            delete call;
            --in_flight;
          });
    }
    absl::SleepFor(absl::Milliseconds(3));
  }
  for (auto& t : workers) t.join();
  while (in_flight > 0) absl::SleepFor(absl::Milliseconds(10));

  ASSERT_EQ(completed, kConversations * kMessages) << "timed out";
  for (const auto& [id, n] : completions) EXPECT_EQ(n, 1) << id;

  std::map<std::string, std::vector<Held>> by_channel;
  std::map<std::string, absl::Time> first_claim;
  for (const Held& h : held) {
    by_channel[h.channel].push_back(h);
    auto [it, added] = first_claim.emplace(h.job_id, h.claimed);
    if (!added) it->second = std::min(it->second, h.claimed);
  }
  for (auto& [channel, leases] : by_channel) {
    std::sort(leases.begin(), leases.end(), [](const Held& a, const Held& b) {
      return a.claimed < b.claimed;
    });
    for (size_t i = 1; i < leases.size(); ++i) {
      EXPECT_GE(leases[i].claimed, leases[i - 1].ended)
          << channel << ": " << leases[i].job_id << " was handed out while "
          << leases[i - 1].job_id << " was processing";
    }
  }
  for (const auto& [channel, messages] : sent) {
    for (const Sent& a : messages) {
      for (const Sent& b : messages) {
        if (a.acked < b.sent) {
          EXPECT_LT(first_claim[a.job_id], first_claim[b.job_id])
              << channel << ": " << b.job_id << " overtook " << a.job_id
              << ", acknowledged before it was sent";
        }
      }
    }
  }
}

}  // namespace
}  // namespace jobqueue
