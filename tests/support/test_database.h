// A fresh, fully migrated database for one test binary.
//
// Created on the PostgreSQL server named by $DATABASE_URL (a user there may
// CREATE DATABASE; tools/test passes the embedded cluster's URL), dropped
// on destruction.
//
//   absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
//   PgJobStore store({.url = (*db)->url()});

#ifndef JOBQUEUE_TESTS_SUPPORT_TEST_DATABASE_H_
#define JOBQUEUE_TESTS_SUPPORT_TEST_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace jobqueue {

class TestDatabase {
 public:
  // Creates a migrated database with a unique name: a copy of a template
  // database migrated once per set of migrations (jobqueue_template_<hash>,
  // left on the server for the next test process).
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create();
  // Like Create(), without migrations.
  static absl::StatusOr<std::unique_ptr<TestDatabase>> CreateEmpty();
  ~TestDatabase();

  // URL of the new database.
  const std::string& url() const { return url_; }

  // How many rows `table` has now.
  int64_t Rows(const std::string& table) const;

 private:
  static absl::StatusOr<std::unique_ptr<TestDatabase>> CreateFrom(
      const std::string& template_name);
  TestDatabase(std::string admin_url, std::string name, std::string url)
      : admin_url_(std::move(admin_url)),
        name_(std::move(name)),
        url_(std::move(url)) {}

  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// `url` with its database name replaced by `database`.
std::string WithDatabaseName(const std::string& url,
                             const std::string& database);

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_TEST_DATABASE_H_
