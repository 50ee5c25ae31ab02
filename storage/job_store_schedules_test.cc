// JobStore's recurring schedules, for every store (see job_store_suite.h):
// create (idempotent for one definition), list, delete, and the tick round:
// one job per tick, only the latest missed tick after an outage, none once
// deleted. Racing rounds are in pg_job_schedules_test.cc.

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "schedule/recurrence.h"
#include "storage/fake_job_store.h"
#include "storage/job_store_suite.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SchedulesSuite : public JobStoreSuite {
 protected:
  static ScheduleSpec Every(const std::string& name, absl::Duration interval) {
    return {.name = name,
            .interval = interval,
            .job = AJob(absl::StrCat("channel-", name))};
  }

  Schedule Create(const ScheduleSpec& spec) {
    absl::StatusOr<CreateScheduleResult> r =
        store_->CreateSchedule(spec, Deadline());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->schedule : Schedule();
  }

  // Sets next_run_at, as plain SQL can: how a test makes an outage.
  void SetNextRunAt(const std::string& name, absl::Time t) {
    if (GetParam() == StoreKind::kPg) {
      Sql(absl::StrCat(
          "UPDATE schedules SET next_run_at = '",
          absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone()),
          "' WHERE name = '", name, "'"));
    } else {
      ASSERT_TRUE(
          dynamic_cast<FakeJobStore&>(*store_).SetScheduleNextRunAt(name, t));
    }
  }

  ScheduleTickReport Run() {
    absl::StatusOr<ScheduleTickReport> r =
        store_->RunSchedules(100, Deadline());
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : ScheduleTickReport();
  }

  // The idempotency keys of the jobs of schedule `name`'s channel.
  std::vector<std::string> Keys(const std::string& name) {
    absl::StatusOr<JobPage> page =
        store_->ListJobs({.source_channel_id = absl::StrCat("channel-", name)},
                         std::nullopt, 100, Deadline());
    EXPECT_TRUE(page.ok()) << page.status();
    std::vector<std::string> keys;
    if (page.ok()) {
      for (const Job& j : page->jobs) keys.push_back(j.idempotency_key);
    }
    return keys;
  }

  Schedule Find(const std::string& name) {
    absl::StatusOr<SchedulePage> page =
        store_->ListSchedules("", 100, Deadline());
    EXPECT_TRUE(page.ok()) << page.status();
    if (page.ok()) {
      for (const Schedule& s : page->schedules) {
        if (s.spec.name == name) return s;
      }
    }
    ADD_FAILURE() << "no schedule " << name;
    return Schedule();
  }
};

TEST_P(SchedulesSuite, CreateIsIdempotentForOneDefinition) {
  const absl::Time before = absl::Now();
  ScheduleSpec spec = Every("hourly-report", absl::Hours(1));
  absl::StatusOr<CreateScheduleResult> first =
      store_->CreateSchedule(spec, Deadline());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_GE(first->schedule.next_run_at,
            before + absl::Hours(1) - absl::Milliseconds(1));
  EXPECT_LE(first->schedule.next_run_at, absl::Now() + absl::Hours(1));
  EXPECT_EQ(first->schedule.last_run_at, absl::InfinitePast());

  absl::StatusOr<CreateScheduleResult> again =
      store_->CreateSchedule(spec, Deadline());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->schedule.next_run_at, first->schedule.next_run_at);

  spec.interval = absl::Hours(2);
  absl::StatusOr<CreateScheduleResult> other =
      store_->CreateSchedule(spec, Deadline());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(other.status().message(), HasSubstr("hourly-report"));
}

TEST_P(SchedulesSuite, ACronScheduleStartsAtItsFirstTickInItsZone) {
  ScheduleSpec spec{.name = "morning",
                    .cron = "0 9 * * *",
                    .time_zone = "Asia/Kolkata",
                    .job = AJob("channel-morning")};
  const absl::Time before = absl::Now();
  Schedule s = Create(spec);
  EXPECT_EQ(s.spec.cron, "0 9 * * *");
  EXPECT_EQ(s.spec.time_zone, "Asia/Kolkata");
  absl::StatusOr<Recurrence> r = Recurrence::Cron("0 9 * * *", "Asia/Kolkata");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(s.next_run_at, r->Next(before));
}

