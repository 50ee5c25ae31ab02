// StreamJobs end to end: a real server in process over PostgreSQL, a real
// gRPC channel. Jobs are pushed as they become claimable, never more than
// max_outstanding at once, in conversation order, never from a paused
// queue; each item is answered as its unary call would be; and the jobs a
// stream leaves unanswered are claimable again at once when it ends.
//
// Waiting claims look again on their own only once a minute (claim_recheck)
// here, so a push within a second came from the enqueue's notification.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/in_process_server.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/time_budget.h"

namespace jobqueue {
namespace {

constexpr absl::Duration kRecheck = absl::Seconds(60);
// How long a test waits for something that must come (it goes on as soon
// as it came): a second, longer under a sanitizer, far below kRecheck.
absl::Duration Arrives() { return TimeBudget(absl::Seconds(1)); }
// How long a test watches for something that must not come.
constexpr absl::Duration kQuiet = absl::Milliseconds(700);
constexpr char kToken[] = "stream-test-token";

// One worker's stream: a thread reads what the server sends.
class Worker {
 public:
  Worker(v1::JobQueue::Stub& stub, const v1::StreamJobsRequest& first,
         const std::string& token = "")
      : context_(CallContext(absl::Seconds(60))) {
    if (!token.empty()) {
      context_->AddMetadata("authorization", std::string("Bearer ") + token);
    }
    stream_ = stub.StreamJobs(context_.get());
    stream_->Write(first);
    reader_ = std::thread([this] {
      v1::StreamJobsResponse response;
      while (stream_->Read(&response)) {
        absl::MutexLock lock(&mu_);
        for (const v1::Job& job : response.jobs()) jobs_.push_back(job);
        for (const v1::StreamJobsAck& ack : response.acks()) {
          acks_.push_back(ack);
        }
      }
      absl::MutexLock lock(&mu_);
      ended_ = true;
    });
  }

  ~Worker() {
    if (reader_.joinable()) Cancel();
  }

  static v1::StreamJobsRequest Open(int max_outstanding,
                                    const std::string& queue = "") {
    v1::StreamJobsRequest request;
    v1::StreamJobsOpen* open = request.mutable_open();
    open->set_worker_id("stream-worker");
    open->set_max_outstanding(max_outstanding);
    open->mutable_lease_duration()->set_seconds(60);
    if (!queue.empty()) open->add_queues(queue);
    return request;
  }

  // Every job received, once at least `n` came or `within` passed.
  std::vector<v1::Job> Jobs(size_t n, absl::Duration within = Arrives()) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return jobs_.size() >= n || ended_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), within);
    return jobs_;
  }

  std::vector<v1::StreamJobsAck> Acks(size_t n,
                                      absl::Duration within = Arrives()) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return acks_.size() >= n || ended_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), within);
    return acks_;
  }

  bool Send(const v1::StreamJobsRequest& request) {
    return stream_->Write(request);
  }

  // The stream's status once the server ended it.
  grpc::Status Finish() {
    reader_.join();
    return stream_->Finish();
  }

  void Cancel() {
    context_->TryCancel();
    reader_.join();
    stream_->Finish().IgnoreError();
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::StreamJobsRequest, v1::StreamJobsResponse>>
      stream_;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<v1::Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::StreamJobsAck> acks_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

v1::StreamJobsRequest Complete(const v1::Job& job,
                               const std::string& token = "") {
  v1::StreamJobsRequest request;
  v1::CompleteJobRequest* complete = request.add_items()->mutable_complete();
  complete->set_job_id(job.id());
  complete->set_lease_token(token.empty() ? job.lease_token() : token);
  return request;
}

class StreamJobsTest : public PgTest {
 protected:
  void SetUp() override { Start(""); }

  void Start(const std::string& token) {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    absl::StatusOr<std::unique_ptr<InProcessServer>> server =
        InProcessServer::Start({.database_url = url(),
                                .bearer_token = token,
                                .claim_recheck = kRecheck});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    stub_ = server_->NewStub();
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = CallContext();
    if (!token_.empty()) {
      context->AddMetadata("authorization", std::string("Bearer ") + token_);
    }
    return context;
  }

  // Enqueues one job per channel, in order, into `queue` ("" is default).
  std::vector<std::string> Enqueue(const std::vector<std::string>& channels,
                                   const std::string& queue = "") {
    v1::EnqueueJobsRequest request;
    for (const std::string& channel : channels) {
      v1::EnqueueJobRequest* job = request.add_jobs();
      job->set_user_phone("+15551234567");
      job->set_source_channel_id(channel);
      job->set_source_type(v1::SOURCE_TYPE_DM);
      job->set_queue(queue);
    }
    v1::EnqueueJobsResponse response;
    const grpc::Status s =
        stub_->EnqueueJobs(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const v1::EnqueueJobResult& result : response.results()) {
      ids.push_back(result.job().id());
    }
    return ids;
  }

  v1::Job Get(const std::string& id) {
    v1::GetJobRequest request;
    request.set_id(id);
    v1::Job job;
    EXPECT_TRUE(stub_->GetJob(Context().get(), request, &job).ok());
    return job;
  }

  // The sum of the metric series whose line starts with `prefix`.
  double Metric(absl::string_view prefix) {
    httplib::Client client(absl::StrCat("http://", server_->metrics_address()));
    httplib::Result response = client.Get("/metrics");
    if (!response) {
      ADD_FAILURE() << "GET /metrics failed";
      return -1;
    }
    double sum = 0;
    for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
      if (!absl::StartsWith(line, prefix)) continue;
      double value = 0;
      if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) {
        sum += value;
      }
    }
    return sum;
  }

  // Claim statements run so far.
  double Claims() {
    return Metric("jobqueue_sql_statements_total{statement=\"claim_");
  }

  std::unique_ptr<InProcessServer> server_;
  std::unique_ptr<v1::JobQueue::Stub> stub_;
  std::string token_;
};

