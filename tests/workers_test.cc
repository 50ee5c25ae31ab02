// Workers over real gRPC channels and PostgreSQL: exactly-once claims,
// per-conversation order, leases that lapse, fencing, retries and waiting.

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/child_process.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

using v1::JobQueue;

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  *out = google::protobuf::util::TimeUtil::NanosecondsToDuration(
      absl::ToInt64Nanoseconds(d));
}

v1::EnqueueJobRequest AJob(const std::string& channel, int n) {
  v1::EnqueueJobRequest r;
  r.set_user_phone("+15551234567");
  r.set_source_channel_id(channel);
  r.set_source_type(v1::SOURCE_TYPE_GROUP);
  (*r.mutable_payload()->mutable_fields())["n"].set_number_value(n);
  return r;
}

v1::ClaimJobsRequest AClaim(const std::string& worker, int max_jobs,
                            absl::Duration wait,
                            absl::Duration lease = absl::Seconds(30)) {
  v1::ClaimJobsRequest r;
  r.set_worker_id(worker);
  r.set_max_jobs(max_jobs);
  SetDuration(lease, r.mutable_lease_duration());
  SetDuration(wait, r.mutable_wait_timeout());
  return r;
}

class WorkersTest : public ServerTest {
 protected:
  InProcessServer::Options ServerOptions() override {
    return {.database_url = url(),
            .maintenance_interval = absl::Milliseconds(100),
            .retry_backoff = {.base = absl::Milliseconds(400)}};
  }