TEST_P(SchedulesSuite, ListPagesByNameAndDeleteNamesWhatIsMissing) {
  for (const char* name : {"c", "a", "b"}) Create(Every(name, absl::Hours(1)));
  absl::StatusOr<SchedulePage> page = store_->ListSchedules("", 2, Deadline());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->schedules.size(), 2u);
  EXPECT_EQ(page->schedules[0].spec.name, "a");
  EXPECT_EQ(page->schedules[1].spec.name, "b");
  ASSERT_EQ(page->next_after, "b");
  page = store_->ListSchedules("b", 2, Deadline());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->schedules.size(), 1u);
  EXPECT_EQ(page->schedules[0].spec.name, "c");
  EXPECT_FALSE(page->next_after.has_value());

  EXPECT_TRUE(store_->DeleteSchedule("b", Deadline()).ok());
  absl::Status gone = store_->DeleteSchedule("b", Deadline());
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(gone.message(), HasSubstr("schedule b"));
}

TEST_P(SchedulesSuite, ADueTickEnqueuesOneJobAndMovesOn) {
  Create(Every("tick", absl::Hours(1)));
  EXPECT_EQ(Run().enqueued, 0);  // not due yet
  const absl::Time due = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Seconds(10)));
  SetNextRunAt("tick", due);
  ScheduleTickReport report = Run();
  EXPECT_EQ(report.enqueued, 1);
  EXPECT_EQ(report.skipped_ticks, 0);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_THAT(Keys("tick"), ElementsAre(ScheduleTickKey("tick", due)));
  EXPECT_EQ(Run().enqueued, 0);
  EXPECT_THAT(Keys("tick"), ElementsAre(ScheduleTickKey("tick", due)));
  Schedule s = Find("tick");
  EXPECT_EQ(s.last_run_at, due);
  EXPECT_EQ(s.next_run_at, due + absl::Hours(1));
}

TEST_P(SchedulesSuite, AfterAnOutageOnlyTheLatestMissedTickIsEnqueued) {
  Create(Every("outage", absl::Minutes(1)));
  // 60 ticks and a half ago: the 61 ticks since then are all missed.
  const absl::Time first = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Minutes(60) - absl::Seconds(30)));
  SetNextRunAt("outage", first);
  ScheduleTickReport report = Run();
  EXPECT_EQ(report.enqueued, 1);
  EXPECT_EQ(report.skipped_ticks, 60);
  const absl::Time latest = first + absl::Minutes(60);
  EXPECT_THAT(Keys("outage"), ElementsAre(ScheduleTickKey("outage", latest)));
  EXPECT_EQ(Find("outage").next_run_at, latest + absl::Minutes(1));
  EXPECT_EQ(Run().enqueued, 0);
}

TEST_P(SchedulesSuite, ADeletedScheduleEnqueuesNothingMoreAndItsJobsStay) {
  Create(Every("gone", absl::Hours(1)));
  const absl::Time due = absl::FromUnixSeconds(
      absl::ToUnixSeconds(absl::Now() - absl::Seconds(5)));
  SetNextRunAt("gone", due);
  EXPECT_EQ(Run().enqueued, 1);
  ASSERT_TRUE(store_->DeleteSchedule("gone", Deadline()).ok());
  Create(Every("other", absl::Hours(1)));
  SetNextRunAt("other", due);
  EXPECT_EQ(Run().enqueued, 1);
  EXPECT_THAT(Keys("gone"), ElementsAre(ScheduleTickKey("gone", due)));
}

INSTANTIATE_TEST_SUITE_P(Stores, SchedulesSuite,
                         ::testing::Values(StoreKind::kFake, StoreKind::kPg),
                         [](const ::testing::TestParamInfo<StoreKind>& info) {
                           return info.param == StoreKind::kPg ? "Pg" : "Fake";
                         });

}  // namespace
}  // namespace jobqueue
