#include "service/mapping/page_token.h"

#include <openssl/sha.h>

#include <cstdint>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/checks/field_rules.h"

namespace jobqueue {
namespace {

constexpr char kVersion[] = "1";
// The times a cursor can hold: those of a valid google.protobuf.Timestamp
// (0001-01-01 to 9999-12-31), in microseconds. A token outside them was not
// issued by a server.
constexpr int64_t kMinCursorMicros = -62135596800LL * 1000000;
constexpr int64_t kMaxCursorMicros = 253402300800LL * 1000000 - 1;

int64_t MicrosOrSentinel(absl::Time t) {
  if (t == absl::InfinitePast()) return INT64_MIN;
  if (t == absl::InfiniteFuture()) return INT64_MAX;
  return absl::ToUnixMicros(t);
}

absl::Status Malformed() {
  return absl::InvalidArgumentError(
      "page_token is malformed; pass next_page_token from a previous "
      "ListJobs response unchanged");
}

}  // namespace

std::string FilterFingerprint(const JobFilter& filter) {
  const std::string text = absl::StrCat(
      filter.user_id, "\n",
      filter.status.has_value() ? JobStatusName(*filter.status) : "", "\n",
      filter.source_channel_id, "\n", filter.source_type, "\n",
      MicrosOrSentinel(filter.created_after), "\n",
      MicrosOrSentinel(filter.created_before));
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), 8));
}

std::string EncodePageToken(const JobCursor& cursor,
                            absl::string_view fingerprint) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(kVersion, ":", absl::ToUnixMicros(cursor.created_at), ":",
                   cursor.id, ":", fingerprint));
}

absl::StatusOr<JobCursor> DecodePageToken(absl::string_view token,
                                          absl::string_view fingerprint) {
  std::string text;
  if (!absl::WebSafeBase64Unescape(token, &text)) return Malformed();
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  int64_t micros;
  if (parts.size() != 4 || parts[0] != kVersion ||
      !absl::SimpleAtoi(parts[1], &micros) || micros < kMinCursorMicros ||
      micros > kMaxCursorMicros || !IsUuid(parts[2])) {
    return Malformed();
  }
  if (parts[3] != fingerprint) {
    return absl::InvalidArgumentError(
        "page_token was issued for different filters; repeat the request "
        "with the same filters or drop the token");
  }
  return JobCursor{absl::FromUnixMicros(micros), std::string(parts[2])};
}

}  // namespace jobqueue
