// What tests send to a JobQueue server as clients.
//
//   v1::EnqueueJobRequest r = EnqueueRequest("whatsapp:+15551234567");
//   grpc::Status s = CallByName(channel, "/x.Y/Z", context.get());

#ifndef JOBQUEUE_TESTS_SUPPORT_CLIENT_CALLS_H_
#define JOBQUEUE_TESTS_SUPPORT_CLIENT_CALLS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "jobqueue/v1/jobqueue.pb.h"

namespace jobqueue {

// A DM of +15551234567 in `channel` whose payload is {"Body": body}, or no
// payload when `body` is empty.
v1::EnqueueJobRequest EnqueueRequest(const std::string& channel,
                                     const std::string& body = "hi");

// Calls `method` ("/package.Service/Method") with an empty request, as a
// client that knows only the method's name; returns the call's status.
grpc::Status CallByName(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& method,
                        grpc::ClientContext* context);

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_CLIENT_CALLS_H_
