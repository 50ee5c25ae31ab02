#include "shim/delivery/delivery_limits.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace jobqueue::shim {

absl::Status CheckJsonNestingDepth(absl::string_view json, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // The escaped character cannot end the string.
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > max_depth) {
          return absl::InvalidArgumentError(absl::StrCat(
              "JSON body: nested more than ", max_depth,
              " levels deep (at offset ", i, "); at most ", max_depth,
              " levels of objects and arrays are accepted"));
        }
        break;
      case '}':
      case ']':
        --depth;
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckReadsBack(const SpooledDelivery& delivery) {
  std::string serialized;
  if (!delivery.SerializeToString(&serialized)) {
    return absl::InvalidArgumentError("the delivery cannot be serialized");
  }
  SpooledDelivery parsed;
  if (!parsed.ParseFromString(serialized)) {
    return absl::InvalidArgumentError(
        "the delivery does not parse back as a SpooledDelivery (beyond "
        "protobuf's limits, such as 100 levels of nested messages), so it "
        "could be neither spooled nor replayed");
  }
  return absl::OkStatus();
}

}  // namespace jobqueue::shim
