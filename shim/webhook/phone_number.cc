#include "shim/webhook/phone_number.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace jobqueue::shim {

absl::StatusOr<std::string> AddressToE164(absl::string_view address) {
  if (address.empty()) {
    return absl::InvalidArgumentError("the sender address is empty");
  }
  absl::string_view number = address;
  const size_t colon = number.find(':');
  if (colon != absl::string_view::npos) number.remove_prefix(colon + 1);
  const absl::string_view digits = absl::ClippedSubstr(number, 1);
  const bool all_digits =
      !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) {
        return absl::ascii_isdigit(c);
      });
  if (number.empty() || number[0] != '+' || !all_digits || digits.size() < 8 ||
      digits.size() > 15) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the sender address \"", address,
        "\" holds no E.164 phone number (\"+\" then 8 to 15 digits)"));
  }
  return std::string(number);
}

}  // namespace jobqueue::shim