  std::string Enqueue(const v1::EnqueueJobRequest& request) {
    v1::EnqueueJobResponse response;
    grpc::Status s = stub_->EnqueueJob(CallContext().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job().id();
  }

  std::vector<v1::Job> Claim(JobQueue::Stub& stub,
                             const v1::ClaimJobsRequest& request) {
    v1::ClaimJobsResponse response;
    grpc::Status s = stub.ClaimJobs(CallContext(absl::Seconds(30)).get(),
                                    request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {response.jobs().begin(), response.jobs().end()};
  }

  grpc::Status Complete(JobQueue::Stub& stub, const v1::Job& job) {
    v1::CompleteJobRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(job.lease_token());
    v1::Job out;
    return stub.CompleteJob(CallContext().get(), r, &out);
  }
};

// Runs `workers` threads that claim (in batches, waiting) and complete jobs
// through `stubs` round robin until `total` completions or `timeout`.
// Returns each job's completions in completion order.
struct Completion {
  std::string job_id;
  std::string channel;
  int n;
};

std::vector<Completion> Drain(const std::vector<JobQueue::Stub*>& stubs,
                              int workers, int total, absl::Duration timeout,
                              std::map<std::string, int>* claims) {
  std::mutex mu;
  std::vector<Completion> done;
  std::atomic<int> completed{0};
  const absl::Time give_up = absl::Now() + timeout;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      JobQueue::Stub& stub = *stubs[w % stubs.size()];
      while (completed < total && absl::Now() < give_up) {
        v1::ClaimJobsResponse response;
        auto claim =
            AClaim(absl::StrCat("worker-", w), 5, absl::Milliseconds(500));
        if (!stub.ClaimJobs(CallContext().get(), claim, &response).ok()) {
          continue;
        }
        for (const v1::Job& job : response.jobs()) {
          {
            std::lock_guard<std::mutex> lock(mu);
            ++(*claims)[job.id()];
          }
          v1::CompleteJobRequest r;
          r.set_job_id(job.id());
          r.set_lease_token(job.lease_token());
          v1::Job out;
          // Record under the lock taken before completing, so the recorded
          // order is the order in which completions were acknowledged.
          std::lock_guard<std::mutex> lock(mu);
          if (stub.CompleteJob(CallContext().get(), r, &out).ok()) {
            done.push_back(
                {job.id(), job.source_channel_id(),
                 static_cast<int>(
                     job.payload().fields().at("n").number_value())});
            ++completed;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return done;
}

void ExpectEachOnceAndInOrder(const std::vector<Completion>& done, int total,
                              const std::map<std::string, int>& claims) {
  EXPECT_EQ(static_cast<int>(done.size()), total);
  std::map<std::string, int> per_job;
  std::map<std::string, int> last_n;
  for (const Completion& c : done) {
    ++per_job[c.job_id];
    auto it = last_n.find(c.channel);
    if (it != last_n.end()) {
      EXPECT_EQ(c.n, it->second + 1) << "out of order in " << c.channel;
    } else {
      EXPECT_EQ(c.n, 0) << c.channel << " did not start with its first job";
    }
    last_n[c.channel] = c.n;
  }
  for (const auto& [id, count] : per_job) EXPECT_EQ(count, 1) << id;
  for (const auto& [id, count] : claims) {
    EXPECT_EQ(count, 1) << id << " was claimed " << count << " times";
  }
}

TEST_F(WorkersTest, EightWorkersCompleteEveryJobOnceInConversationOrder) {
  constexpr int kConversations = 50, kPerConversation = 40;
  for (int n = 0; n < kPerConversation; ++n) {
    for (int c = 0; c < kConversations; ++c) {
      Enqueue(AJob(absl::StrCat("conversation-", c), n));
    }
  }
  std::map<std::string, int> claims;
  std::vector<std::unique_ptr<JobQueue::Stub>> owned;
  std::vector<JobQueue::Stub*> stubs;
  for (int i = 0; i < 8; ++i) {
    owned.push_back(server_->NewStub());
    stubs.push_back(owned.back().get());
  }
  std::vector<Completion> done = Drain(
      stubs, 8, kConversations * kPerConversation, absl::Seconds(120), &claims);
  ExpectEachOnceAndInOrder(done, kConversations * kPerConversation, claims);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'complete'"),
            kConversations * kPerConversation);
}

TEST_F(WorkersTest, TwoServerProcessesNeverHandOutAJobTwice) {
  constexpr int kConversations = 20, kPerConversation = 25;
  for (int n = 0; n < kPerConversation; ++n) {
    for (int c = 0; c < kConversations; ++c) {
      Enqueue(AJob(absl::StrCat("c", c), n));
    }
  }
  std::vector<std::unique_ptr<ChildProcess>> servers;
  std::vector<std::unique_ptr<JobQueue::Stub>> owned;
  std::vector<JobQueue::Stub*> stubs;
  for (int i = 0; i < 2; ++i) {
    const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
    auto p = ChildProcess::Start(
        RunfilePath("service/jobqueue_server"),
        {"serve", "--database_url=" + db_->url(), "--listen=" + address});
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_TRUE((*p)->WaitForOutput("serving on", absl::Seconds(20)))
        << (*p)->output();
    servers.push_back(std::move(*p));
    owned.push_back(JobQueue::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
    stubs.push_back(owned.back().get());
  }
  std::map<std::string, int> claims;
  std::vector<Completion> done = Drain(
      stubs, 6, kConversations * kPerConversation, absl::Seconds(120), &claims);
  ExpectEachOnceAndInOrder(done, kConversations * kPerConversation, claims);
}

TEST_F(WorkersTest, ALapsedLeaseGoesToAnotherWorkerAndTheLateCompletionFails) {
  const std::string id = Enqueue(AJob("chat", 0));
  auto slow = server_->NewStub();
  std::vector<v1::Job> first =
      Claim(*slow, AClaim("slow", 1, absl::ZeroDuration(), absl::Seconds(1)));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempts(), 1);
  EXPECT_FALSE(first[0].lease_token().empty());

  v1::ExtendLeaseRequest heartbeat;
  heartbeat.set_job_id(id);
  heartbeat.set_lease_token(first[0].lease_token());
  SetDuration(absl::Seconds(1), heartbeat.mutable_lease_duration());
  v1::Job extended;
  ASSERT_TRUE(
      slow->ExtendLease(CallContext().get(), heartbeat, &extended).ok());

  // The slow worker stops heartbeating; another waits for the job.
  const absl::Time start = absl::Now();
  std::vector<v1::Job> second =
      Claim(*stub_, AClaim("fast", 1, absl::Seconds(10)));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(500));
  EXPECT_EQ(second[0].id(), id);
  EXPECT_EQ(second[0].attempts(), 2);
  EXPECT_EQ(second[0].worker_id(), "fast");

  grpc::Status late = Complete(*slow, first[0]);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(
      slow->ExtendLease(CallContext().get(), heartbeat, &extended).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(Complete(*stub_, second[0]).ok());
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'complete' AND "
                   "worker_id = 'fast'"),
            1);
}

TEST_F(WorkersTest, RetryableFailuresBackOffThenTheJobIsDeadLettered) {
  v1::EnqueueJobRequest request = AJob("chat", 0);
  request.set_max_attempts(2);
  const std::string id = Enqueue(request);
  std::vector<v1::Job> jobs =
      Claim(*stub_, AClaim("w", 1, absl::ZeroDuration()));
  ASSERT_EQ(jobs.size(), 1u);
  v1::FailJobRequest fail;
  fail.set_job_id(id);
  fail.set_lease_token(jobs[0].lease_token());
  fail.set_error("timeout calling the model");
  fail.set_retryable(true);
  v1::Job failed;
  ASSERT_TRUE(stub_->FailJob(CallContext().get(), fail, &failed).ok());
  EXPECT_EQ(failed.status(), v1::JOB_STATUS_PENDING);
  EXPECT_GT(
      failed.run_after().seconds() * 1000000000LL + failed.run_after().nanos(),
      failed.updated_at().seconds() * 1000000000LL +
          failed.updated_at().nanos());
  EXPECT_TRUE(Claim(*stub_, AClaim("w", 1, absl::ZeroDuration())).empty())
      << "claimed during its backoff";

  jobs = Claim(*stub_, AClaim("w", 1, absl::Seconds(5)));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempts(), 2);
  fail.set_lease_token(jobs[0].lease_token());
  ASSERT_TRUE(stub_->FailJob(CallContext().get(), fail, &failed).ok());
  EXPECT_EQ(failed.status(), v1::JOB_STATUS_FAILED);
  EXPECT_EQ(failed.last_error(), "timeout calling the model");
  EXPECT_EQ(SqlInt("SELECT count(*) FROM dlq_jobs WHERE job_id = '" + id +
                   "' AND reason = 'timeout calling the model'"),
            1);

  v1::RetryJobRequest retry;
  retry.set_job_id(id);
  v1::Job retried;
  ASSERT_TRUE(stub_->RetryJob(CallContext().get(), retry, &retried).ok());
  EXPECT_EQ(retried.status(), v1::JOB_STATUS_PENDING);
  EXPECT_EQ(retried.attempts(), 0);
}

TEST_F(WorkersTest, AWaitingClaimReturnsSoonAfterAnEnqueue) {
  std::vector<absl::Duration> latencies;
  for (int trial = 0; trial < 5; ++trial) {
    std::atomic<int64_t> returned_at{0};
    std::thread waiter([&] {
      auto jobs = Claim(*stub_, AClaim("w", 1, absl::Seconds(10)));
      returned_at = absl::ToUnixMicros(absl::Now());
      EXPECT_EQ(jobs.size(), 1u);
      if (!jobs.empty()) {
        EXPECT_TRUE(Complete(*stub_, jobs[0]).ok());
      }
    });
    absl::SleepFor(absl::Milliseconds(300));  // the claim is waiting now
    // From the enqueue's commit: its own time (an fsync on a shared disk)
    // is not the wake-up's.
    Enqueue(AJob(absl::StrCat("chat-", trial), 0));
    const absl::Time enqueued = absl::Now();
    waiter.join();
    latencies.push_back(absl::FromUnixMicros(returned_at) - enqueued);
  }
  std::sort(latencies.begin(), latencies.end());
  // Woken by the notification, not by the once-a-second recheck.
  EXPECT_LT(latencies[2], absl::Milliseconds(100)) << "median " << latencies[2];
  EXPECT_LT(latencies[4], absl::Milliseconds(900)) << "max " << latencies[4];
}

TEST_F(WorkersTest, LeaseTokensAreShownOnlyToTheClaimant) {
  const std::string id = Enqueue(AJob("chat", 0));
  ASSERT_EQ(Claim(*stub_, AClaim("w", 1, absl::ZeroDuration())).size(), 1u);
  v1::GetJobRequest get;
  get.set_id(id);
  v1::Job job;
  ASSERT_TRUE(stub_->GetJob(CallContext().get(), get, &job).ok());
  EXPECT_EQ(job.status(), v1::JOB_STATUS_PROCESSING);
  EXPECT_TRUE(job.lease_token().empty());
  EXPECT_EQ(job.worker_id(), "w");
  EXPECT_TRUE(job.has_lease_expires_at());
}

TEST_F(WorkersTest, BadClaimsAreRejectedByField) {
  auto code_and_message = [&](const v1::ClaimJobsRequest& r) {
    v1::ClaimJobsResponse response;
    grpc::Status s = stub_->ClaimJobs(CallContext().get(), r, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return s.error_message();
  };
  v1::ClaimJobsRequest r = AClaim("", 1, absl::ZeroDuration());
  EXPECT_NE(code_and_message(r).find("worker_id"), std::string::npos);
  r = AClaim("w", 101, absl::ZeroDuration());
  EXPECT_NE(code_and_message(r).find("max_jobs"), std::string::npos);
  r = AClaim("w", 1, absl::ZeroDuration(), absl::Milliseconds(500));
  EXPECT_NE(code_and_message(r).find("lease_duration"), std::string::npos);
  r = AClaim("w", 1, absl::Seconds(61));
  EXPECT_NE(code_and_message(r).find("wait_timeout"), std::string::npos);
  v1::CompleteJobRequest complete;
  complete.set_job_id("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab");
  complete.set_lease_token("stale");
  v1::Job job;
  grpc::Status s = stub_->CompleteJob(CallContext().get(), complete, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("lease_token"), std::string::npos);
}

TEST_F(WorkersTest, CompleteJobsAnswersEachJobAndSkipsStaleLeases) {
  for (int n = 0; n < 3; ++n) Enqueue(AJob(absl::StrCat("batch-", n), n));
  std::vector<v1::Job> jobs = Claim(*stub_, AClaim("w", 3, absl::Seconds(5)));
  ASSERT_EQ(jobs.size(), 3u);
  v1::CompleteJobsRequest request;
  for (const v1::Job& job : jobs) {
    v1::CompleteJobRequest* entry = request.add_jobs();
    entry->set_job_id(job.id());
    entry->set_lease_token(job.lease_token());
  }
  // The second worker's lease is not the current one.
  request.mutable_jobs(1)->set_lease_token(
      "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab");
  v1::CompleteJobsResponse response;
  grpc::Status s = stub_->CompleteJobs(CallContext().get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(response.results_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(response.results(i).job_id(), jobs[i].id());
  }
  EXPECT_EQ(response.results(0).code(), grpc::StatusCode::OK);
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(response.results(1).message().find("lease"), std::string::npos)
      << response.results(1).message();
  EXPECT_EQ(response.results(2).code(), grpc::StatusCode::OK);
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'complete'"), 2);
  EXPECT_EQ(SqlInt(absl::StrCat("SELECT count(*) FROM jobs WHERE id = '",
                                jobs[1].id(), "' AND status = 'processing'")),
            1);
  // Its own worker can still complete it.
  EXPECT_TRUE(Complete(*stub_, jobs[1]).ok());
}

TEST_F(WorkersTest, CompleteJobsRejectsAMalformedBatchWhole) {
  Enqueue(AJob("malformed", 0));
  std::vector<v1::Job> jobs = Claim(*stub_, AClaim("w", 1, absl::Seconds(5)));
  ASSERT_EQ(jobs.size(), 1u);
  auto rejection = [&](const v1::CompleteJobsRequest& r) {
    v1::CompleteJobsResponse response;
    grpc::Status s = stub_->CompleteJobs(CallContext().get(), r, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return s.error_message();
  };
  EXPECT_NE(rejection({}).find("number of jobs"), std::string::npos);
  v1::CompleteJobsRequest r;
  for (int i = 0; i < 2; ++i) {
    r.add_jobs()->set_job_id(jobs[0].id());
    r.mutable_jobs(i)->set_lease_token(jobs[0].lease_token());
  }
  EXPECT_NE(rejection(r).find("jobs[1].job_id repeats jobs[0]"),
            std::string::npos);
  r.mutable_jobs(1)->set_job_id("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab");
  r.mutable_jobs(1)->set_lease_token("stale");
  EXPECT_NE(rejection(r).find("jobs[1].lease_token"), std::string::npos);
  // The well-formed first entry was not applied either.
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE status = 'processing'"), 1);
}

}  // namespace
}  // namespace jobqueue
