#include "shim/backend/grpc_job_queue_backend.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"

namespace jobqueue::shim {
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
  // The answer comes 3 s late: a call that waited for it would take that
  // long (the bound is far from both, for a slow machine).
  service_.set_answer(grpc::Status::OK, absl::Seconds(3));
  const absl::Time start = absl::Now();
  absl::Status status =
      Backend("").Deliver(Enqueue("SM1"), {absl::Milliseconds(200)});
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
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

TEST(IsLoopbackTargetTest, OnlyThisMachine) {
  for (const char* target :
       {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "LOCALHOST:1",
        "[::1]:50051", "dns:///localhost:50051", "dns:///127.0.0.1:1",
        "ipv4:127.0.0.1:50051", "ipv6:[::1]:50051", "unix:/run/jq.sock",
        "unix-abstract:jq", "localhost"}) {
    EXPECT_TRUE(IsLoopbackTarget(target)) << target;
  }
  for (const char* target :
       {"10.0.0.5:50051", "jobs.internal:50051", "[2001:db8::1]:50051",
        "dns:///jobs.internal:50051", "dns://8.8.8.8/localhost.evil:1",
        "ipv4:127.0.0.1:1,10.0.0.1:1", "127.0.0.1.evil.com:1",
        "localhost.evil.com:1", "0.0.0.0:50051", "127.0.0.256:1", ""}) {
    EXPECT_FALSE(IsLoopbackTarget(target)) << target;
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// A throwaway self-signed certificate for `names` (subjectAltName entries,
// "DNS:x" or "IP:x"), made with the openssl command; {certificate, key} PEM.
std::pair<std::string, std::string> SelfSigned(const std::string& name,
                                               const std::string& alt_names) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string cert = absl::StrCat(dir, "/", name, ".crt");
  const std::string key = absl::StrCat(dir, "/", name, ".key");
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=", name,
      " -addext subjectAltName=", alt_names, " -keyout ", key, " -out ", cert,
      " 2>/dev/null");
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return {ReadAll(cert), ReadAll(key)};
}

class GrpcJobQueueBackendTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Valid for jobs.test only, not for 127.0.0.1.
    std::tie(cert_, key_) = SelfSigned("jobs.test", "DNS:jobs.test");
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key_, cert_});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_->Shutdown(); }

  absl::Status Deliver(const BackendTransport& transport) {
    GrpcJobQueueBackend backend(
        GrpcJobQueueBackend::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                           transport),
        "s3cret");
    SpooledDelivery delivery;
    delivery.mutable_enqueue_job()->set_idempotency_key("SM1");
    // Without waiting for ready: a failed handshake fails the call at once.
    return backend.Deliver(delivery, {absl::Seconds(5), false});
  }

  std::string cert_, key_;
  FakeJobQueue service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(GrpcJobQueueBackendTlsTest, DeliversOverTlsToTheNamedServer) {
  const absl::Status status =
      Deliver({.tls = true, .ca_pem = cert_, .tls_server_name = "jobs.test"});
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(service_.calls(), ElementsAre("EnqueueJob:SM1"));
  EXPECT_THAT(service_.authorizations(), ElementsAre("Bearer s3cret"));
}

TEST_F(GrpcJobQueueBackendTlsTest, RefusesACertificateOfAnotherName) {
  EXPECT_FALSE(Deliver({.tls = true, .ca_pem = cert_}).ok())
      << "the certificate does not name 127.0.0.1";
  EXPECT_FALSE(
      Deliver({.tls = true, .ca_pem = cert_, .tls_server_name = "other.test"})
          .ok());
  EXPECT_THAT(service_.calls(), IsEmpty());
}

TEST_F(GrpcJobQueueBackendTlsTest, RefusesACertificateOfAnotherAuthority) {
  const std::string other_ca = SelfSigned("other-ca", "DNS:jobs.test").first;
  EXPECT_FALSE(
      Deliver({.tls = true, .ca_pem = other_ca, .tls_server_name = "jobs.test"})
          .ok());
  // Nor does the system trust a self-signed certificate.
  EXPECT_FALSE(Deliver({.tls = true, .tls_server_name = "jobs.test"}).ok());
  EXPECT_THAT(service_.calls(), IsEmpty());
  EXPECT_THAT(service_.authorizations(), IsEmpty());
}

TEST_F(GrpcJobQueueBackendTlsTest, APlaintextChannelGetsNowhere) {
  EXPECT_FALSE(Deliver({}).ok());
  EXPECT_THAT(service_.authorizations(), IsEmpty());
}

}  // namespace
}  // namespace jobqueue::shim
