// FakeJobStore's recurring schedules, as pg_job_schedules.cc keeps them:
// the same answers, the same first tick and catch-up rule, one job per tick
// with the key ScheduleTickKey.

#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "schedule/recurrence.h"
#include "storage/fake_job_store.h"

namespace jobqueue {
namespace {

absl::StatusOr<Recurrence> RecurrenceOf(const ScheduleSpec& spec) {
  return Recurrence::Of(spec.cron, spec.time_zone, spec.interval);
}

auto Definition(const ScheduleSpec& s) {
  return std::tie(s.cron, s.time_zone, s.interval, s.job.queue,
                  s.job.user_phone, s.job.user_first_name,
                  s.job.source_channel_id, s.job.source_type,
                  s.job.content_type, s.job.payload_json, s.job.priority,
                  s.job.ordered, s.job.max_attempts);
}

}  // namespace

bool FakeJobStore::SetScheduleNextRunAt(const std::string& name, absl::Time t) {
  absl::MutexLock lock(&mu_);
  auto it = schedules_.find(name);
  if (it == schedules_.end()) return false;
  it->second.next_run_at = t;
  return true;
}

absl::StatusOr<CreateScheduleResult> FakeJobStore::CreateSchedule(
    const ScheduleSpec& spec, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("CreateSchedule", deadline); !s.ok()) return s;
  if (auto it = schedules_.find(spec.name); it != schedules_.end()) {
    if (Definition(it->second.spec) != Definition(spec)) {
      return absl::AlreadyExistsError(absl::StrCat(
          "schedule ", spec.name,
          " exists with another definition; delete it first to change it"));
    }
    return CreateScheduleResult{it->second, false};
  }
  if (!IsScheduleName(spec.name)) {
    return absl::InvalidArgumentError("schedule name breaks its rule");
  }
  // The schedules_one_kind constraint.
  const bool cron = !spec.cron.empty() && !spec.time_zone.empty() &&
                    spec.interval == absl::ZeroDuration();
  const bool interval = spec.cron.empty() && spec.time_zone.empty() &&
                        spec.interval > absl::ZeroDuration();
  if (!cron && !interval) {
    return absl::InvalidArgumentError(
        "a schedule has a cron expression and a time zone, or an interval");
  }
  absl::StatusOr<Recurrence> recurrence = RecurrenceOf(spec);
  if (!recurrence.ok()) return recurrence.status();
  NewJob job = spec.job;
  job.idempotency_key = "";
  if (absl::Status s = CheckEnqueue(job); !s.ok()) return s;
  const absl::Time now = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  Schedule schedule{.spec = spec,
                    .next_run_at = recurrence->Next(
                        absl::FromUnixMillis(absl::ToUnixMillis(now))),
                    .created_at = now};
  schedules_.emplace(spec.name, schedule);
  return CreateScheduleResult{schedule, true};
}

absl::StatusOr<SchedulePage> FakeJobStore::ListSchedules(
    const std::string& after, int limit, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("ListSchedules", deadline); !s.ok()) return s;
  if (limit < 1) {
    return absl::InvalidArgumentError("page size must be at least 1");
  }
  SchedulePage page;
  for (auto it = schedules_.upper_bound(after); it != schedules_.end(); ++it) {
    if (static_cast<int>(page.schedules.size()) == limit) {
      page.next_after = page.schedules.back().spec.name;
      break;
    }
    page.schedules.push_back(it->second);
  }
  return page;
}

absl::Status FakeJobStore::DeleteSchedule(const std::string& name,
                                          absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("DeleteSchedule", deadline); !s.ok()) return s;
  if (schedules_.erase(name) == 0) {
    return absl::NotFoundError(absl::StrCat("schedule ", name, " not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ScheduleTickReport> FakeJobStore::RunSchedules(
    int max_schedules, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = Begin("RunSchedules", deadline); !s.ok()) return s;
  ScheduleTickReport report;
  const absl::Time now = absl::Now();
  for (auto& [name, schedule] : schedules_) {
    if (report.enqueued == max_schedules) break;
    if (schedule.next_run_at > now) continue;
    absl::StatusOr<Recurrence> recurrence = RecurrenceOf(schedule.spec);
    if (!recurrence.ok()) {
      report.errors.push_back(
          absl::StrCat(name, ": ", recurrence.status().message()));
      continue;
    }
    const Recurrence::CatchUp due =
        recurrence->Latest(schedule.next_run_at, now);
    NewJob job = schedule.spec.job;
    job.idempotency_key = ScheduleTickKey(name, due.tick);
    if (absl::Status s = CheckEnqueue(job); !s.ok()) {
      report.errors.push_back(absl::StrCat(name, ": ", s.message()));
      continue;
    }
    Insert(job);
    schedule.last_run_at = due.tick;
    schedule.next_run_at = recurrence->Next(due.tick);
    ++report.enqueued;
    report.skipped_ticks += due.skipped;
  }
  return report;
}

}  // namespace jobqueue
