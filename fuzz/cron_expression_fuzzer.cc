// libFuzzer target: cron expressions and time zones
// (schedule/cron_expression, schedule/recurrence), as CreateSchedule takes
// them from a client. Input: the expression, then optionally a newline and
// the zone. What parses must tick forward: each tick is a matching local
// minute (or a gap's end) strictly after the one before.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "schedule/cron_expression.h"
#include "schedule/recurrence.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  absl::string_view expression = input, zone;
  if (size_t nl = input.find('\n'); nl != absl::string_view::npos) {
    expression = input.substr(0, nl);
    zone = input.substr(nl + 1);
  }
  absl::StatusOr<jobqueue::CronExpression> cron =
      jobqueue::CronExpression::Parse(expression);
  absl::StatusOr<jobqueue::Recurrence> recurrence =
      jobqueue::Recurrence::Cron(expression, zone);
  if (cron.ok() != recurrence.ok() && cron.ok() && zone.empty()) std::abort();
  if (!cron.ok()) return 0;
  const absl::CivilMinute from(2026, 2, 28, 23, 59);
  const absl::CivilMinute match = cron->NextMatch(from);
  if (match < from || (match.year() < 10000 && !cron->Matches(match))) {
    std::abort();
  }
  if (!recurrence.ok()) return 0;
  absl::Time t = absl::FromUnixSeconds(1772000000);  // 2026-02-25
  for (int i = 0; i < 5; ++i) {
    const absl::Time next = recurrence->Next(t);
    if (next <= t) std::abort();
    if (next == absl::InfiniteFuture()) break;
    t = next;
  }
  const jobqueue::Recurrence::CatchUp c = recurrence->Latest(
      absl::FromUnixSeconds(1772000000), absl::FromUnixSeconds(1772100000));
  if (c.tick > absl::FromUnixSeconds(1772100000)) std::abort();
  return 0;
}
