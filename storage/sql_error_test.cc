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
  EXPECT_EQ(StatusCodeForSqlState("40001"), absl::StatusCode::kAborted);
  EXPECT_EQ(StatusCodeForSqlState("40P01"), absl::StatusCode::kAborted);
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

TEST(StatusFromCurrentExceptionTest, KeepsTheFirstLineOfTheMessage) {
  absl::Status s = StatusOf(std::make_exception_ptr(pqxx::unique_violation(
      "ERROR:  duplicate key value\nDETAIL:  Key (id)=(1) already exists.\n",
      "INSERT ...", "23505")));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "ERROR:  duplicate key value");
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
  EXPECT_NE(s.message().find("server closed"), absl::string_view::npos);
}

TEST(StatusFromCurrentExceptionTest, UnknownCommitOutcomeIsUnknown) {
  absl::Status s =
      StatusOf(std::make_exception_ptr(pqxx::in_doubt_error("lost")));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnknown);
}

}  // namespace
}  // namespace jobqueue
