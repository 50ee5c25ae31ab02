// A delivery's parameters as the JSON object that becomes a job's payload:
// every parameter Twilio sent, nothing dropped, nothing renamed.
//
//   google::protobuf::Struct payload = FormToPayload(
//       {{"Body", "hi"}, {"MediaUrl0", "a"}, {"Tag", "x"}, {"Tag", "y"}});
//   // {"Body": "hi", "MediaUrl0": "a", "Tag": ["x", "y"]}
//   PayloadText(payload, "Body");  // "hi"
//
//   FormToPayload({{"Body", std::string("a\0b", 3)}});
//   // {"Body": "a\uFFFDb", "_jobqueue_replaced_nul": ["Body"]}
#ifndef JOBQUEUE_SHIM_DELIVERY_DELIVERY_PAYLOAD_H_
#define JOBQUEUE_SHIM_DELIVERY_DELIVERY_PAYLOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "shim/webhook/form_parser.h"

namespace jobqueue::shim {

// The field the shim adds to a payload in which it replaced U+0000: a list
// of the names of the top-level fields (as stored) whose name or value held
// it, sorted. PostgreSQL cannot store U+0000 in text or jsonb, so a payload
// that kept it could become neither a job nor a dead letter. A field of this
// name sent by the caller is overwritten when a replacement was made, and
// kept as sent otherwise.
inline constexpr char kReplacedNulField[] = "_jobqueue_replaced_nul";

// Replaces U+0000 with U+FFFD (the replacement character) in every string of
// `payload`, object keys and values at any depth, and records the top-level
// fields where it did so in kReplacedNulField. A key that would then equal
// another key gets more U+FFFD appended until it is unique. False when
// `payload` held no U+0000 (and is unchanged).
bool ReplaceNulCharacters(google::protobuf::Struct* payload);

// `text` with each U+0000 replaced by U+FFFD.
std::string WithoutNul(absl::string_view text);

// A name sent once maps to its string value; a name sent more than once maps
// to an array of its string values in the order they were sent. U+0000 is
// replaced (see ReplaceNulCharacters).
google::protobuf::Struct FormToPayload(const FormParams& params);

// The payload of a JSON delivery: `body` must be a JSON object, kept as is
// but for U+0000 (see ReplaceNulCharacters). INVALID_ARGUMENT otherwise.
absl::StatusOr<google::protobuf::Struct> JsonToPayload(absl::string_view body);

// The text of field `name`: a string as is, a number or bool as JSON writes
// it, the first element of an array. Empty when the field is absent, null, an
// object or an empty array.
std::string PayloadText(const google::protobuf::Struct& payload,
                        absl::string_view name);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_DELIVERY_DELIVERY_PAYLOAD_H_
