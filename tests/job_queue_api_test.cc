// The JobQueue API end to end: a real gRPC server and channel on loopback
// over a fresh, migrated PostgreSQL database.

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "service/job_queue_server.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

using v1::JobQueue;

class ApiTest : public ServerTest {
 protected:
  static std::unique_ptr<grpc::ClientContext> Context() {
    return CallContext();
  }

  static v1::EnqueueJobRequest AJob(const std::string& phone = "+15551234567") {
    v1::EnqueueJobRequest r;
    r.set_user_phone(phone);
    r.set_source_channel_id("whatsapp:" + phone);
    r.set_source_type(v1::SOURCE_TYPE_DM);
    (*r.mutable_payload()->mutable_fields())["Body"].set_string_value("hello");
    return r;
  }

  grpc::Status Enqueue(const v1::EnqueueJobRequest& request,
                       v1::EnqueueJobResponse* response) {
    return stub_->EnqueueJob(Context().get(), request, response);
  }

  v1::Job MustEnqueue(const v1::EnqueueJobRequest& request) {
    v1::EnqueueJobResponse response;
    grpc::Status s = Enqueue(request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job();
  }

  int64_t Rows(const std::string& table) { return db_->Rows(table); }
};

#define EXPECT_INVALID(status, field)                              \
  do {                                                             \
    grpc::Status _s = (status);                                    \
    EXPECT_EQ(_s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) \
        << _s.error_message();                                     \
    EXPECT_NE(_s.error_message().find(field), std::string::npos)   \
        << _s.error_message();                                     \
  } while (0)

TEST_F(ApiTest, CreateUserCreatesThenUpdatesTheFirstName) {
  v1::CreateUserRequest request;
  request.set_phone_number("+15551234567");
  request.set_first_name("Ada");
  v1::CreateUserResponse response;
  ASSERT_TRUE(stub_->CreateUser(Context().get(), request, &response).ok());
  EXPECT_TRUE(response.created());
  EXPECT_EQ(response.user().first_name(), "Ada");
  EXPECT_GT(response.user().created_at().seconds(), 0);

  request.set_first_name("");
  ASSERT_TRUE(stub_->CreateUser(Context().get(), request, &response).ok());
  EXPECT_FALSE(response.created());
  EXPECT_EQ(response.user().first_name(), "Ada");

  request.set_first_name("Grace");
  ASSERT_TRUE(stub_->CreateUser(Context().get(), request, &response).ok());
  EXPECT_EQ(response.user().first_name(), "Grace");
  EXPECT_EQ(Rows("users"), 1);
}

TEST_F(ApiTest, CreateUserRejectsANonE164Number) {
  v1::CreateUserRequest request;
  request.set_phone_number("555-1234");
  v1::CreateUserResponse response;
  EXPECT_INVALID(stub_->CreateUser(Context().get(), request, &response),
                 "phone_number");
  EXPECT_EQ(Rows("users"), 0);
}

TEST_F(ApiTest, EnqueueJobReturnsTheStoredJobAndCreatesTheUser) {
  v1::EnqueueJobRequest request = AJob();
  request.set_user_first_name("Ada");
  request.set_content_type(v1::CONTENT_TYPE_IMAGE);
  request.set_idempotency_key("SM0001");
  (*request.mutable_payload()->mutable_fields())["NumMedia"].set_number_value(
      1);
  v1::EnqueueJobResponse response;
  ASSERT_TRUE(Enqueue(request, &response).ok());
  const v1::Job& job = response.job();
  EXPECT_TRUE(response.created());
  EXPECT_EQ(job.id().size(), 36u);
  EXPECT_EQ(job.user_id(), "+15551234567");
  EXPECT_EQ(job.user_phone(), "+15551234567");
  EXPECT_EQ(job.source_channel_id(), "whatsapp:+15551234567");
  EXPECT_EQ(job.source_type(), v1::SOURCE_TYPE_DM);
  EXPECT_EQ(job.status(), v1::JOB_STATUS_PENDING);
  EXPECT_EQ(job.content_type(), v1::CONTENT_TYPE_IMAGE);
  EXPECT_EQ(job.idempotency_key(), "SM0001");
  EXPECT_EQ(job.payload().fields().at("Body").string_value(), "hello");
  EXPECT_EQ(job.payload().fields().at("NumMedia").number_value(), 1);
  EXPECT_GT(job.created_at().seconds(), 0);

  v1::GetJobRequest get;
  get.set_id(job.id());
  v1::Job fetched;
  ASSERT_TRUE(stub_->GetJob(Context().get(), get, &fetched).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(fetched, job))
      << fetched.DebugString() << job.DebugString();
  EXPECT_EQ(Rows("users"), 1);
}

TEST_F(ApiTest, ContentTypeDefaultsToText) {
  EXPECT_EQ(MustEnqueue(AJob()).content_type(), v1::CONTENT_TYPE_TEXT);
}

TEST_F(ApiTest, TheSameIdempotencyKeyReturnsTheOriginalJob) {
  v1::EnqueueJobRequest request = AJob();
  request.set_idempotency_key("SM0002");
  v1::Job first = MustEnqueue(request);
  v1::EnqueueJobResponse again;
  ASSERT_TRUE(Enqueue(request, &again).ok());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.job().id(), first.id());
  EXPECT_EQ(Rows("jobs"), 1);
}

