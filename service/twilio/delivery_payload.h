// A delivery's parameters as the JSON object that becomes a job's payload:
// every parameter Twilio sent, nothing dropped, nothing renamed.
//
//   google::protobuf::Struct payload = FormToPayload(
//       {{"Body", "hi"}, {"MediaUrl0", "a"}, {"Tag", "x"}, {"Tag", "y"}});
//   // {"Body": "hi", "MediaUrl0": "a", "Tag": ["x", "y"]}
//   PayloadText(payload, "Body");  // "hi"
#ifndef SERVICE_TWILIO_DELIVERY_PAYLOAD_H_
#define SERVICE_TWILIO_DELIVERY_PAYLOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "service/twilio/form_parser.h"

namespace jobqueue::twilio {

// A name sent once maps to its string value; a name sent more than once maps
// to an array of its string values in the order they were sent.
google::protobuf::Struct FormToPayload(const FormParams& params);

// The payload of a JSON delivery: `body` must be a JSON object, kept as is.
// INVALID_ARGUMENT otherwise.
absl::StatusOr<google::protobuf::Struct> JsonToPayload(absl::string_view body);

// The text of field `name`: a string as is, a number or bool as JSON writes
// it, the first element of an array. Empty when the field is absent, null, an
// object or an empty array.
std::string PayloadText(const google::protobuf::Struct& payload,
                        absl::string_view name);

}  // namespace jobqueue::twilio

#endif  // SERVICE_TWILIO_DELIVERY_PAYLOAD_H_
