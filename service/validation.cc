#include "service/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace jobqueue {
namespace {

// Quotes a user's value in an error message, shortened so a huge value does
// not flood logs.
std::string Quoted(absl::string_view value) {
  constexpr size_t kShown = 64;
  if (value.size() <= kShown) return absl::StrCat("\"", value, "\"");
  return absl::StrCat("\"", value.substr(0, kShown), "...\"");
}

}  // namespace

bool IsE164(absl::string_view phone) {
  if (phone.size() < 9 || phone.size() > 16 || phone[0] != '+') return false;
  for (char c : phone.substr(1)) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

bool IsUuid(absl::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !absl::ascii_isxdigit(id[i])) return false;
  }
  return true;
}

absl::Status CheckE164(absl::string_view field, absl::string_view value) {
  if (IsE164(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field,
                   " must be an E.164 phone number (+ then 8 to 15 "
                   "digits), got ",
                   Quoted(value)));
}

absl::Status CheckUuid(absl::string_view field, absl::string_view value) {
  if (IsUuid(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be a UUID, got ", Quoted(value)));
}

absl::Status CheckRequired(absl::string_view field, absl::string_view value,
                           size_t max_bytes) {
  if (value.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  return CheckMaxLength(field, value, max_bytes);
}

absl::Status CheckMaxLength(absl::string_view field, absl::string_view value,
                            size_t max_bytes) {
  if (value.size() <= max_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " is ", value.size(), " bytes; the limit is ", max_bytes));
}

absl::Status CheckRange(absl::string_view field, int value, int min, int max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " must be between ", min, " and ", max, ", got ", value));
}

absl::Status CheckPayloadSize(absl::string_view field, absl::string_view json,
                              size_t limit) {
  if (json.size() <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " is ", json.size(), " bytes as JSON; the limit is ", limit));
}

absl::StatusOr<absl::Duration> DurationField(
    absl::string_view field, bool set, const google::protobuf::Duration& d,
    absl::Duration fallback, absl::Duration min, absl::Duration max) {
  if (!set) return fallback;
  const absl::Duration value =
      absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " must be between ", absl::FormatDuration(min), " and ",
        absl::FormatDuration(max), ", got ", absl::FormatDuration(value)));
  }
  return value;
}

absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace jobqueue
