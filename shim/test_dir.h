// A path of its own for each test, under Bazel's $TEST_TMPDIR:
//
//   DeliverySpool::Open(TestDir());              // .../<test name>
//   SpoolFileWriter::Create(TestDir("-deliveries"));  // .../<test
//   name>-deliveries
#ifndef JOBQUEUE_SHIM_TEST_DIR_H_
#define JOBQUEUE_SHIM_TEST_DIR_H_

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace jobqueue::shim {

inline std::string TestDir(absl::string_view suffix = "") {
  return absl::StrCat(
      std::getenv("TEST_TMPDIR"), "/",
      ::testing::UnitTest::GetInstance()->current_test_info()->name(), suffix);
}

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_TEST_DIR_H_