TEST_F(ApiTest, ThirtyTwoConcurrentDuplicatesMakeOneJob) {
  v1::EnqueueJobRequest request = AJob("+15557770000");
  request.set_idempotency_key("SMrace");
  std::vector<std::thread> callers;
  std::vector<v1::EnqueueJobResponse> responses(32);
  std::vector<grpc::Status> statuses(32);
  std::atomic<bool> go{false};
  for (int i = 0; i < 32; ++i) {
    callers.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      statuses[i] = Enqueue(request, &responses[i]);
    });
  }
  go = true;
  for (auto& t : callers) t.join();
  int created = 0;
  std::set<std::string> ids;
  for (int i = 0; i < 32; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    created += responses[i].created();
    ids.insert(responses[i].job().id());
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(Rows("jobs"), 1);
  EXPECT_EQ(Rows("users"), 1);
}

TEST_F(ApiTest, BadEnqueueRequestsNameTheFieldAndWriteNothing) {
  v1::EnqueueJobResponse response;
  v1::EnqueueJobRequest r = AJob();
  r.set_user_phone("+1555");
  EXPECT_INVALID(Enqueue(r, &response), "user_phone");
  r = AJob();
  r.set_source_channel_id("");
  EXPECT_INVALID(Enqueue(r, &response), "source_channel_id");
  r = AJob();
  r.set_source_type(v1::SOURCE_TYPE_UNSPECIFIED);
  EXPECT_INVALID(Enqueue(r, &response), "source_type");
  r = AJob();
  r.set_source_type(static_cast<v1::SourceType>(7));
  EXPECT_INVALID(Enqueue(r, &response), "source_type");
  r = AJob();
  r.set_idempotency_key(std::string(256, 'k'));
  EXPECT_INVALID(Enqueue(r, &response), "idempotency_key");
  r = AJob();
  (*r.mutable_payload()->mutable_fields())["Body"].set_string_value(
      std::string(300 * 1024, 'x'));
  EXPECT_INVALID(Enqueue(r, &response), "payload");
  EXPECT_EQ(Rows("jobs"), 0);
  EXPECT_EQ(Rows("users"), 0);
}

TEST_F(ApiTest, GetJobChecksTheIdAndReportsUnknownOnes) {
  v1::GetJobRequest get;
  v1::Job job;
  get.set_id("42");
  EXPECT_INVALID(stub_->GetJob(Context().get(), get, &job), "id");
  get.set_id("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab");
  grpc::Status s = stub_->GetJob(Context().get(), get, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find(get.id()), std::string::npos);
}

