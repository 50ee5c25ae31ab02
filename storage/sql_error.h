// The one mapping from libpqxx exceptions to absl::Status. Callers (and, via
// the service, gRPC clients) get a code and a message a person can act on,
// naming the field or the state when the database says which (a constraint,
// a column); never the database's own text, which names neither the field
// nor the fix and may carry internals. The database's first line goes to
// the log (stderr) instead, with the SQLSTATE.
//
//   try { ... } catch (...) { return StatusFromCurrentException(); }

#ifndef JOBQUEUE_STORAGE_SQL_ERROR_H_
#define JOBQUEUE_STORAGE_SQL_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace jobqueue {

// Maps a SQLSTATE to a status code: unique violation -> ALREADY_EXISTS,
// foreign key -> NOT_FOUND, check / not-null / bad input (class 22, data
// exceptions such as U+0000 in JSON, an out-of-range time or number) ->
// INVALID_ARGUMENT, serialization failure / deadlock -> ABORTED,
// insufficient privilege (e.g. row-level security) -> PERMISSION_DENIED,
// connection errors and shutdown -> UNAVAILABLE, statement timeout ->
// DEADLINE_EXCEEDED, anything else -> INTERNAL.
absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate);

// The message for a SQL error with `sqlstate` whose first line (the
// database's text, only read for the constraint or column it names) is
// `first_line`, e.g. "source_type must be 'dm' or 'group' (constraint
// jobs_source_type_check, SQLSTATE 23514)".
std::string MessageForSqlError(absl::string_view sqlstate,
                               absl::string_view first_line);

// Must be called inside a catch block. Broken connections become
// UNAVAILABLE, an unknown commit outcome UNKNOWN, SQL errors as above, any
// other exception INTERNAL; each is logged with the database's words and
// `statement`, the name of the statement that failed (see
// named_queries.h) when known.
absl::Status StatusFromCurrentException(absl::string_view statement = "");

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_SQL_ERROR_H_
