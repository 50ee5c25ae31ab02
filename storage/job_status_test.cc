#include "storage/job_status.h"

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(JobStatusTest, NamesAreTheColumnValuesAndParseBack) {
  for (JobStatus s :
       {JobStatus::kPending, JobStatus::kProcessing, JobStatus::kComplete,
        JobStatus::kFailed, JobStatus::kCancelled}) {
    EXPECT_EQ(ParseJobStatus(JobStatusName(s)), s) << JobStatusName(s);
  }
  EXPECT_EQ(JobStatusName(JobStatus::kPending), "pending");
  EXPECT_EQ(JobStatusName(JobStatus::kComplete), "complete");
}

TEST(JobStatusTest, OtherTextIsNoStatus) {
  EXPECT_EQ(ParseJobStatus(""), std::nullopt);
  EXPECT_EQ(ParseJobStatus("Pending"), std::nullopt);
  EXPECT_EQ(ParseJobStatus("done"), std::nullopt);
}

}  // namespace
}  // namespace jobqueue
