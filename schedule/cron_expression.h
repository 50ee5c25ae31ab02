// A cron expression of five fields (minute hour day-of-month month
// day-of-week) or a shorthand (@hourly, @daily, @weekly, @monthly,
// @yearly), and the local times it names.
//
// Each field is `*`, or a comma-separated list of values and ranges (`1-5`),
// each optionally with a step (`*/15`, `0-30/10`, `5/20` = from 5 to the
// end). Months take JAN..DEC and days of the week SUN..SAT (any case);
// day of the week 0 and 7 are both Sunday. When both day-of-month and
// day-of-week are restricted (neither starts with `*`), a day matches when
// either does (the classic cron rule); otherwise both must.
//
//   absl::StatusOr<CronExpression> c = CronExpression::Parse("*/15 9-17 * *
//   MON-FRI"); bool fires = c->Matches(absl::CivilMinute(2026, 12, 7, 9, 30));

#ifndef JOBQUEUE_SCHEDULE_CRON_EXPRESSION_H_
#define JOBQUEUE_SCHEDULE_CRON_EXPRESSION_H_

#include <bitset>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace jobqueue {

class CronExpression {
 public:
  // INVALID_ARGUMENT naming the field (`minute`, `hour`, `day-of-month`,
  // `month`, `day-of-week`) and what is wrong, or for an expression that
  // can never match (e.g. `0 0 30 2 *`).
  static absl::StatusOr<CronExpression> Parse(absl::string_view text);

  bool Matches(absl::CivilMinute m) const;
  // The first matching minute at or after `from`, or a minute in year
  // 10000 when none comes within ten years (Parse rejects expressions that
  // never match).
  absl::CivilMinute NextMatch(absl::CivilMinute from) const;

 private:
  bool DayMatches(absl::CivilDay d) const;

  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_star_ = false;
  bool weekdays_star_ = false;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_SCHEDULE_CRON_EXPRESSION_H_