TEST_F(StreamJobsTest, PushesAJobEnqueuedAfterTheStreamOpened) {
  Worker worker(*stub_, Worker::Open(10));
  EXPECT_TRUE(worker.Jobs(1, kQuiet).empty());
  // Waiting, the stream claims nothing: no polling.
  const double claims = Claims();
  EXPECT_TRUE(worker.Jobs(1, kQuiet).empty());
  EXPECT_LE(Claims() - claims, 1);
  const absl::Time enqueued = absl::Now();
  const std::vector<std::string> ids = Enqueue({"c1"});
  const std::vector<v1::Job> jobs = worker.Jobs(1);
  const absl::Duration took = absl::Now() - enqueued;
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id(), ids[0]);
  EXPECT_FALSE(jobs[0].lease_token().empty());
  EXPECT_TRUE(jobs[0].has_lease_expires_at());
  EXPECT_LT(took, Arrives());
  EXPECT_EQ(Metric("jobqueue_streamed_jobs_total "), 1);
}

TEST_F(StreamJobsTest, NeverHoldsMoreThanMaxOutstanding) {
  Enqueue({"c1", "c2", "c3", "c4", "c5", "c6"});
  Worker worker(*stub_, Worker::Open(3));
  std::vector<v1::Job> jobs = worker.Jobs(3);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(worker.Jobs(4, kQuiet).size(), 3u);
  // Each completion frees one slot for one more job.
  ASSERT_TRUE(worker.Send(Complete(jobs[0])));
  jobs = worker.Jobs(4);
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(worker.Jobs(5, kQuiet).size(), 4u);
  const std::vector<v1::StreamJobsAck> acks = worker.Acks(1);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].code(), 0) << acks[0].message();
}

