#include "schedule/recurrence.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace jobqueue {
namespace {

constexpr size_t kMaxZoneBytes = 64;

// Letters, digits and "/_+-", no "..": a name under /usr/share/zoneinfo.
bool LooksLikeZoneName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxZoneBytes || name[0] == '/' ||
      absl::StrContains(name, "..")) {
    return false;
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '/' && c != '_' && c != '+' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<Recurrence> Recurrence::Cron(absl::string_view expression,
                                            absl::string_view time_zone) {
  absl::StatusOr<CronExpression> cron = CronExpression::Parse(expression);
  if (!cron.ok()) return cron.status();
  Recurrence r;
  r.cron_ = *std::move(cron);
  r.zone_ = absl::UTCTimeZone();
  if (!time_zone.empty() &&
      (!LooksLikeZoneName(time_zone) ||
       !absl::LoadTimeZone(std::string(time_zone), &r.zone_))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "time_zone \"", time_zone,
        "\" is not a known IANA time zone name (such as Europe/Paris)"));
  }
  return r;
}

Recurrence Recurrence::Every(absl::Duration interval) {
  Recurrence r;
  r.interval_ = interval;
  return r;
}

absl::StatusOr<Recurrence> Recurrence::Of(absl::string_view cron,
                                          absl::string_view time_zone,
                                          absl::Duration interval) {
  if (!cron.empty()) return Cron(cron, time_zone);
  if (interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "a schedule needs a cron expression or a positive interval");
  }
  return Every(interval);
}

absl::Time Recurrence::Next(absl::Time t) const {
  if (!cron_.has_value()) return t + interval_;
  absl::CivilMinute c = absl::CivilMinute(absl::ToCivilSecond(t, zone_)) + 1;
  // Only a repeated hour's minutes (at most 60 of them, whose first
  // occurrence is before `t`) send the loop round again.
  for (int i = 0; i < 1000; ++i) {
    c = cron_->NextMatch(c);
    if (c.year() >= 10000) return absl::InfiniteFuture();
    const absl::TimeZone::TimeInfo at = zone_.At(absl::CivilSecond(c));
    const absl::Time tick =
        at.kind == absl::TimeZone::TimeInfo::SKIPPED ? at.trans : at.pre;
    if (tick > t) return tick;
    c += 1;
  }
  return absl::InfiniteFuture();
}

Recurrence::CatchUp Recurrence::Latest(absl::Time due, absl::Time now) const {
  if (due >= now) return {due, 0};
  if (!cron_.has_value()) {
    absl::Duration rest;
    const int64_t k = absl::IDivDuration(now - due, interval_, &rest);
    return {due + k * interval_, k};
  }
  CatchUp result{due, 0};
  for (; result.skipped < kMaxCounted; ++result.skipped) {
    const absl::Time next = Next(result.tick);
    if (next > now) return result;
    result.tick = next;
  }
  // A long outage: look back from `now` over a window that doubles until
  // it holds a tick, then walk to the last one.
  for (absl::Duration w = absl::Minutes(1); now - w > result.tick; w *= 2) {
    absl::Time t = Next(now - w);
    if (t > now) continue;
    for (absl::Time n = Next(t); n <= now; n = Next(t)) t = n;
    result.tick = t;
    break;
  }
  return result;
}

bool IsScheduleName(absl::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != ':' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

std::string ScheduleTickKey(absl::string_view name, absl::Time tick) {
  return absl::StrCat(
      "schedule:", name, ":",
      absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", tick, absl::UTCTimeZone()));
}

}  // namespace jobqueue