TEST_F(ApiTest, UpdateStatusAllowsOnlyTheDocumentedTransitions) {
  const std::string id = MustEnqueue(AJob()).id();
  std::string lease;  // from the latest move to processing
  auto update = [&](v1::JobStatus to, v1::JobStatus expected = {}) {
    v1::UpdateStatusRequest r;
    r.set_id(id);
    r.set_status(to);
    r.set_expected_status(expected);
    r.set_lease_token(lease);
    v1::Job job;
    grpc::Status s = stub_->UpdateStatus(Context().get(), r, &job);
    if (s.ok() && to == v1::JOB_STATUS_PROCESSING) {
      EXPECT_FALSE(job.lease_token().empty());
      EXPECT_TRUE(job.has_lease_expires_at());
      lease = job.lease_token();
    }
    return s;
  };
  grpc::Status s = update(v1::JOB_STATUS_COMPLETE);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("'pending' to 'complete'"),
            std::string::npos)
      << s.error_message();
  EXPECT_TRUE(update(v1::JOB_STATUS_PROCESSING).ok());
  EXPECT_TRUE(update(v1::JOB_STATUS_PENDING).ok());
  EXPECT_TRUE(update(v1::JOB_STATUS_PROCESSING).ok());
  EXPECT_TRUE(update(v1::JOB_STATUS_FAILED).ok());
  s = update(v1::JOB_STATUS_PROCESSING, v1::JOB_STATUS_PENDING);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("not the expected 'pending'"),
            std::string::npos);
  EXPECT_TRUE(update(v1::JOB_STATUS_PENDING, v1::JOB_STATUS_FAILED).ok());
  EXPECT_TRUE(update(v1::JOB_STATUS_PROCESSING).ok());
  EXPECT_TRUE(update(v1::JOB_STATUS_COMPLETE).ok());
  EXPECT_EQ(update(v1::JOB_STATUS_FAILED).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_INVALID(update(v1::JOB_STATUS_UNSPECIFIED), "status");

  v1::GetJobRequest get;
  get.set_id(id);
  v1::Job job;
  ASSERT_TRUE(stub_->GetJob(Context().get(), get, &job).ok());
  EXPECT_EQ(job.status(), v1::JOB_STATUS_COMPLETE);
  EXPECT_GE(job.updated_at().seconds(), job.created_at().seconds());
}

