#include "storage/sql_error.h"

#include <unistd.h>

#include <exception>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace jobqueue {
namespace {

std::string FirstLine(absl::string_view text) {
  absl::string_view line = text.substr(0, text.find('\n'));
  return std::string(absl::StripAsciiWhitespace(line));
}

// The name in `text` after `marker` up to the closing quote ("constraint \""
// or "column \""), or empty.
std::string QuotedAfter(absl::string_view text, absl::string_view marker) {
  const size_t start = text.find(marker);
  if (start == absl::string_view::npos) return "";
  absl::string_view rest = text.substr(start + marker.size());
  const size_t end = rest.find('"');
  if (end == absl::string_view::npos) return "";
  return std::string(rest.substr(0, end));
}

struct ConstraintText {
  const char* name;
  const char* message;
};

// What each constraint of the schema (migrations/) means for a caller. The
// service checks all of these before a statement runs; these messages are
// for a rule that slipped through or a client of the store other than it.
constexpr ConstraintText kConstraints[] = {
    {"users_phone_number_e164",
     "the phone number must be E.164 (+ then 8 to 15 digits)"},
    {"users_pkey", "a user with this phone number already exists"},
    {"jobs_pkey", "a job with this id already exists"},
    {"jobs_source_channel_id_not_empty", "source_channel_id is required"},
    {"jobs_source_type_check", "source_type must be 'dm' or 'group'"},
    {"jobs_payload_is_object", "payload must be a JSON object"},
    {"jobs_status_check",
     "status must be pending, processing, complete, failed, cancelled or "
     "scheduled"},
    {"jobs_result_is_object", "result must be a JSON object"},
    {"jobs_attempt_errors_is_array", "attempt_errors must be a JSON array"},
    {"jobs_content_type_check",
     "content_type must be text, image, audio, video, document, location or "
     "other"},
    {"jobs_idempotency_key_key", "idempotency_key is taken by another job"},
    {"jobs_idempotency_key_length",
     "idempotency_key must be 1 to 255 characters"},
    {"jobs_user_id_fkey", "the job's user (user_id) does not exist"},
    {"jobs_attempts_not_negative", "attempts cannot be negative"},
    {"jobs_max_attempts_positive", "max_attempts must be at least 1"},
    {"jobs_max_run_ms_range", "max_run_time must be between 1s and 24h"},
    {"queues_max_run_ms_range", "max_run_time must be between 1s and 24h"},
    {"jobs_lease_only_when_processing",
     "only a processing job can hold a lease"},
    {"dlq_jobs_source_not_empty", "source is required"},
    {"dlq_jobs_reason_not_empty", "reason is required"},
    {"dlq_jobs_attempts_positive", "attempts must be at least 1"},
    {"dlq_jobs_source_delivery_id_key",
     "a dead letter with this source and delivery_id already exists"},
};

std::string SqlStateMessage(absl::string_view sqlstate,
                            absl::string_view first_line) {
  const std::string constraint = QuotedAfter(first_line, "constraint \"");
  for (const ConstraintText& c : kConstraints) {
    if (constraint == c.name) return c.message;
  }
  if (sqlstate == "23505") return "the value is already taken";
  if (sqlstate == "23503") {
    return "the value refers to a row that does not exist";
  }
  if (sqlstate == "23514") return "a value breaks a rule of the table";
  if (sqlstate == "23502") {
    const std::string column = QuotedAfter(first_line, "column \"");
    return absl::StrCat(column.empty() ? "a required value" : column,
                        " is required");
  }
  if (sqlstate == "22P05" || sqlstate == "22021") {
    return "a text or JSON value contains U+0000 or a character that is not "
           "valid UTF-8, which PostgreSQL cannot store; remove it";
  }
  if (sqlstate == "22P02") {
    return "a value is not in the form the database expects (a UUID, a "
           "number or a JSON object)";
  }
  if (sqlstate == "22001") return "a value is longer than the database allows";
  if (sqlstate == "22003") return "a number is out of range";
  if (sqlstate == "22007" || sqlstate == "22008") {
    return "a time is outside the range the database can store (years 0001 "
           "to 9999 are accepted)";
  }
  if (absl::StartsWith(sqlstate, "22")) return "a value is not valid";
  if (sqlstate == "40001" || sqlstate == "40P01") {
    return "the change collided with a concurrent one and was not made; "
           "retry";
  }
  if (sqlstate == "55P03") {
    return "a row this call needs is held by another session (an open "
           "transaction, perhaps an operator's) past the server's lock "
           "timeout; nothing was changed; retry";
  }
  if (absl::StartsWith(sqlstate, "08") || sqlstate == "57P01" ||
      sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "53300") {
    return "the database is unavailable; retry";
  }
  if (sqlstate == "57014") {
    return "the database cancelled the statement when it ran past the "
           "server's statement timeout; the change was not made";
  }
  if (sqlstate == "42501") {
    return "the database role the server connects as lacks a privilege, or "
           "a row-level security policy refused the row; check the role's "
           "grants and policies";
  }
  return "the database failed the statement; the server log has the details";
}

// One line on stderr, in one write, with the database's words; newlines
// and other control characters escaped so it stays one line.
void LogDatabaseError(absl::string_view kind, absl::string_view statement,
                      absl::string_view sqlstate, absl::StatusCode code,
                      absl::string_view detail) {
  std::string escaped;
  for (char c : detail) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      absl::StrAppend(&escaped, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else if (c == '"' || c == '\\') {
      escaped.push_back('\\');
      escaped.push_back(c);
    } else {
      escaped.push_back(c);
    }
  }
  const std::string line = absl::StrCat(
      "jobqueue: database error kind=", kind,
      statement.empty() ? "" : " statement=", statement,
      sqlstate.empty() ? "" : " sqlstate=", sqlstate,
      " code=", absl::StatusCodeToString(code), " detail=\"", escaped, "\"\n");
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

absl::Status Logged(absl::string_view statement, absl::string_view kind,
                    absl::string_view sqlstate, absl::Status status,
                    absl::string_view what) {
  LogDatabaseError(kind, statement, sqlstate, status.code(), FirstLine(what));
  return status;
}

}  // namespace

absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate) {
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  if (sqlstate == "23503") return absl::StatusCode::kNotFound;
  // Class 22 is data exceptions: a value the statement was given.
  if (sqlstate == "23514" || sqlstate == "23502" ||
      absl::StartsWith(sqlstate, "22")) {
    return absl::StatusCode::kInvalidArgument;
  }
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    return absl::StatusCode::kAborted;
  }
  // Connection exceptions, admin/crash shutdown, cannot connect now,
  // too many connections.
  if (absl::StartsWith(sqlstate, "08") || sqlstate == "57P01" ||
      sqlstate == "57P02" || sqlstate == "57P03" || sqlstate == "53300") {
    return absl::StatusCode::kUnavailable;
  }
  if (sqlstate == "57014") return absl::StatusCode::kDeadlineExceeded;
  if (sqlstate == "42501") return absl::StatusCode::kPermissionDenied;
  return absl::StatusCode::kInternal;
}

