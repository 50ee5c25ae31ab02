// What the shim checks before it answers 200 for a delivery, so that it never
// acknowledges (or spools) a delivery it could not read back later.
//
// Protobuf refuses to parse messages nested more than 100 levels deep, and
// each level of a JSON body is several levels of google.protobuf.Struct in a
// SpooledDelivery: a body nested 40 levels deep (or 50 levels of arrays) used
// to be accepted, spooled, and then unreadable on replay.
//
//   absl::Status depth = CheckJsonNestingDepth(body);   // before parsing it
//   absl::Status readable = CheckReadsBack(delivery);   // before dispatch
#ifndef JOBQUEUE_SHIM_DELIVERY_DELIVERY_LIMITS_H_
#define JOBQUEUE_SHIM_DELIVERY_DELIVERY_LIMITS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "shim/spool/spooled_delivery.pb.h"

namespace jobqueue::shim {

// The deepest nesting of objects and arrays a JSON delivery may have (the
// top-level object is level 1). Well under what protobuf reads back: a level
// of objects is 3 levels of messages, so 33 is the most a SpooledDelivery
// holds; Twilio's own deliveries nest a few levels at most.
inline constexpr int kMaxJsonNestingDepth = 20;

// INVALID_ARGUMENT when the JSON text `json` nests objects and arrays more
// than `max_depth` levels deep; OK otherwise, whether or not it is valid JSON
// (parsing it tells that).
absl::Status CheckJsonNestingDepth(absl::string_view json,
                                   int max_depth = kMaxJsonNestingDepth);

// INVALID_ARGUMENT when `delivery` does not serialize, or its serialized form
// does not parse back (as the spool's replay and the service would parse it).
absl::Status CheckReadsBack(const SpooledDelivery& delivery);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_DELIVERY_DELIVERY_LIMITS_H_
