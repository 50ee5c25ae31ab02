// When a recurring schedule fires: a cron expression read in a time zone,
// or a fixed interval.
//
// Cron ticks are whole local minutes. A local time the clock skips (the
// spring-forward gap of daylight saving time) fires at the first instant
// after the gap, once however many skipped minutes match; a local time the
// clock repeats (the fall-back hour) fires once, at its first occurrence.
// Interval ticks are a fixed duration apart, whatever the zone.
//
//   absl::StatusOr<Recurrence> r = Recurrence::Cron("0 9 * * *",
//   "Asia/Kolkata"); absl::Time next = r->Next(absl::Now());

#ifndef JOBQUEUE_SCHEDULE_RECURRENCE_H_
#define JOBQUEUE_SCHEDULE_RECURRENCE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "schedule/cron_expression.h"

namespace jobqueue {

class Recurrence {
 public:
  // INVALID_ARGUMENT naming what is wrong: the expression (see
  // CronExpression::Parse) or a time zone that is not an IANA name of the
  // system's zoneinfo ("" is UTC).
  static absl::StatusOr<Recurrence> Cron(absl::string_view expression,
                                         absl::string_view time_zone);
  // Ticks `interval` apart (positive).
  static Recurrence Every(absl::Duration interval);
  // Cron when `cron` is not empty, else Every(interval); INVALID_ARGUMENT
  // for neither.
  static absl::StatusOr<Recurrence> Of(absl::string_view cron,
                                       absl::string_view time_zone,
                                       absl::Duration interval);

  // The first tick strictly after `t` (InfiniteFuture when none comes
  // within ten years).
  absl::Time Next(absl::Time t) const;

  // After an outage: the last tick at or before `now`, counting from
  // `due` (a tick at or before `now`), and how many ticks from `due` on it
  // passes over (counted up to kMaxCounted).
  struct CatchUp {
    absl::Time tick;
    int64_t skipped = 0;
  };
  static constexpr int64_t kMaxCounted = 1000;
  CatchUp Latest(absl::Time due, absl::Time now) const;

 private:
  Recurrence() = default;

  std::optional<CronExpression> cron_;
  absl::TimeZone zone_;
  absl::Duration interval_ = absl::ZeroDuration();
};

// The rule a schedule's name follows (the schedules_name_format
// constraint): 1 to 128 ASCII letters, digits, '_', '.', ':' or '-'.
bool IsScheduleName(absl::string_view name);

// The idempotency key of the job a schedule enqueues for `tick`:
// "schedule:<name>:<tick in RFC 3339, UTC>".
std::string ScheduleTickKey(absl::string_view name, absl::Time tick);

}  // namespace jobqueue

#endif  // JOBQUEUE_SCHEDULE_RECURRENCE_H_