TEST_F(ApiTest, UpdateStatusOfAnUnknownJobIsNotFound) {
  v1::UpdateStatusRequest r;
  r.set_id("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab");
  r.set_status(v1::JOB_STATUS_PROCESSING);
  v1::Job job;
  EXPECT_EQ(stub_->UpdateStatus(Context().get(), r, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ApiTest, ListJobsWalksEveryPageNewestFirst) {
  std::set<std::string> enqueued;
  for (int i = 0; i < 120; ++i) enqueued.insert(MustEnqueue(AJob()).id());
  MustEnqueue(AJob("+15550000009"));
  v1::ListJobsRequest request;
  request.set_user_id("+15551234567");
  std::vector<int> sizes;
  std::set<std::string> seen;
  int64_t previous_micros = INT64_MAX;
  do {
    v1::ListJobsResponse page;
    grpc::Status s = stub_->ListJobs(Context().get(), request, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    sizes.push_back(page.jobs_size());
    for (const v1::Job& job : page.jobs()) {
      EXPECT_TRUE(seen.insert(job.id()).second) << "repeated " << job.id();
      const int64_t micros = job.created_at().seconds() * 1000000 +
                             job.created_at().nanos() / 1000;
      EXPECT_LE(micros, previous_micros);
      previous_micros = micros;
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  EXPECT_EQ(sizes, (std::vector<int>{50, 50, 20}));
  EXPECT_EQ(seen, enqueued);
}

TEST_F(ApiTest, ListJobsFiltersByStatusTypeChannelAndTime) {
  v1::Job dm = MustEnqueue(AJob("+15550000001"));
  v1::EnqueueJobRequest group_request = AJob("+15550000002");
  group_request.set_source_type(v1::SOURCE_TYPE_GROUP);
  group_request.set_source_channel_id("CH0001");
  v1::Job group = MustEnqueue(group_request);
  v1::UpdateStatusRequest processing;
  processing.set_id(group.id());
  processing.set_status(v1::JOB_STATUS_PROCESSING);
  v1::Job ignored;
  ASSERT_TRUE(stub_->UpdateStatus(Context().get(), processing, &ignored).ok());

  auto ids = [&](const v1::ListJobsRequest& r) {
    v1::ListJobsResponse page;
    grpc::Status s = stub_->ListJobs(Context().get(), r, &page);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> out;
    for (const auto& j : page.jobs()) out.push_back(j.id());
    return out;
  };
  using Ids = std::vector<std::string>;
  v1::ListJobsRequest r;
  r.set_status(v1::JOB_STATUS_PROCESSING);
  EXPECT_EQ(ids(r), Ids{group.id()});
  r = {};
  r.set_source_type(v1::SOURCE_TYPE_DM);
  EXPECT_EQ(ids(r), Ids{dm.id()});
  r = {};
  r.set_source_channel_id("CH0001");
  EXPECT_EQ(ids(r), Ids{group.id()});
  r = {};
  *r.mutable_created_after() = group.created_at();
  r.mutable_created_after()->set_seconds(group.created_at().seconds() + 60);
  EXPECT_EQ(ids(r), Ids{});
  r = {};
  *r.mutable_created_before() = dm.created_at();
  EXPECT_EQ(ids(r), Ids{});
}

TEST_F(ApiTest, ListJobsRejectsBadPageSizesAndForgedTokens) {
  for (int i = 0; i < 3; ++i) MustEnqueue(AJob());
  v1::ListJobsRequest r;
  v1::ListJobsResponse page;
  r.set_page_size(-1);
  EXPECT_INVALID(stub_->ListJobs(Context().get(), r, &page), "page_size");
  r.set_page_size(1001);
  EXPECT_INVALID(stub_->ListJobs(Context().get(), r, &page), "page_size");
  r.set_page_size(1000);
  EXPECT_TRUE(stub_->ListJobs(Context().get(), r, &page).ok());
  r = {};
  r.set_page_token("bm90LWEtdG9rZW4");
  EXPECT_INVALID(stub_->ListJobs(Context().get(), r, &page), "page_token");

  r = {};
  r.set_page_size(1);
  ASSERT_TRUE(stub_->ListJobs(Context().get(), r, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  r.set_page_token(page.next_page_token());
  r.set_status(v1::JOB_STATUS_FAILED);
  EXPECT_INVALID(stub_->ListJobs(Context().get(), r, &page), "page_token");
  r.set_user_id("not-a-phone");
  r.set_page_token("");
  EXPECT_INVALID(stub_->ListJobs(Context().get(), r, &page), "user_id");
}

TEST_F(ApiTest, RecordDeadLetterCountsRepeatedDeliveries) {
  v1::RecordDeadLetterRequest r;
  r.set_source("twilio.messages");
  r.set_delivery_id("SM9");
  r.set_reason("no sender");
  (*r.mutable_raw_payload()->mutable_fields())["Body"].set_string_value("x");
  v1::DeadLetter letter;
  ASSERT_TRUE(stub_->RecordDeadLetter(Context().get(), r, &letter).ok());
  EXPECT_EQ(letter.attempts(), 1);
  ASSERT_TRUE(stub_->RecordDeadLetter(Context().get(), r, &letter).ok());
  EXPECT_EQ(letter.attempts(), 2);
  EXPECT_EQ(letter.raw_payload().fields().at("Body").string_value(), "x");
  r.set_reason("");
  EXPECT_INVALID(stub_->RecordDeadLetter(Context().get(), r, &letter),
                 "reason");
  EXPECT_EQ(Rows("dlq_jobs"), 1);
}

TEST_F(ApiTest, ReflectionListsTheServicesAsGrpcurlSeesThem) {
  auto reflection =
      grpc::reflection::v1alpha::ServerReflection::NewStub(server_->channel());
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> names;
  for (const auto& s : response.list_services_response().service()) {
    names.insert(s.name());
  }
  EXPECT_TRUE(names.count("jobqueue.v1.JobQueue"));
  EXPECT_TRUE(names.count("grpc.health.v1.Health"));

  request.set_file_containing_symbol("jobqueue.v1.JobQueue");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_GT(response.file_descriptor_response().file_descriptor_proto_size(),
            0);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ApiTest, HealthIsServing) {
  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(Context().get(), request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(ApiTest, ATokenIsRequiredWhenConfiguredExceptForHealth) {
  StartServer({.bearer_token = "t0ken"});
  v1::GetJobRequest get;
  get.set_id("7d3f2f0c-2b9e-4a55-9c1e-0123456789ab");
  v1::Job job;
  grpc::Status s = stub_->GetJob(Context().get(), get, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  auto wrong = Context();
  wrong->AddMetadata("authorization", "Bearer t0ken-not");
  s = stub_->GetJob(wrong.get(), get, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message().find("t0ken"), std::string::npos);
  v1::EnqueueJobResponse response;
  auto no_token = Context();
  EXPECT_EQ(stub_->EnqueueJob(no_token.get(), AJob(), &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Rows("jobs"), 0);

  auto right = Context();
  right->AddMetadata("authorization", "Bearer t0ken");
  EXPECT_EQ(stub_->GetJob(right.get(), get, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);

  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  grpc::health::v1::HealthCheckResponse status;
  EXPECT_TRUE(health->Check(Context().get(), {}, &status).ok());
}

TEST_F(ApiTest, ServesTlsWhenGivenACertificateAndKey) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  const std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " 2>/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  auto tls = JobQueueServer::Start({.database_url = db_->url(),
                                    .listen = "127.0.0.1:0",
                                    .tls_cert_file = cert,
                                    .tls_key_file = key,
                                    .metrics_listen = ""});
  ASSERT_TRUE(tls.ok()) << tls.status();
  std::ifstream cert_file(cert);
  std::stringstream pem;
  pem << cert_file.rdbuf();
  grpc::SslCredentialsOptions trust;
  trust.pem_root_certs = pem.str();
  auto secure = JobQueue::NewStub(
      grpc::CreateChannel((*tls)->address(), grpc::SslCredentials(trust)));
  v1::EnqueueJobResponse response;
  grpc::Status s = secure->EnqueueJob(Context().get(), AJob(), &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  auto plaintext = JobQueue::NewStub(grpc::CreateChannel(
      (*tls)->address(), grpc::InsecureChannelCredentials()));
  auto short_deadline = std::make_unique<grpc::ClientContext>();
  short_deadline->set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(2));
  EXPECT_FALSE(
      plaintext->EnqueueJob(short_deadline.get(), AJob(), &response).ok());
  (*tls)->Stop(absl::Seconds(1));
  EXPECT_EQ(Rows("jobs"), 1);

  EXPECT_EQ(JobQueueServer::Start({.database_url = db_->url(),
                                   .listen = "127.0.0.1:0",
                                   .tls_cert_file = cert,
                                   .metrics_listen = ""})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ApiTest, ADatabaseThatIsDownIsUnavailableWithinTheDeadline) {
  StartServer({.database_url = "postgresql://postgres@127.0.0.1:1/none"});
  const absl::Time start = absl::Now();
  v1::EnqueueJobResponse response;
  grpc::Status s = Enqueue(AJob(), &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace jobqueue
