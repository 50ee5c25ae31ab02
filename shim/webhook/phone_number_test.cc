#include "shim/webhook/phone_number.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace jobqueue::shim {
namespace {

TEST(AddressToE164Test, KeepsAPlainNumber) {
  EXPECT_EQ(AddressToE164("+14155238886").value(), "+14155238886");
}

TEST(AddressToE164Test, StripsTheChannelPrefix) {
  EXPECT_EQ(AddressToE164("whatsapp:+14155238886").value(), "+14155238886");
  EXPECT_EQ(AddressToE164("sms:+447700900123").value(), "+447700900123");
}

TEST(AddressToE164Test, AcceptsEightToFifteenDigits) {
  EXPECT_EQ(AddressToE164("+12345678").value(), "+12345678");
  EXPECT_EQ(AddressToE164("+123456789012345").value(), "+123456789012345");
  EXPECT_FALSE(AddressToE164("+1234567").ok());
  EXPECT_FALSE(AddressToE164("+1234567890123456").ok());
}

TEST(AddressToE164Test, RejectsWhatIsNotANumber) {
  for (const char* address :
       {"", "14155238886", "whatsapp:", "+1 415 523 8886", "+1415523888a",
        "messenger:1234567890", "alice", "+", "whatsapp:+1-415-523-8886"}) {
    absl::StatusOr<std::string> number = AddressToE164(address);
    EXPECT_EQ(number.status().code(), absl::StatusCode::kInvalidArgument)
        << address;
  }
}

}  // namespace
}  // namespace jobqueue::shim
