// libFuzzer target: a ListJobs or ListUsers page_token, which any client may
// send. Input: one byte choosing the list (bit 8: ListUsers) and the filters
// the token is checked against, then the token's bytes. A token that decodes
// must encode back to one that decodes to the same position.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "service/mapping/page_token.h"
#include "storage/job_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace jobqueue;
  if (size == 0) return 0;
  if (data[0] & 8) {
    UserFilter filter;
    if (data[0] & 4) filter.created_after = absl::FromUnixSeconds(1700000000);
    const std::string fingerprint = UserFilterFingerprint(filter);
    absl::string_view token(reinterpret_cast<const char*>(data + 1), size - 1);
    absl::StatusOr<UserCursor> cursor = DecodeUserPageToken(token, fingerprint);
    if (!cursor.ok()) return 0;
    std::string again = EncodeUserPageToken(*cursor, fingerprint);
    absl::StatusOr<UserCursor> back = DecodeUserPageToken(again, fingerprint);
    if (!back.ok() || back->phone_number != cursor->phone_number ||
        back->created_at != cursor->created_at) {
      std::abort();
    }
    return 0;
  }
  JobFilter filter;
  if (data[0] & 1) filter.user_id = "6b1f3a52-0f4e-4a43-9d59-7d2e8b0e1c11";
  if (data[0] & 2) filter.source_channel_id = "sms";
  if (data[0] & 4) filter.created_after = absl::FromUnixSeconds(1700000000);
  const std::string fingerprint = FilterFingerprint(filter);
  absl::string_view token(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<JobCursor> cursor = DecodePageToken(token, fingerprint);
  if (!cursor.ok()) return 0;
  std::string again = EncodePageToken(*cursor, fingerprint);
  absl::StatusOr<JobCursor> back = DecodePageToken(again, fingerprint);
  if (!back.ok() || back->id != cursor->id ||
      back->created_at != cursor->created_at) {
    std::abort();
  }
  return 0;
}
