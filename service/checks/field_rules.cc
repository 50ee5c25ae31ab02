#include "service/checks/field_rules.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "storage/queue_name.h"

namespace jobqueue {
namespace {

// timestamp.proto: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
// duration.proto: about 10,000 years.
constexpr int64_t kMaxDurationSeconds = 315576000000;
constexpr int32_t kMaxNanos = 999999999;

// Quotes a user's value in an error message, shortened so a huge value does
// not flood logs, with control characters escaped (\u0000) so the message
// stays one printable line.
std::string Quoted(absl::string_view value) {
  constexpr size_t kShown = 64;
  const bool cut = value.size() > kShown;
  std::string out = "\"";
  for (char c : value.substr(0, kShown)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      absl::StrAppend(&out, "\\u00", absl::Hex(u, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  return absl::StrCat(out, cut ? "...\"" : "\"");
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

absl::Status CheckQueueName(absl::string_view field, absl::string_view value) {
  if (IsQueueName(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field,
      " must be 1 to 64 letters, digits, '_', '.', ':' or '-', starting "
      "with a letter or digit, got ",
      Quoted(value)));
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
  if (absl::Status s = CheckDuration(field, d); !s.ok()) return s;
  const absl::Duration value =
      absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
  if (value < min || value > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " must be between ", absl::FormatDuration(min), " and ",
        absl::FormatDuration(max), ", got ", absl::FormatDuration(value)));
  }
  return value;
}

absl::Status CheckTimestamp(absl::string_view field,
                            const google::protobuf::Timestamp& value) {
  if (value.seconds() < kMinTimestampSeconds ||
      value.seconds() > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".seconds must be between ", kMinTimestampSeconds,
                     " (0001-01-01T00:00:00Z) and ", kMaxTimestampSeconds,
                     " (9999-12-31T23:59:59Z), got ", value.seconds()));
  }
  if (value.nanos() < 0 || value.nanos() > kMaxNanos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".nanos must be between 0 and ", kMaxNanos,
                     ", got ", value.nanos()));
  }
  return absl::OkStatus();
}

absl::Status CheckDuration(absl::string_view field,
                           const google::protobuf::Duration& value) {
  if (value.seconds() < -kMaxDurationSeconds ||
      value.seconds() > kMaxDurationSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".seconds must be between -", kMaxDurationSeconds, " and ",
        kMaxDurationSeconds, " (10,000 years), got ", value.seconds()));
  }
  if (value.nanos() < -kMaxNanos || value.nanos() > kMaxNanos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".nanos must be between -", kMaxNanos, " and ",
                     kMaxNanos, ", got ", value.nanos()));
  }
  if ((value.seconds() > 0 && value.nanos() < 0) ||
      (value.seconds() < 0 && value.nanos() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " has seconds ", value.seconds(), " and nanos ", value.nanos(),
        "; the nanos of a google.protobuf.Duration must have the sign of its "
        "seconds"));
  }
  return absl::OkStatus();
}

absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace jobqueue
