#include "tests/support/client_calls.h"

#include <grpcpp/generic/generic_stub.h>

#include "gtest/gtest.h"

namespace jobqueue {

v1::EnqueueJobRequest EnqueueRequest(const std::string& channel,
                                     const std::string& body) {
  v1::EnqueueJobRequest r;
  r.set_user_phone("+15551234567");
  r.set_source_channel_id(channel);
  r.set_source_type(v1::SOURCE_TYPE_DM);
  if (!body.empty()) {
    (*r.mutable_payload()->mutable_fields())["Body"].set_string_value(body);
  }
  return r;
}

grpc::Status CallByName(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& method,
                        grpc::ClientContext* context) {
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  grpc::Slice empty_message("");  // an empty request, serialized
  grpc::ByteBuffer request(&empty_message, 1), response;
  auto call = generic.PrepareUnaryCall(context, method, request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response, &status, nullptr);
  void* tag;
  bool ok;
  EXPECT_TRUE(cq.Next(&tag, &ok));
  return status;
}

}  // namespace jobqueue
