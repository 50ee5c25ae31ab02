// Recurring schedules end to end: two JobQueue servers over one database
// tick one interval schedule; one server is stopped and started again
// across ticks, then the other. Every tick from the first job to the last
// has exactly one job, and none is enqueued twice.

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/in_process_server.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/time_budget.h"

namespace jobqueue {
namespace {

constexpr char kPrefix[] = "schedule:pulse:";

class SchedulesE2eTest : public PgTest {
 protected:
  std::unique_ptr<InProcessServer> Start() {
    absl::StatusOr<std::unique_ptr<InProcessServer>> s = InProcessServer::Start(
        {.database_url = url(), .recurring_interval = absl::Milliseconds(100)});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // The ticks of the jobs enqueued so far, by their keys, in order.
  std::vector<absl::Time> Ticks() {
    std::vector<absl::Time> ticks;
    for (const auto& row :
         Sql(absl::StrCat("SELECT idempotency_key FROM jobs WHERE "
                          "idempotency_key LIKE '",
                          kPrefix, "%' ORDER BY idempotency_key"))) {
      const std::string key = row[0].as<std::string>();
      absl::Time t;
      std::string error;
      EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full,
                                  key.substr(sizeof(kPrefix) - 1), &t, &error))
          << key << ": " << error;
      ticks.push_back(t);
    }
    return ticks;
  }

  // Waits until `n` more jobs than now were enqueued; false after a
  // bounded wait.
  bool WaitForTicks(int n) {
    const size_t want = Ticks().size() + n;
    const absl::Time give_up =
        absl::Now() + TimeBudget(absl::Seconds(5)) + n * interval_ * 3;
    while (absl::Now() < give_up) {
      if (Ticks().size() >= want) return true;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return false;
  }

  // One second, or more where sanitizers slow each round down, so that a
  // server's rounds (every 100 ms) keep up with the ticks.
  const absl::Duration interval_ =
      absl::Seconds(std::max(1.0, std::ceil(TimeScale())));
};

TEST_F(SchedulesE2eTest, TwoServersAndRestartsEnqueueEveryTickOnce) {
  std::unique_ptr<InProcessServer> a = Start();
  std::unique_ptr<InProcessServer> b = Start();
  ASSERT_TRUE(a && b);

  v1::CreateScheduleRequest request;
  request.set_name("pulse");
  request.mutable_interval()->set_seconds(absl::ToInt64Seconds(interval_));
  v1::EnqueueJobRequest* job = request.mutable_job();
  job->set_user_phone("+15551234567");
  job->set_source_channel_id("pulse");
  job->set_source_type(v1::SOURCE_TYPE_DM);
  job->set_queue("heartbeats");
  v1::Schedule schedule;
  grpc::Status s =
      a->NewStub()->CreateSchedule(CallContext().get(), request, &schedule);
  ASSERT_TRUE(s.ok()) << s.error_message();

  ASSERT_TRUE(WaitForTicks(2)) << "both servers running";
  a.reset();  // stopped across the next ticks
  ASSERT_TRUE(WaitForTicks(2)) << "only b running";
  a = Start();
  ASSERT_TRUE(a);
  b.reset();
  ASSERT_TRUE(WaitForTicks(2)) << "only a (restarted) running";
  b = Start();
  ASSERT_TRUE(b);
  ASSERT_TRUE(WaitForTicks(2)) << "both again";

  v1::DeleteScheduleRequest del;
  del.set_name("pulse");
  v1::DeleteScheduleResponse deleted;
  s = b->NewStub()->DeleteSchedule(CallContext().get(), del, &deleted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  a.reset();
  b.reset();

  const std::vector<absl::Time> ticks = Ticks();
  ASSERT_GE(ticks.size(), 8u);
  for (size_t i = 1; i < ticks.size(); ++i) {
    EXPECT_EQ(ticks[i] - ticks[i - 1], interval_)
        << "tick " << i << " of " << ticks.size() << ": "
        << absl::FormatTime(ticks[i - 1]) << " then "
        << absl::FormatTime(ticks[i]);
  }
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs"),
            static_cast<int64_t>(ticks.size()));
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs WHERE queue <> 'heartbeats'"), 0);
  // The first tick is one interval after creation.
  absl::Time created = absl::FromUnixSeconds(schedule.created_at().seconds()) +
                       absl::Nanoseconds(schedule.created_at().nanos());
  EXPECT_GE(ticks.front(), created + interval_ - absl::Milliseconds(500));
  EXPECT_LT(ticks.front(), created + interval_ + absl::Milliseconds(500));
}

}  // namespace
}  // namespace jobqueue
