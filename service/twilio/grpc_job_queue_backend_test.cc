#include "service/twilio/grpc_job_queue_backend.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"

namespace jobqueue::twilio {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Records what it is sent and answers with `answer`.
class FakeJobQueue final : public v1::JobQueue::Service {
 public:
  grpc::Status EnqueueJob(grpc::ServerContext* context,
                          const v1::EnqueueJobRequest* request,
                          v1::EnqueueJobResponse* response) override {
    Record(context, "EnqueueJob:" + request->idempotency_key());
    return Answer();
  }

  grpc::Status RecordDeadLetter(grpc::ServerContext* context,
                                const v1::RecordDeadLetterRequest* request,
                                v1::DeadLetter* response) override {
    Record(context, "RecordDeadLetter:" + request->reason());
    return Answer();
  }

  void set_answer(grpc::Status answer, absl::Duration delay) {
    absl::MutexLock lock(&mu_);
    answer_ = answer;
    delay_ = delay;
  }
  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  std::vector<std::string> authorizations() {
    absl::MutexLock lock(&mu_);
    return authorizations_;
  }

 private:
  void Record(grpc::ServerContext* context, std::string call) {
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(call));
    for (const auto& [key, value] : context->client_metadata()) {
      if (key == "authorization") {
        authorizations_.emplace_back(value.data(), value.size());
      }
    }
  }
  grpc::Status Answer() {
    absl::Duration delay;
    grpc::Status answer;
    {
      absl::MutexLock lock(&mu_);
      delay = delay_;
      answer = answer_;
    }
    absl::SleepFor(delay);
    return answer;
  }

  absl::Mutex mu_;
  std::vector<std::string> calls_;
  std::vector<std::string> authorizations_;
  grpc::Status answer_ = grpc::Status::OK;
  absl::Duration delay_;
};

class GrpcJobQueueBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  GrpcJobQueueBackend Backend(std::string token) {
    return GrpcJobQueueBackend(
        GrpcJobQueueBackend::CreateChannel(absl::StrCat("127.0.0.1:", port_)),
        std::move(token));
  }

  static SpooledDelivery Enqueue(const std::string& key) {
    SpooledDelivery delivery;
    delivery.mutable_enqueue_job()->set_idempotency_key(key);
    return delivery;
  }

  FakeJobQueue service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(GrpcJobQueueBackendTest, EnqueuesWithTheBearerToken) {
  GrpcJobQueueBackend backend = Backend("s3cret");
  EXPECT_TRUE(backend.Deliver(Enqueue("SM1"), {absl::Seconds(5)}).ok());
  EXPECT_THAT(service_.calls(), ElementsAre("EnqueueJob:SM1"));
  EXPECT_THAT(service_.authorizations(), ElementsAre("Bearer s3cret"));
}

TEST_F(GrpcJobQueueBackendTest, SendsNoTokenWhenThereIsNone) {
  GrpcJobQueueBackend backend = Backend("");
  EXPECT_TRUE(backend.Deliver(Enqueue("SM1"), {absl::Seconds(5)}).ok());
  EXPECT_THAT(service_.authorizations(), IsEmpty());
}

TEST_F(GrpcJobQueueBackendTest, RecordsDeadLetters) {
  GrpcJobQueueBackend backend = Backend("");
  SpooledDelivery delivery;
  delivery.mutable_record_dead_letter()->set_reason("no sender");
  EXPECT_TRUE(backend.Deliver(delivery, {absl::Seconds(5)}).ok());
  EXPECT_THAT(service_.calls(), ElementsAre("RecordDeadLetter:no sender"));
}

TEST_F(GrpcJobQueueBackendTest, ReturnsTheServiceStatus) {
  service_.set_answer(
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "user_phone: not E.164"),
      absl::ZeroDuration());
  absl::Status status = Backend("").Deliver(Enqueue("SM1"), {absl::Seconds(5)});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "user_phone: not E.164");
}

TEST_F(GrpcJobQueueBackendTest, GivesUpAtTheDeadline) {
  service_.set_answer(grpc::Status::OK, absl::Seconds(1));
  const absl::Time start = absl::Now();
  absl::Status status =
      Backend("").Deliver(Enqueue("SM1"), {absl::Milliseconds(200)});
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(900));
}

TEST_F(GrpcJobQueueBackendTest, HealthFollowsTheServer) {
  GrpcJobQueueBackend backend = Backend("");
  EXPECT_TRUE(backend.CheckHealth(absl::Seconds(5)).ok());
  server_->GetHealthCheckService()->SetServingStatus(false);
  EXPECT_EQ(backend.CheckHealth(absl::Seconds(5)).code(),
            absl::StatusCode::kUnavailable);
  server_->Shutdown();
  server_.reset();
  EXPECT_FALSE(backend.CheckHealth(absl::Seconds(2)).ok());
}

TEST_F(GrpcJobQueueBackendTest, FailsFastWhenNothingListens) {
  server_->Shutdown();
  server_.reset();
  GrpcJobQueueBackend backend = Backend("");
  const absl::Time start = absl::Now();
  EXPECT_EQ(backend.Deliver(Enqueue("SM1"), {absl::Seconds(5)}).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(GrpcJobQueueBackendTest, WaitsForTheServiceWhenAskedTo) {
  server_->Shutdown();
  server_.reset();
  GrpcJobQueueBackend backend = Backend("");
  EXPECT_EQ(backend.Deliver(Enqueue("SM0"), {absl::Seconds(5)}).code(),
            absl::StatusCode::kUnavailable);

  std::thread restart([this] {
    absl::SleepFor(absl::Milliseconds(500));
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port_),
                             grpc::InsecureServerCredentials());
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  });
  const absl::Time start = absl::Now();
  const absl::Status status =
      backend.Deliver(Enqueue("SM1"), {absl::Seconds(20), true});
  restart.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5))
      << "the call goes through once the service is back, not at a poll";
  EXPECT_THAT(service_.calls(), ElementsAre("EnqueueJob:SM1"));
}

}  // namespace
}  // namespace jobqueue::twilio
