// google.protobuf.Struct <-> JSON text, with RapidJSON. protobuf's own JSON
// utilities go through a type resolver and a binary copy of the message:
// about 20-30 us per payload, a tenth of an enqueue's service time.
//
//   absl::StatusOr<std::string> json = StructToJson(request.payload());
//   absl::Status s = JsonToStruct(row_json, job.mutable_payload());

#ifndef JOBQUEUE_SERVICE_MAPPING_STRUCT_JSON_H_
#define JOBQUEUE_SERVICE_MAPPING_STRUCT_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace jobqueue {

// INVALID_ARGUMENT naming `field` for a NaN or infinite number, which JSON
// cannot hold, or nesting deeper than clients can parse back (99 levels of
// protobuf messages: 33 levels of JSON objects). Integral numbers are
// written without a fraction.
absl::StatusOr<std::string> StructToJson(absl::string_view field,
                                         const google::protobuf::Struct& value);

// INTERNAL, saying why, when `json` is not a JSON object (stored JSON always
// is) or holds what a Struct cannot: a number beyond a double's range, or
// nesting deeper than StructToJson accepts.
absl::Status JsonToStruct(absl::string_view json,
                          google::protobuf::Struct* value);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_MAPPING_STRUCT_JSON_H_
