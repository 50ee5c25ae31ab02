#include "schedule/recurrence.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobqueue {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s),
                         absl::UTCTimeZone());
}

Recurrence Cron(const std::string& expression, const std::string& zone) {
  absl::StatusOr<Recurrence> r = Recurrence::Cron(expression, zone);
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

// The first `n` ticks after `from`.
std::vector<absl::Time> Ticks(const Recurrence& r, absl::Time from, int n) {
  std::vector<absl::Time> ticks;
  for (absl::Time t = from; static_cast<int>(ticks.size()) < n;) {
    t = r.Next(t);
    ticks.push_back(t);
  }
  return ticks;
}

TEST(RecurrenceTest, UtcByDefault) {
  Recurrence r = Cron("0 9 * * *", "");
  EXPECT_EQ(r.Next(Utc(2026, 12, 6, 9, 0)), Utc(2026, 12, 7, 9, 0));
  EXPECT_EQ(r.Next(Utc(2026, 12, 6, 8, 59, 59)), Utc(2026, 12, 6, 9, 0));
}

TEST(RecurrenceTest, AZoneWithAHalfHourOffset) {
  // India: UTC+05:30 all year.
  Recurrence r = Cron("0 9 * * *", "Asia/Kolkata");
  EXPECT_EQ(r.Next(Utc(2026, 12, 6, 0, 0)), Utc(2026, 12, 6, 3, 30));
  // Lord Howe Island moves its clocks by half an hour, from 02:00 to 02:30
  // on 2026-10-04 (UTC+10:30 to UTC+11): 02:15 that day does not exist.
  Recurrence lord_howe = Cron("15 2 * * *", "Australia/Lord_Howe");
  EXPECT_THAT(Ticks(lord_howe, Utc(2026, 10, 2, 0, 0), 3),
              ElementsAre(Utc(2026, 10, 2, 15, 45),    // 02:15 +10:30
                          Utc(2026, 10, 3, 15, 30),    // the gap's end, 02:30
                          Utc(2026, 10, 4, 15, 15)));  // 02:15 +11
}

TEST(RecurrenceTest, ALocalTimeTheClockSkipsFiresOnceWhenTheGapEnds) {
  // New York springs forward on 2026-03-08 from 02:00 EST to 03:00 EDT.
  Recurrence r = Cron("30 2 * * *", "America/New_York");
  EXPECT_THAT(Ticks(r, Utc(2026, 3, 7, 0, 0), 3),
              ElementsAre(Utc(2026, 3, 7, 7, 30),    // 02:30 EST
                          Utc(2026, 3, 8, 7, 0),     // 03:00 EDT
                          Utc(2026, 3, 9, 6, 30)));  // 02:30 EDT
  // Every quarter of the skipped hour: one tick, not four.
  Recurrence quarters = Cron("*/15 2 * * *", "America/New_York");
  EXPECT_THAT(Ticks(quarters, Utc(2026, 3, 8, 5, 0), 2),
              ElementsAre(Utc(2026, 3, 8, 7, 0), Utc(2026, 3, 9, 6, 0)));
}

TEST(RecurrenceTest, ALocalTimeTheClockRepeatsFiresOnce) {
  // New York falls back on 2026-11-01 from 02:00 EDT to 01:00 EST.
  Recurrence r = Cron("30 1 * * *", "America/New_York");
  EXPECT_THAT(Ticks(r, Utc(2026, 10, 31, 12, 0), 2),
              ElementsAre(Utc(2026, 11, 1, 5, 30),    // 01:30 EDT
                          Utc(2026, 11, 2, 6, 30)));  // 01:30 EST, next day
  Recurrence halves = Cron("*/30 * * * *", "America/New_York");
  EXPECT_THAT(Ticks(halves, Utc(2026, 11, 1, 4, 0), 4),
              ElementsAre(Utc(2026, 11, 1, 4, 30), Utc(2026, 11, 1, 5, 0),
                          Utc(2026, 11, 1, 5, 30),
                          Utc(2026, 11, 1, 7, 0)));  // 02:00 EST
}

TEST(RecurrenceTest, IntervalsIgnoreZones) {
  Recurrence r = Recurrence::Every(absl::Seconds(90));
  EXPECT_EQ(r.Next(Utc(2026, 1, 1, 0, 0)), Utc(2026, 1, 1, 0, 1, 30));
}

TEST(RecurrenceTest, CatchUpTakesTheLatestMissedTick) {
  Recurrence every = Recurrence::Every(absl::Seconds(10));
  Recurrence::CatchUp c =
      every.Latest(Utc(2026, 1, 1, 0, 0), Utc(2026, 1, 1, 0, 1, 5));
  EXPECT_EQ(c.tick, Utc(2026, 1, 1, 0, 1, 0));
  EXPECT_EQ(c.skipped, 6);
  c = every.Latest(Utc(2026, 1, 1, 0, 0), Utc(2026, 1, 1, 0, 0, 9));
  EXPECT_EQ(c.tick, Utc(2026, 1, 1, 0, 0));
  EXPECT_EQ(c.skipped, 0);

  Recurrence minutes = Cron("* * * * *", "");
  c = minutes.Latest(Utc(2026, 1, 1, 0, 0), Utc(2026, 1, 1, 0, 10, 30));
  EXPECT_EQ(c.tick, Utc(2026, 1, 1, 0, 10));
  EXPECT_EQ(c.skipped, 10);
  // Years down: counted up to kMaxCounted, the tick still the latest.
  c = minutes.Latest(Utc(2020, 1, 1, 0, 0), Utc(2026, 12, 6, 10, 0, 30));
  EXPECT_EQ(c.tick, Utc(2026, 12, 6, 10, 0));
  EXPECT_EQ(c.skipped, Recurrence::kMaxCounted);
  c = Cron("0 12 29 2 *", "")
          .Latest(Utc(2000, 2, 29, 12, 0), Utc(2026, 12, 6, 0, 0));
  EXPECT_EQ(c.tick, Utc(2024, 2, 29, 12, 0));
  EXPECT_EQ(c.skipped, 6);
}

TEST(RecurrenceTest, UnknownZonesAreRefused) {
  for (const char* zone : {"Mars/Olympus", "../../etc/passwd", "/etc/localtime",
                           "America/New York", "Europe/Paris\n"}) {
    absl::StatusOr<Recurrence> r = Recurrence::Cron("@daily", zone);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << zone;
    EXPECT_THAT(r.status().message(), HasSubstr("time_zone")) << zone;
  }
}

TEST(RecurrenceTest, TickKeysAreRfc3339InUtc) {
  EXPECT_EQ(ScheduleTickKey("nightly", Utc(2026, 12, 7, 9, 0)),
            "schedule:nightly:2026-12-07T09:00:00Z");
  EXPECT_EQ(
      ScheduleTickKey("fast", Utc(2026, 12, 7, 9, 0) + absl::Milliseconds(250)),
      "schedule:fast:2026-12-07T09:00:00.25Z");
}

}  // namespace
}  // namespace jobqueue