TEST_F(StreamJobsTest, AnswersEachItemAsItsUnaryCall) {
  Enqueue({"c1", "c2", "c3"});
  Worker worker(*stub_, Worker::Open(3));
  const std::vector<v1::Job> jobs = worker.Jobs(3);
  ASSERT_EQ(jobs.size(), 3u);
  const std::string wrong = "00000000-0000-4000-8000-000000000000";

  // What unary CompleteJob answers for a wrong lease token.
  v1::CompleteJobRequest unary;
  unary.set_job_id(jobs[0].id());
  unary.set_lease_token(wrong);
  v1::Job ignored;
  const grpc::Status stale =
      stub_->CompleteJob(Context().get(), unary, &ignored);
  ASSERT_FALSE(stale.ok());

  v1::StreamJobsRequest request = Complete(jobs[0], wrong);
  v1::ExtendLeaseRequest* extend = request.add_items()->mutable_extend();
  extend->set_job_id(jobs[1].id());
  extend->set_lease_token(jobs[1].lease_token());
  extend->mutable_lease_duration()->set_seconds(600);
  v1::FailJobRequest* fail = request.add_items()->mutable_fail();
  fail->set_job_id(jobs[2].id());
  fail->set_lease_token(jobs[2].lease_token());
  fail->set_error("broken");
  fail->set_retryable(false);
  request.add_items()->mutable_complete()->set_job_id("not-a-uuid");
  *request.add_items() = Complete(jobs[0]).items(0);
  ASSERT_TRUE(worker.Send(request));

  const std::vector<v1::StreamJobsAck> acks = worker.Acks(5);
  ASSERT_EQ(acks.size(), 5u);
  EXPECT_EQ(acks[0].job_id(), jobs[0].id());
  EXPECT_EQ(acks[0].kind(), v1::STREAM_JOBS_ITEM_KIND_COMPLETE);
  EXPECT_EQ(acks[0].code(), static_cast<int>(stale.error_code()));
  EXPECT_EQ(acks[0].message(), stale.error_message());
  EXPECT_EQ(acks[1].kind(), v1::STREAM_JOBS_ITEM_KIND_EXTEND);
  EXPECT_EQ(acks[1].code(), 0) << acks[1].message();
  EXPECT_GT(acks[1].lease_expires_at().seconds(),
            jobs[1].lease_expires_at().seconds() + 300);
  EXPECT_EQ(acks[2].kind(), v1::STREAM_JOBS_ITEM_KIND_FAIL);
  EXPECT_EQ(acks[2].code(), 0) << acks[2].message();
  EXPECT_EQ(acks[3].code(), static_cast<int>(grpc::INVALID_ARGUMENT));
  EXPECT_NE(acks[3].message().find("job_id"), std::string::npos);
  EXPECT_EQ(acks[4].code(), 0) << acks[4].message();

  EXPECT_EQ(Get(jobs[0].id()).status(), v1::JOB_STATUS_COMPLETE);
  EXPECT_EQ(Get(jobs[1].id()).status(), v1::JOB_STATUS_PROCESSING);
  EXPECT_EQ(Get(jobs[2].id()).status(), v1::JOB_STATUS_FAILED);
}

TEST_F(StreamJobsTest, KeepsConversationOrder) {
  const std::vector<std::string> ids = Enqueue({"c1", "c1"});
  Worker worker(*stub_, Worker::Open(10));
  std::vector<v1::Job> jobs = worker.Jobs(1);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id(), ids[0]);
  EXPECT_EQ(worker.Jobs(2, kQuiet).size(), 1u);
  ASSERT_TRUE(worker.Send(Complete(jobs[0])));
  jobs = worker.Jobs(2);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].id(), ids[1]);
}

TEST_F(StreamJobsTest, AnEndedStreamHandsItsJobsBackAtOnce) {
  const std::vector<std::string> ids = Enqueue({"c1", "c2"});
  {
    Worker worker(*stub_, Worker::Open(10));
    ASSERT_EQ(worker.Jobs(2).size(), 2u);
    worker.Cancel();
  }
  // The leases were for 60 s: only the hand-back makes them claimable now.
  v1::ClaimJobsRequest claim;
  claim.set_worker_id("other");
  claim.set_max_jobs(10);
  claim.mutable_wait_timeout()->set_seconds(2);
  std::vector<std::string> claimed;
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (claimed.size() < 2 && absl::Now() < until) {
    v1::ClaimJobsResponse response;
    ASSERT_TRUE(stub_->ClaimJobs(Context().get(), claim, &response).ok());
    for (const v1::Job& job : response.jobs()) claimed.push_back(job.id());
  }
  EXPECT_EQ(claimed.size(), 2u);
  for (const std::string& id : ids) {
    EXPECT_EQ(Get(id).attempts(), 1) << "the stream's attempt is not counted";
  }
}

