// Turns the addresses Twilio uses for people into E.164 phone numbers.
//
//   AddressToE164("whatsapp:+14155238886")  // "+14155238886"
//   AddressToE164("+14155238886")           // "+14155238886"
//   AddressToE164("messenger:1234")         // INVALID_ARGUMENT
#ifndef JOBQUEUE_SHIM_WEBHOOK_PHONE_NUMBER_H_
#define JOBQUEUE_SHIM_WEBHOOK_PHONE_NUMBER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jobqueue::shim {

// The E.164 number ("+" then 8 to 15 digits) in `address` after its channel
// prefix ("whatsapp:", "sms:", any "<channel>:"). INVALID_ARGUMENT, saying
// why, when `address` is empty or holds no such number.
absl::StatusOr<std::string> AddressToE164(absl::string_view address);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_WEBHOOK_PHONE_NUMBER_H_
