// The one mapping from libpqxx exceptions to absl::Status.
//
//   try { ... } catch (...) { return StatusFromCurrentException(); }

#ifndef JOBQUEUE_STORAGE_SQL_ERROR_H_
#define JOBQUEUE_STORAGE_SQL_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace jobqueue {

// Maps a SQLSTATE to a status code: unique violation -> ALREADY_EXISTS,
// foreign key -> NOT_FOUND, check / not-null / bad input -> INVALID_ARGUMENT,
// serialization failure / deadlock -> ABORTED, insufficient privilege
// (e.g. row-level security) -> PERMISSION_DENIED, connection errors and
// shutdown -> UNAVAILABLE, anything else -> INTERNAL.
absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate);

// Must be called inside a catch block. Broken connections become
// UNAVAILABLE, an unknown commit outcome UNKNOWN, SQL errors as above.
absl::Status StatusFromCurrentException();

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_SQL_ERROR_H_
