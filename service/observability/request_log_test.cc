#include "service/observability/request_log.h"

#include "absl/flags/marshalling.h"
#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(RequestLogTest, ParsesTheThreeLevelsAndRejectsOthers) {
  RequestLogLevel level;
  std::string error;
  for (const char* text : {"none", "errors", "all"}) {
    ASSERT_TRUE(absl::ParseFlag(text, &level, &error)) << text;
    EXPECT_EQ(absl::UnparseFlag(level), text);
  }
  EXPECT_FALSE(absl::ParseFlag("verbose", &level, &error));
  EXPECT_EQ(error, "must be all, errors or none");
}

TEST(RequestLogTest, ErrorsLevelLogsOnlyFailedCalls) {
  EXPECT_TRUE(ShouldLogRequest(RequestLogLevel::kErrors, /*ok=*/false));
  EXPECT_FALSE(ShouldLogRequest(RequestLogLevel::kErrors, /*ok=*/true));
  EXPECT_TRUE(ShouldLogRequest(RequestLogLevel::kAll, /*ok=*/true));
  EXPECT_FALSE(ShouldLogRequest(RequestLogLevel::kNone, /*ok=*/false));
}

TEST(RequestLogTest, FormatsKeyValuePairsWithTheJobIdWhenThereIsOne) {
  EXPECT_EQ(
      FormatRequestLine({.method = "EnqueueJob",
                         .code = "OK",
                         .duration = absl::Microseconds(1836),
                         .job_id = "2f6c0d6e-0000-4000-8000-000000000001"}),
      "rpc method=EnqueueJob code=OK ms=1.84 "
      "job_id=2f6c0d6e-0000-4000-8000-000000000001");
  EXPECT_EQ(FormatRequestLine({.method = "ListJobs",
                               .code = "INVALID_ARGUMENT",
                               .duration = absl::Milliseconds(12)}),
            "rpc method=ListJobs code=INVALID_ARGUMENT ms=12.00");
}

}  // namespace
}  // namespace jobqueue
