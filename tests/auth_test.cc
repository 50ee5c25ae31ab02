// What a bearer token protects, end to end: every method of
// jobqueue.v1.JobQueue, found by walking the service descriptor, so an RPC
// added later is covered without editing this test. Health and reflection
// stay open.

#include <grpcpp/grpcpp.h>

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/client_calls.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

constexpr char kToken[] = "t0ken-for-every-method";

// "/jobqueue.v1.JobQueue/CreateUser", ... in the proto's order.
std::vector<std::string> JobQueueMethods() {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
          v1::JobQueue::service_full_name());
  std::vector<std::string> paths;
  for (int i = 0; i < service->method_count(); ++i) {
    paths.push_back(absl::StrCat("/", service->full_name(), "/",
                                 service->method(i)->name()));
  }
  return paths;
}

using Reflection = grpc::reflection::v1alpha::ServerReflection;
using ReflectionStream = grpc::ClientReaderWriter<
    grpc::reflection::v1alpha::ServerReflectionRequest,
    grpc::reflection::v1alpha::ServerReflectionResponse>;

class AuthTest : public ServerTest {
 protected:
  AuthTest() : ServerTest(kByTest) {}

  void StartServer(ReflectionMode reflection) {
    ServerTest::StartServer({.bearer_token = kToken, .reflection = reflection});
  }

  // Calls `method` with an empty request and `authorization` (none when
  // empty).
  grpc::Status Call(const std::string& method,
                    const std::string& authorization) {
    auto context = CallContext(absl::Seconds(5));
    if (!authorization.empty()) {
      context->AddMetadata("authorization", authorization);
    }
    return CallByName(server_->channel(), method, context.get());
  }

  int64_t Rows(const std::string& table) { return db_->Rows(table); }

  // A reflection stream on `context` asked to list the services;
  // `*written` says whether the request went out.
  std::unique_ptr<ReflectionStream> ListServices(grpc::ClientContext* context,
                                                 bool* written) {
    reflection_ = Reflection::NewStub(server_->channel());
    auto stream = reflection_->ServerReflectionInfo(context);
    grpc::reflection::v1alpha::ServerReflectionRequest request;
    request.set_list_services("");
    *written = stream->Write(request);
    return stream;
  }

  std::unique_ptr<Reflection::Stub> reflection_;
};

TEST_F(AuthTest, EveryJobQueueMethodNeedsTheToken) {
  StartServer(ReflectionMode::kOpen);
  const std::vector<std::string> methods = JobQueueMethods();
  ASSERT_GE(methods.size(), 12u);
  for (const std::string& method : methods) {
    for (const std::string& authorization :
         {std::string(""), std::string("Bearer wrong"),
          std::string("Basic ") + kToken, std::string(kToken)}) {
      const grpc::Status s = Call(method, authorization);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << method << " with '" << authorization << "': " << s.error_message();
      EXPECT_EQ(s.error_message().find(kToken), std::string::npos);
    }
  }
  EXPECT_EQ(Rows("users"), 0);
  EXPECT_EQ(Rows("jobs"), 0);
  EXPECT_EQ(Rows("dlq_jobs"), 0);
}

TEST_F(AuthTest, WithTheTokenEveryMethodReachesItsHandler) {
  StartServer(ReflectionMode::kOpen);
  for (const std::string& method : JobQueueMethods()) {
    // The handler answers an empty request (ListJobs lists everything; the
    // others name a missing field), which shows the call got past the check.
    const grpc::Status s = Call(method, absl::StrCat("Bearer ", kToken));
    EXPECT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
        << method << ": " << s.error_code() << " " << s.error_message();
  }
}

TEST_F(AuthTest, HealthAndOpenReflectionNeedNoToken) {
  StartServer(ReflectionMode::kOpen);
  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  grpc::health::v1::HealthCheckResponse status;
  ASSERT_TRUE(health->Check(CallContext().get(), {}, &status).ok());
  EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto context = CallContext();
  bool written = false;
  auto stream = ListServices(context.get(), &written);
  ASSERT_TRUE(written);
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  bool listed = false;
  for (const auto& s : response.list_services_response().service()) {
    listed |= s.name() == "jobqueue.v1.JobQueue";
  }
  EXPECT_TRUE(listed);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(AuthTest, ReflectionOffIsNotServed) {
  StartServer(ReflectionMode::kOff);
  auto context = CallContext();
  bool written = false;
  auto stream = ListServices(context.get(), &written);
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);

  auto health = grpc::health::v1::Health::NewStub(server_->channel());
  grpc::health::v1::HealthCheckResponse status;
  EXPECT_TRUE(health->Check(CallContext().get(), {}, &status).ok());
}

}  // namespace
}  // namespace jobqueue
