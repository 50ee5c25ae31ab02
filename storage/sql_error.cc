#include "storage/sql_error.h"

#include <exception>
#include <pqxx/pqxx>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace jobqueue {

absl::StatusCode StatusCodeForSqlState(absl::string_view sqlstate) {
  if (sqlstate == "23505") return absl::StatusCode::kAlreadyExists;
  if (sqlstate == "23503") return absl::StatusCode::kNotFound;
  if (sqlstate == "23514" || sqlstate == "23502" || sqlstate == "22P02" ||
      sqlstate == "22001" || sqlstate == "22007" || sqlstate == "22008" ||
      sqlstate == "22023" || sqlstate == "22P05") {
    return absl::StatusCode::kInvalidArgument;
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {
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

namespace {

std::string FirstLine(absl::string_view text) {
  absl::string_view line = text.substr(0, text.find('\n'));
  return std::string(absl::StripAsciiWhitespace(line));
}

}  // namespace

absl::Status StatusFromCurrentException() {
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    return absl::UnknownError(
        absl::StrCat("database connection lost during commit; the outcome is "
                     "unknown: ",
                     FirstLine(e.what())));
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(
        absl::StrCat("database unavailable: ", FirstLine(e.what())));
  } catch (const pqxx::insufficient_privilege& e) {
    // libpqxx 6.4 throws this one without its SQLSTATE.
    return absl::PermissionDeniedError(FirstLine(e.what()));
  } catch (const pqxx::sql_error& e) {
    return absl::Status(StatusCodeForSqlState(e.sqlstate()),
                        FirstLine(e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("database error: ", FirstLine(e.what())));
  }
}

}  // namespace jobqueue
