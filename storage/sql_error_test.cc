#include "storage/sql_error.h"

#include <pqxx/pqxx>

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(StatusCodeForSqlStateTest, MapsTheClassesCallersActOn) {
  EXPECT_EQ(StatusCodeForSqlState("23505"), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StatusCodeForSqlState("23503"), absl::StatusCode::kNotFound);
  EXPECT_EQ(StatusCodeForSqlState("23514"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForSqlState("23502"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForSqlState("22P02"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForSqlState("22P05"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForSqlState("22008"), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusCodeForSqlState("40001"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("40P01"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("55P03"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("08006"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("57P01"), absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusCodeForSqlState("42501"),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusCodeForSqlState("42P01"), absl::StatusCode::kInternal);
}

absl::Status StatusOf(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (...) {
    return StatusFromCurrentException();
  }
}

TEST(StatusFromCurrentExceptionTest, NamesTheRuleNotTheDatabaseText) {
  absl::Status s = StatusOf(std::make_exception_ptr(pqxx::unique_violation(
      "ERROR:  duplicate key value violates unique constraint "
      "\"jobs_idempotency_key_key\"\nDETAIL:  Key (idempotency_key)=(k) "
      "already exists.\n",
      "INSERT ...", "23505")));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(),
            "idempotency_key is taken by another job (constraint "
            "jobs_idempotency_key_key, SQLSTATE 23505)");
}

TEST(StatusFromCurrentExceptionTest, UPlus0000InJsonNamesTheCharacter) {
  absl::Status s = StatusOf(std::make_exception_ptr(pqxx::data_exception(
      "ERROR:  unsupported Unicode escape sequence\nDETAIL:  \\u0000 cannot "
      "be converted to text.\n",
      "INSERT ...", "22P05")));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("U+0000"), absl::string_view::npos) << s;
  EXPECT_EQ(s.message().find("ERROR"), absl::string_view::npos) << s;
  EXPECT_EQ(s.message().find("escape sequence"), absl::string_view::npos) << s;
}

TEST(MessageForSqlErrorTest, EveryClassGetsItsOwnWords) {
  EXPECT_EQ(MessageForSqlError("23514",
                               "ERROR:  new row for relation \"jobs\" violates "
                               "check constraint \"jobs_source_type_check\""),
            "source_type must be 'dm' or 'group' (constraint "
            "jobs_source_type_check, SQLSTATE 23514)");
  EXPECT_EQ(MessageForSqlError("23514",
                               "ERROR:  violates check constraint \"other\""),
            "a value breaks a rule of the table (constraint other, SQLSTATE "
            "23514)");
  EXPECT_EQ(MessageForSqlError("23502",
                               "ERROR:  null value in column \"reason\" of "
                               "relation \"dlq_jobs\" violates not-null "
                               "constraint"),
            "reason is required (SQLSTATE 23502)");
  EXPECT_EQ(MessageForSqlError("22008",
                               "ERROR:  timestamp out of range: "
                               "\"-3000-01-01\""),
            "a time is outside the range the database can store (years 0001 "
            "to 9999 are accepted) (SQLSTATE 22008)");
  EXPECT_EQ(MessageForSqlError("XX000", "ERROR:  something internal"),
            "the database failed the statement; the server log has the "
            "details (SQLSTATE XX000)");
}

TEST(StatusFromCurrentExceptionTest, PrivilegeErrorsWithoutSqlStateAreDenied) {
  absl::Status s = StatusOf(std::make_exception_ptr(
      pqxx::insufficient_privilege("ERROR:  new row violates row-level "
                                   "security policy for table \"users\"\n")));
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
}

TEST(StatusFromCurrentExceptionTest, BrokenConnectionIsUnavailable) {
  absl::Status s = StatusOf(
      std::make_exception_ptr(pqxx::broken_connection("server closed")));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "the database cannot be reached; retry");
}

TEST(StatusFromCurrentExceptionTest, DeadlocksAndSerializationFailuresAbort) {
  // libpqxx 6.4 throws these without a SQLSTATE, outside pqxx::sql_error.
  for (const std::exception_ptr& e :
       {std::make_exception_ptr(
            pqxx::deadlock_detected("ERROR:  deadlock detected")),
        std::make_exception_ptr(
            pqxx::serialization_failure("ERROR:  could not serialize"))}) {
    const absl::Status s = StatusOf(e);
    EXPECT_EQ(s.code(), absl::StatusCode::kAborted) << s;
    EXPECT_NE(s.message().find("retry"), absl::string_view::npos) << s;
  }
  const absl::Status unknown = StatusOf(std::make_exception_ptr(
      pqxx::statement_completion_unknown("connection lost")));
  EXPECT_EQ(unknown.code(), absl::StatusCode::kUnknown) << unknown;
}

TEST(StatusFromCurrentExceptionTest, UnknownCommitOutcomeIsUnknown) {
  absl::Status s =
      StatusOf(std::make_exception_ptr(pqxx::in_doubt_error("lost")));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnknown);
}

}  // namespace
}  // namespace jobqueue
