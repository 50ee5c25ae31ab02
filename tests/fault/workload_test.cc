#include "tests/fault/workload.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobqueue::fault {
namespace {

using ::testing::HasSubstr;

Call Acked(Call::Kind kind, absl::Time start) {
  return {.kind = kind, .start = start, .end = start, .ok = true};
}

TEST(WaitForProgressTest, EndsOnceEveryEventHasAnAcknowledgementAfterIt) {
  const absl::Time t0 = absl::Now() - absl::Seconds(10);
  History history;
  history.Add(Acked(Call::kEnqueue, t0 + absl::Seconds(1)));
  history.Add(Acked(Call::kEnqueue, t0 + absl::Seconds(6)));
  history.Add(Acked(Call::kComplete, t0 + absl::Seconds(7)));
  const absl::Status s = WaitForProgress(
      history,
      {.since = {t0, t0 + absl::Seconds(5)}, .enqueues = 2, .completions = 1},
      absl::Now() + absl::Seconds(30));
  EXPECT_TRUE(s.ok()) << s;
}

TEST(WaitForProgressTest, SaysWhatWasMissingAtTheCap) {
  const absl::Time t0 = absl::Now() - absl::Seconds(10);
  History history;
  history.Add(Acked(Call::kEnqueue, t0 + absl::Seconds(1)));
  Call failed = Acked(Call::kEnqueue, t0 + absl::Seconds(6));
  failed.ok = false;
  history.Add(failed);
  const absl::Time start = absl::Now();
  const absl::Status s = WaitForProgress(
      history, {.since = {t0, t0 + absl::Seconds(5)}, .completions = 1},
      start + absl::Milliseconds(300));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("no enqueue acknowledged since event 2 of 2"));
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("0 of 1 completions acknowledged"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
}

}  // namespace
}  // namespace jobqueue::fault
