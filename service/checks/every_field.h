// The checks every request gets before its field-by-field rules, by walking
// the message with protobuf reflection, so a field added to a request later
// is covered without anyone remembering to:
//
//  - text (every string field, at any depth, and every key and string value
//    of a google.protobuf.Struct) must not contain U+0000: PostgreSQL stores
//    no U+0000 in text or JSON, and libpq passes parameters as C strings, so
//    the value would be cut there (two conversations or idempotency keys
//    merging) or refused with the database's own words;
//  - a google.protobuf.Timestamp or Duration must be valid as protobuf
//    defines it (years 0001 to 9999, nanos of the same sign, ...);
//  - an enum field must hold one of its declared numbers.
//
// Each error is INVALID_ARGUMENT naming the field as the request spells it:
// "jobs[2].lease_token", or a JSON path inside a payload, "payload.Body".
//
//   if (absl::Status s = CheckEveryField(request); !s.ok()) return s;

#ifndef JOBQUEUE_SERVICE_CHECKS_EVERY_FIELD_H_
#define JOBQUEUE_SERVICE_CHECKS_EVERY_FIELD_H_

#include <google/protobuf/message.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace jobqueue {

// OK, or INVALID_ARGUMENT naming the first offending field.
absl::Status CheckEveryField(const google::protobuf::Message& request);

// The U+0000 rule for one text field (`field` is its name in the request).
absl::Status CheckNoNul(absl::string_view field, absl::string_view value);
// The U+0000 rule for every key and string value of a Struct, named by JSON
// path from `field`.
absl::Status CheckStructText(absl::string_view field,
                             const google::protobuf::Struct& value);

// `key` as a JSON path step after `path`: path.key when key is a plain
// identifier, else path["key"] with the key JSON-escaped.
std::string JsonPathStep(absl::string_view path, absl::string_view key);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_CHECKS_EVERY_FIELD_H_
