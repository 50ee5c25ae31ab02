// Decodes application/x-www-form-urlencoded bodies, the format in which Twilio
// posts webhook parameters.
//
//   absl::StatusOr<FormParams> params =
//       ParseFormUrlEncoded("Body=hi+there&From=%2B14155238886");
//   // *params == {{"Body", "hi there"}, {"From", "+14155238886"}}
#ifndef JOBQUEUE_SHIM_WEBHOOK_FORM_PARSER_H_
#define JOBQUEUE_SHIM_WEBHOOK_FORM_PARSER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jobqueue::shim {

// Name-value pairs in the order they were sent; a name may repeat.
using FormParams = std::vector<std::pair<std::string, std::string>>;

// Splits `body` on '&' and each part on its first '='. Names and values are
// decoded: '+' becomes a space and %XX the byte XX. A part without '=' is a
// name with an empty value; empty parts ("a=1&&b=2", a trailing '&') are
// skipped. Returns INVALID_ARGUMENT naming the offset of the problem for a
// '%' not followed by two hex digits, an empty name, or decoded text that is
// not UTF-8.
absl::StatusOr<FormParams> ParseFormUrlEncoded(absl::string_view body);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_WEBHOOK_FORM_PARSER_H_
