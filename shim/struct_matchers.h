// Test matchers for google.protobuf.Struct payloads.
//
//   EXPECT_THAT(request.payload(), EqualsJson(R"({"Body": "hi"})"));
#ifndef JOBQUEUE_SHIM_STRUCT_MATCHERS_H_
#define JOBQUEUE_SHIM_STRUCT_MATCHERS_H_

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace jobqueue::shim {

// Matches a Struct equal, as a JSON value, to the object `json`: the order of
// keys does not matter, the order of array elements does.
MATCHER_P(EqualsJson, json, "equals " + std::string(json)) {
  google::protobuf::Struct expected;
  if (!google::protobuf::util::JsonStringToMessage(json, &expected).ok()) {
    *result_listener << "the expected JSON does not parse";
    return false;
  }
  std::string actual;
  if (google::protobuf::util::MessageToJsonString(arg, &actual).ok()) {
    *result_listener << "is " << actual;
  }
  return google::protobuf::util::MessageDifferencer::Equals(arg, expected);
}

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_STRUCT_MATCHERS_H_