TEST_F(StreamJobsTest, AFirstMessageWithoutOpenEndsTheStream) {
  Enqueue({"c1"});
  v1::StreamJobsRequest first;
  first.add_items()->mutable_complete()->set_job_id("x");
  Worker worker(*stub_, first);
  const grpc::Status s = worker.Finish();
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("open"), std::string::npos)
      << s.error_message();
}

TEST_F(StreamJobsTest, ASecondOpenEndsTheStream) {
  Worker worker(*stub_, Worker::Open(1));
  ASSERT_TRUE(worker.Send(Worker::Open(1)));
  const grpc::Status s = worker.Finish();
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("open"), std::string::npos)
      << s.error_message();
  // Counted as every RPC is.
  EXPECT_EQ(Metric("jobqueue_rpcs_total{method=\"StreamJobs\","
                   "code=\"INVALID_ARGUMENT\"}"),
            1);
}

TEST_F(StreamJobsTest, AnOpenWithoutMaxOutstandingIsRefused) {
  v1::StreamJobsRequest open = Worker::Open(0);
  Worker worker(*stub_, open);
  const grpc::Status s = worker.Finish();
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("open.max_outstanding"), std::string::npos)
      << s.error_message();
}

TEST_F(StreamJobsTest, APausedQueueGivesNothingUntilResumed) {
  v1::PauseQueueRequest pause;
  pause.set_queue("held");
  v1::Queue queue;
  ASSERT_TRUE(stub_->PauseQueue(Context().get(), pause, &queue).ok());
  Enqueue({"c1"}, "held");
  Worker worker(*stub_, Worker::Open(10, "held"));
  EXPECT_TRUE(worker.Jobs(1, kQuiet).empty());
  v1::ResumeQueueRequest resume;
  resume.set_queue("held");
  ASSERT_TRUE(stub_->ResumeQueue(Context().get(), resume, &queue).ok());
  EXPECT_EQ(worker.Jobs(1).size(), 1u);
}

TEST_F(StreamJobsTest, ACancelRequestedJobsCompletionIsRefused) {
  Enqueue({"c1"});
  Worker worker(*stub_, Worker::Open(1));
  const std::vector<v1::Job> jobs = worker.Jobs(1);
  ASSERT_EQ(jobs.size(), 1u);
  v1::CancelJobRequest cancel;
  cancel.set_id(jobs[0].id());
  v1::Job asked;
  ASSERT_TRUE(stub_->CancelJob(Context().get(), cancel, &asked).ok());
  ASSERT_TRUE(worker.Send(Complete(jobs[0])));
  const std::vector<v1::StreamJobsAck> acks = worker.Acks(1);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].code(), static_cast<int>(grpc::FAILED_PRECONDITION));
  EXPECT_NE(acks[0].message().find("cancel"), std::string::npos)
      << acks[0].message();
  EXPECT_EQ(Get(jobs[0].id()).status(), v1::JOB_STATUS_CANCELLED);
}

TEST_F(StreamJobsTest, AStoppingServerEndsAnIdleStreamAtOnce) {
  // A grace that waiting out could not pass for ending at once.
  absl::StatusOr<std::unique_ptr<InProcessServer>> server =
      InProcessServer::Start({.database_url = url(),
                              .claim_recheck = kRecheck,
                              .stop_grace = absl::Seconds(20)});
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<v1::JobQueue::Stub> stub = (*server)->NewStub();
  Worker worker(*stub, Worker::Open(10));
  EXPECT_TRUE(worker.Jobs(1, kQuiet).empty());
  const absl::Time stopping = absl::Now();
  server->reset();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(10));
  EXPECT_FALSE(worker.Finish().ok());
}

class StreamJobsAuthTest : public StreamJobsTest {
 protected:
  void SetUp() override {
    token_ = kToken;
    Start(kToken);
  }
};

TEST_F(StreamJobsAuthTest, AStreamWithoutTheTokenIsRefused) {
  Enqueue({"c1"});
  Worker refused(*stub_, Worker::Open(1));
  EXPECT_EQ(refused.Finish().error_code(), grpc::UNAUTHENTICATED);
  Worker worker(*stub_, Worker::Open(1), kToken);
  EXPECT_EQ(worker.Jobs(1).size(), 1u);
}

}  // namespace
}  // namespace jobqueue