std::string MessageForSqlError(absl::string_view sqlstate,
                               absl::string_view first_line) {
  const std::string constraint = QuotedAfter(first_line, "constraint \"");
  return absl::StrCat(SqlStateMessage(sqlstate, first_line), " (",
                      constraint.empty() ? "" : "constraint ", constraint,
                      constraint.empty() ? "" : ", ", "SQLSTATE ",
                      sqlstate.empty() ? "unknown" : sqlstate, ")");
}

absl::Status StatusFromCurrentException(absl::string_view statement) {
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    return Logged(statement, "in_doubt", "",
                  absl::UnknownError(
                      "the database connection was lost during commit; the "
                      "change may or may not have been made"),
                  e.what());
  } catch (const pqxx::broken_connection& e) {
    return Logged(
        statement, "broken_connection", "",
        absl::UnavailableError("the database cannot be reached; retry"),
        e.what());
  } catch (const pqxx::insufficient_privilege& e) {
    // libpqxx 6.4 throws this one without its SQLSTATE.
    return Logged(statement, "sql", "42501",
                  absl::PermissionDeniedError(
                      MessageForSqlError("42501", FirstLine(e.what()))),
                  e.what());
  } catch (const pqxx::sql_error& e) {
    return Logged(
        statement, "sql", e.sqlstate(),
        absl::Status(StatusCodeForSqlState(e.sqlstate()),
                     MessageForSqlError(e.sqlstate(), FirstLine(e.what()))),
        e.what());
  } catch (const pqxx::statement_completion_unknown& e) {
    return Logged(statement, "in_doubt", "",
                  absl::UnknownError(
                      "the database connection was lost while the statement "
                      "ran; the change may or may not have been made"),
                  e.what());
  } catch (const pqxx::transaction_rollback& e) {
    // libpqxx 6.4 derives these from pqxx::failure, without a SQLSTATE.
    const char* sqlstate =
        dynamic_cast<const pqxx::deadlock_detected*>(&e) != nullptr ? "40P01"
                                                                    : "40001";
    return Logged(
        statement, "sql", sqlstate,
        absl::AbortedError(MessageForSqlError(sqlstate, FirstLine(e.what()))),
        e.what());
  } catch (const std::exception& e) {
    return Logged(statement, "other", "",
                  absl::InternalError("the database call failed; the server "
                                      "log has the details"),
                  e.what());
  }
}

}  // namespace jobqueue
