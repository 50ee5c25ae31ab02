// Opaque ListJobs, ListUsers, ListSchedules and ListDeadLetters page tokens: a
// position in the newest-first order bound to the filters of the request that
// produced it. Each list has tokens of its own: one given to the other list is
// refused.
//
//   std::string token = EncodePageToken(cursor, FilterFingerprint(filter));
//   absl::StatusOr<JobCursor> c = DecodePageToken(token, fingerprint);

#ifndef JOBQUEUE_SERVICE_MAPPING_PAGE_TOKEN_H_
#define JOBQUEUE_SERVICE_MAPPING_PAGE_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/job_store.h"

namespace jobqueue {

// A stable digest of the filters (the same in every replica).
std::string FilterFingerprint(const JobFilter& filter);

std::string EncodePageToken(const JobCursor& cursor,
                            absl::string_view fingerprint);

// INVALID_ARGUMENT naming page_token when the token is malformed or was
// issued for other filters.
absl::StatusOr<JobCursor> DecodePageToken(absl::string_view token,
                                          absl::string_view fingerprint);

// The same for ListUsers: a stable digest of its filter, which never equals
// a ListJobs fingerprint.
std::string UserFilterFingerprint(const UserFilter& filter);

std::string EncodeUserPageToken(const UserCursor& cursor,
                                absl::string_view fingerprint);

// INVALID_ARGUMENT naming page_token when the token is malformed, was
// issued for other filters, or is a ListJobs token.
absl::StatusOr<UserCursor> DecodeUserPageToken(absl::string_view token,
                                               absl::string_view fingerprint);

// ListSchedules' tokens: the last name of a page.
std::string EncodeSchedulePageToken(absl::string_view name);

// INVALID_ARGUMENT naming page_token when the token is malformed or is
// another list's.
absl::StatusOr<std::string> DecodeSchedulePageToken(absl::string_view token);

// ListDeadLetters' tokens: a position in its newest-first order bound to
// its filter, with a version of their own.
std::string DeadLetterFilterFingerprint(const DeadLetterFilter& filter);

std::string EncodeDeadLetterPageToken(const DeadLetterCursor& cursor,
                                      absl::string_view fingerprint);

// INVALID_ARGUMENT naming page_token when the token is malformed, was
// issued for other filters, or is another list's.
absl::StatusOr<DeadLetterCursor> DecodeDeadLetterPageToken(
    absl::string_view token, absl::string_view fingerprint);
// ListConversations' tokens: a place in its order, bound to the queue asked
// for ("" for every queue).
std::string EncodeConversationPageToken(const ConversationCursor& cursor,
                                        absl::string_view queue);

// INVALID_ARGUMENT naming page_token when the token is malformed, another
// list's, or was issued for another queue.
absl::StatusOr<ConversationCursor> DecodeConversationPageToken(
    absl::string_view token, absl::string_view queue);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_MAPPING_PAGE_TOKEN_H_
