#include "schedule/cron_expression.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobqueue {
namespace {

using ::testing::HasSubstr;

CronExpression Cron(const std::string& text) {
  absl::StatusOr<CronExpression> c = CronExpression::Parse(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status();
  return *c;
}

std::string Error(const std::string& text) {
  absl::StatusOr<CronExpression> c = CronExpression::Parse(text);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << text;
  return std::string(c.status().message());
}

TEST(CronExpressionTest, ListsRangesAndSteps) {
  CronExpression c = Cron("*/15 9-17 * * *");
  EXPECT_TRUE(c.Matches(absl::CivilMinute(2026, 12, 7, 9, 0)));
  EXPECT_TRUE(c.Matches(absl::CivilMinute(2026, 12, 7, 17, 45)));
  EXPECT_FALSE(c.Matches(absl::CivilMinute(2026, 12, 7, 9, 10)));
  EXPECT_FALSE(c.Matches(absl::CivilMinute(2026, 12, 7, 18, 0)));

  CronExpression list = Cron("5,10-12,50/5 * * * *");
  for (int m : {5, 10, 11, 12, 50, 55}) {
    EXPECT_TRUE(list.Matches(absl::CivilMinute(2026, 1, 1, 0, m))) << m;
  }
  for (int m : {0, 6, 13, 51, 59}) {
    EXPECT_FALSE(list.Matches(absl::CivilMinute(2026, 1, 1, 0, m))) << m;
  }
  CronExpression stepped_range = Cron("0-30/10 * * * *");
  EXPECT_TRUE(stepped_range.Matches(absl::CivilMinute(2026, 1, 1, 0, 30)));
  EXPECT_FALSE(stepped_range.Matches(absl::CivilMinute(2026, 1, 1, 0, 40)));
}

TEST(CronExpressionTest, MonthAndDayNamesInAnyCaseAndSundayAsZeroOrSeven) {
  // 2026-12-06 is a Sunday, 2026-12-07 a Monday.
  CronExpression weekdays = Cron("0 9 * dec mon-FRI");
  EXPECT_TRUE(weekdays.Matches(absl::CivilMinute(2026, 12, 7, 9, 0)));
  EXPECT_FALSE(weekdays.Matches(absl::CivilMinute(2026, 12, 6, 9, 0)));
  EXPECT_FALSE(weekdays.Matches(absl::CivilMinute(2027, 1, 4, 9, 0)));
  EXPECT_TRUE(Cron("0 9 * * 0").Matches(absl::CivilMinute(2026, 12, 6, 9, 0)));
  EXPECT_TRUE(Cron("0 9 * * 7").Matches(absl::CivilMinute(2026, 12, 6, 9, 0)));
  EXPECT_TRUE(
      Cron("0 9 * * 5-7").Matches(absl::CivilMinute(2026, 12, 6, 9, 0)));
  EXPECT_TRUE(
      Cron("0 9 * * Sun").Matches(absl::CivilMinute(2026, 12, 6, 9, 0)));
}

TEST(CronExpressionTest, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 13th, or any Friday.
  CronExpression c = Cron("0 0 13 * 5");
  EXPECT_TRUE(c.Matches(absl::CivilMinute(2026, 12, 13, 0, 0)));  // Sunday
  EXPECT_TRUE(c.Matches(absl::CivilMinute(2026, 12, 11, 0, 0)));  // Friday
  EXPECT_FALSE(c.Matches(absl::CivilMinute(2026, 12, 12, 0, 0)));
  // A star (even stepped) day-of-month leaves the day to day-of-week alone.
  CronExpression fridays = Cron("0 0 * * 5");
  EXPECT_FALSE(fridays.Matches(absl::CivilMinute(2026, 12, 13, 0, 0)));
  CronExpression odd_fridays = Cron("0 0 */2 * 5");
  EXPECT_TRUE(odd_fridays.Matches(absl::CivilMinute(2026, 12, 11, 0, 0)));
  EXPECT_FALSE(odd_fridays.Matches(absl::CivilMinute(2026, 12, 18, 0, 0)));
}

TEST(CronExpressionTest, Shorthands) {
  const absl::CivilMinute jan1(2027, 1, 1, 0, 0);  // a Friday
  EXPECT_TRUE(Cron("@yearly").Matches(jan1));
  EXPECT_TRUE(Cron("@monthly").Matches(jan1));
  EXPECT_TRUE(Cron("@daily").Matches(jan1));
  EXPECT_TRUE(Cron("@hourly").Matches(jan1));
  EXPECT_FALSE(Cron("@weekly").Matches(jan1));
  EXPECT_TRUE(Cron("@WEEKLY").Matches(absl::CivilMinute(2027, 1, 3, 0, 0)));
  EXPECT_FALSE(Cron("@hourly").Matches(absl::CivilMinute(2027, 1, 1, 0, 1)));
}

TEST(CronExpressionTest, NextMatchCrossesMonthEndsAndFindsLeapDays) {
  EXPECT_EQ(Cron("0 0 31 * *").NextMatch(absl::CivilMinute(2026, 4, 1, 0, 0)),
            absl::CivilMinute(2026, 5, 31, 0, 0));
  EXPECT_EQ(
      Cron("30 23 * * *").NextMatch(absl::CivilMinute(2026, 12, 31, 23, 31)),
      absl::CivilMinute(2027, 1, 1, 23, 30));
  EXPECT_EQ(Cron("0 12 29 2 *").NextMatch(absl::CivilMinute(2025, 3, 1, 0, 0)),
            absl::CivilMinute(2028, 2, 29, 12, 0));
  // 2100 is not a leap year.
  EXPECT_EQ(Cron("0 12 29 2 *").NextMatch(absl::CivilMinute(2096, 3, 1, 0, 0)),
            absl::CivilMinute(2104, 2, 29, 12, 0));
  EXPECT_EQ(Cron("* * * * *").NextMatch(absl::CivilMinute(2026, 2, 28, 23, 59)),
            absl::CivilMinute(2026, 2, 28, 23, 59));
}

TEST(CronExpressionTest, ErrorsNameTheFieldAndWhatIsWrong) {
  EXPECT_THAT(Error("* * * *"), HasSubstr("has 4 fields, not 5"));
  EXPECT_THAT(Error("* * * * * *"), HasSubstr("has 6 fields, not 5"));
  EXPECT_THAT(Error(""), HasSubstr("has 0 fields"));
  EXPECT_THAT(Error("60 * * * *"),
              HasSubstr("cron field minute \"60\": 60 is out of range 0-59"));
  EXPECT_THAT(Error("0 24 * * *"), HasSubstr("field hour"));
  EXPECT_THAT(Error("0 0 0 * *"),
              HasSubstr("day-of-month \"0\": 0 is out of range 1-31"));
  EXPECT_THAT(Error("0 0 * 13 *"), HasSubstr("field month"));
  EXPECT_THAT(Error("0 0 * FOO *"),
              HasSubstr("month \"FOO\": \"FOO\" is not a number or a name"));
  EXPECT_THAT(Error("0 0 * * 8"), HasSubstr("day-of-week"));
  EXPECT_THAT(Error("0 0 * * MON-"), HasSubstr("day-of-week"));
  EXPECT_THAT(Error("*/0 * * * *"), HasSubstr("step \"0\""));
  EXPECT_THAT(Error("*/61 * * * *"), HasSubstr("step \"61\""));
  EXPECT_THAT(Error("5-1 * * * *"), HasSubstr("range 5-1 ends before"));
  EXPECT_THAT(Error("1,,2 * * * *"), HasSubstr("empty list item"));
  EXPECT_THAT(Error("1/2/3 * * * *"), HasSubstr("more than one '/'"));
  EXPECT_THAT(Error("-1 * * * *"), HasSubstr("minute"));
  EXPECT_THAT(Error("+1 * * * *"), HasSubstr("minute"));
  EXPECT_THAT(Error("JAN * * * *"),
              HasSubstr("minute \"JAN\": \"JAN\" is not a number"));
  EXPECT_THAT(Error("@every 5m"), HasSubstr("shorthand \"@every 5m\""));
  EXPECT_THAT(Error("0 0 30 2 *"), HasSubstr("never matches"));
  EXPECT_THAT(Error("0 0 31 4,6,9,11 *"), HasSubstr("never matches"));
  EXPECT_THAT(Error(std::string(300, '*')), HasSubstr("longer than 256"));
}

}  // namespace
}  // namespace jobqueue
