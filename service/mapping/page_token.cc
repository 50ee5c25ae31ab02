#include "service/mapping/page_token.h"

#include <openssl/sha.h>

#include <cstdint>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "schedule/recurrence.h"
#include "service/checks/field_rules.h"

namespace jobqueue {
namespace {

constexpr char kVersion[] = "1";
// ListUsers' tokens: a version of their own, so neither list reads the
// other's tokens.
constexpr char kUserVersion[] = "u1";
// ListSchedules' tokens: this prefix, then a schedule name (which may hold
// ':').
constexpr char kSchedulePrefix[] = "s1:";
// ListDeadLetters' tokens: a version of their own.
constexpr char kDeadLetterVersion[] = "d1";
// ListConversations' tokens: this version, the cursor's time in
// microseconds, then the queue asked for and the conversation key, each in
// web-safe base64 (both may hold ':').
constexpr char kConversationVersion[] = "c1";
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

absl::Status Malformed(absl::string_view method = "ListJobs") {
  return absl::InvalidArgumentError(
      absl::StrCat("page_token is malformed; pass next_page_token from a "
                   "previous ",
                   method, " response unchanged"));
}

// A well-formed token of the other list.
absl::Status OtherList(absl::string_view issuer, absl::string_view method) {
  return absl::InvalidArgumentError(absl::StrCat(
      "page_token was issued by ", issuer, ", not ", method,
      "; pass next_page_token from a previous ", method, " response"));
}

std::string Digest(absl::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), 8));
}

// The parts of a token: version, micros, key, fingerprint; empty when it is
// not base64 of four parts.
std::vector<std::string> TokenParts(absl::string_view token) {
  std::string text;
  if (!absl::WebSafeBase64Unescape(token, &text)) return {};
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  if (parts.size() != 4) return {};
  return parts;
}

// A cursor time a server can have issued.
bool CursorMicros(absl::string_view text, int64_t* micros) {
  return absl::SimpleAtoi(text, micros) && *micros >= kMinCursorMicros &&
         *micros <= kMaxCursorMicros;
}

}  // namespace

std::string FilterFingerprint(const JobFilter& filter) {
  const std::string text = absl::StrCat(
      filter.user_id, "\n",
      filter.status.has_value() ? JobStatusName(*filter.status) : "", "\n",
      filter.source_channel_id, "\n", filter.source_type, "\n",
      MicrosOrSentinel(filter.created_after), "\n",
      MicrosOrSentinel(filter.created_before));
  return Digest(text);
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
  if (parts.size() == 4 && parts[0] == kUserVersion) {
    return OtherList("ListUsers", "ListJobs");
  }
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

std::string UserFilterFingerprint(const UserFilter& filter) {
  return Digest(absl::StrCat("users\n", MicrosOrSentinel(filter.created_after),
                             "\n", MicrosOrSentinel(filter.created_before)));
}

std::string EncodeUserPageToken(const UserCursor& cursor,
                                absl::string_view fingerprint) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(kUserVersion, ":", absl::ToUnixMicros(cursor.created_at),
                   ":", cursor.phone_number, ":", fingerprint));
}

absl::StatusOr<UserCursor> DecodeUserPageToken(absl::string_view token,
                                               absl::string_view fingerprint) {
  const std::vector<std::string> parts = TokenParts(token);
  if (parts.empty()) return Malformed("ListUsers");
  if (parts[0] == kVersion) return OtherList("ListJobs", "ListUsers");
  int64_t micros;
  if (parts[0] != kUserVersion || !CursorMicros(parts[1], &micros) ||
      !IsE164(parts[2])) {
    return Malformed("ListUsers");
  }
  if (parts[3] != fingerprint) {
    return absl::InvalidArgumentError(
        "page_token was issued for different filters; repeat the request "
        "with the same filters or drop the token");
  }
  return UserCursor{absl::FromUnixMicros(micros), parts[2]};
}

std::string EncodeSchedulePageToken(absl::string_view name) {
  return absl::WebSafeBase64Escape(absl::StrCat(kSchedulePrefix, name));
}

absl::StatusOr<std::string> DecodeSchedulePageToken(absl::string_view token) {
  std::string text;
  if (!absl::WebSafeBase64Unescape(token, &text) ||
      !absl::StartsWith(text, kSchedulePrefix) ||
      !IsScheduleName(
          absl::string_view(text).substr(sizeof(kSchedulePrefix) - 1))) {
    return Malformed("ListSchedules");
  }
  return text.substr(sizeof(kSchedulePrefix) - 1);
}

std::string DeadLetterFilterFingerprint(const DeadLetterFilter& filter) {
  // Lengths first, so no two filters write the same text.
  return Digest(absl::StrCat(
      "dead_letters\n", filter.source.size(), ":", filter.source, "\n",
      filter.reason_contains.size(), ":", filter.reason_contains, "\n",
      MicrosOrSentinel(filter.since), "\n", MicrosOrSentinel(filter.until)));
}

std::string EncodeDeadLetterPageToken(const DeadLetterCursor& cursor,
                                      absl::string_view fingerprint) {
  return absl::WebSafeBase64Escape(absl::StrCat(
      kDeadLetterVersion, ":", absl::ToUnixMicros(cursor.last_seen_at), ":",
      cursor.id, ":", fingerprint));
}

absl::StatusOr<DeadLetterCursor> DecodeDeadLetterPageToken(
    absl::string_view token, absl::string_view fingerprint) {
  const std::vector<std::string> parts = TokenParts(token);
  if (parts.empty()) return Malformed("ListDeadLetters");
  if (parts[0] == kVersion) return OtherList("ListJobs", "ListDeadLetters");
  if (parts[0] == kUserVersion) {
    return OtherList("ListUsers", "ListDeadLetters");
  }
  int64_t micros;
  if (parts[0] != kDeadLetterVersion || !CursorMicros(parts[1], &micros) ||
      !IsUuid(parts[2])) {
    return Malformed("ListDeadLetters");
  }
  if (parts[3] != fingerprint) {
    return absl::InvalidArgumentError(
        "page_token was issued for different filters; repeat the request "
        "with the same filters or drop the token");
  }
  return DeadLetterCursor{absl::FromUnixMicros(micros), parts[2]};
}

std::string EncodeConversationPageToken(const ConversationCursor& cursor,
                                        absl::string_view queue) {
  return absl::WebSafeBase64Escape(absl::StrCat(
      kConversationVersion, ":", absl::ToUnixMicros(cursor.waiting_since), ":",
      absl::WebSafeBase64Escape(queue), ":",
      absl::WebSafeBase64Escape(cursor.conversation)));
}

absl::StatusOr<ConversationCursor> DecodeConversationPageToken(
    absl::string_view token, absl::string_view queue) {
  const std::vector<std::string> parts = TokenParts(token);
  int64_t micros;
  std::string token_queue;
  std::string conversation;
  if (parts.empty() || parts[0] != kConversationVersion ||
      !CursorMicros(parts[1], &micros) ||
      !absl::WebSafeBase64Unescape(parts[2], &token_queue) ||
      !absl::WebSafeBase64Unescape(parts[3], &conversation) ||
      conversation.empty() || conversation.find('\0') != std::string::npos) {
    return Malformed("ListConversations");
  }
  if (token_queue != queue) {
    return absl::InvalidArgumentError(
        "page_token was issued for a different queue; repeat the request "
        "with the same queue or drop the token");
  }
  return ConversationCursor{absl::FromUnixMicros(micros), conversation};
}

}  // namespace jobqueue
