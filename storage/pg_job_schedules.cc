// PgJobStore's recurring schedules: create, list and delete them, and the
// tick step every replica runs. A round takes the due schedules no other
// session holds (FOR UPDATE SKIP LOCKED), enqueues each one's job with the
// enqueue statements of jobs_enqueue.sql (so users, conversation order and
// the jobs' NOTIFY hold as for EnqueueJob) and the key ScheduleTickKey, and
// moves its next_run_at on, in one transaction: a tick enqueues one job
// however many replicas run rounds at once, and a round cut off by a crash
// leaves the schedule due with no job.

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "schedule/recurrence.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"

namespace jobqueue {
namespace {

const NamedQuery& kCreateSchedule = Query("create_schedule");
const NamedQuery& kListSchedules = Query("list_schedules");
const NamedQuery& kDeleteSchedule = Query("delete_schedule");
const NamedQuery& kDueSchedules = Query("due_schedules");
const NamedQuery& kScheduleRan = Query("schedule_ran");
const NamedQuery& kEnqueueKeepName = Query("enqueue_keep_name");
const NamedQuery& kEnqueueSetName = Query("enqueue_set_name");

// The schedule whose columns start the row (see schedules.sql).
Schedule ScheduleFromRow(const pqxx::row& row) {
  Schedule s;
  s.spec.name = row[0].as<std::string>();
  s.spec.job.queue = row[1].as<std::string>();
  s.spec.cron = row[2].as<std::string>();
  s.spec.time_zone = row[3].as<std::string>();
  s.spec.interval = absl::Milliseconds(row[4].as<int64_t>());
  s.spec.job.user_phone = row[5].as<std::string>();
  s.spec.job.user_first_name = row[6].as<std::string>();
  s.spec.job.source_channel_id = row[7].as<std::string>();
  s.spec.job.source_type = row[8].as<std::string>();
  s.spec.job.content_type = row[9].as<std::string>();
  s.spec.job.payload_json = row[10].as<std::string>();
  s.spec.job.priority = row[11].as<int>();
  s.spec.job.ordered = row[12].as<bool>();
  s.spec.job.max_attempts = row[13].as<int>();
  s.next_run_at = FromEpoch(row[14]);
  if (!row[15].is_null()) s.last_run_at = FromEpoch(row[15]);
  s.created_at = FromEpoch(row[16]);
  return s;
}

absl::StatusOr<Recurrence> RecurrenceOf(const ScheduleSpec& spec) {
  return Recurrence::Of(spec.cron, spec.time_zone, spec.interval);
}

}  // namespace

void AddScheduleStatements(StatementSet& c) {
  c.Add(kCreateSchedule);
  c.Add(kListSchedules);
  c.Add(kDeleteSchedule);
  c.Add(kDueSchedules);
  c.Add(kScheduleRan);
}

absl::StatusOr<CreateScheduleResult> PgJobStore::CreateSchedule(
    const ScheduleSpec& spec, absl::Time deadline) {
  absl::StatusOr<Recurrence> recurrence = RecurrenceOf(spec);
  if (!recurrence.ok()) return recurrence.status();
  // Intervals count from a whole millisecond, as interval_ms holds them.
  const absl::Time first =
      recurrence->Next(absl::FromUnixMillis(absl::ToUnixMillis(absl::Now())));
  const NewJob& job = spec.job;
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::optional<CreateScheduleResult>> r =
        WithConnection<std::optional<CreateScheduleResult>>(
            deadline, /*retry_safe=*/true,
            [&](pqxx::transaction_base& txn)
                -> absl::StatusOr<std::optional<CreateScheduleResult>> {
              pqxx::result rows =
                  Exec(txn, kCreateSchedule, spec.name, job.queue, spec.cron,
                       spec.time_zone, absl::ToInt64Milliseconds(spec.interval),
                       job.user_phone, job.user_first_name,
                       job.source_channel_id, job.source_type, job.content_type,
                       job.payload_json, job.priority, job.ordered,
                       job.max_attempts, TimestampParam(first));
              if (rows.empty()) return std::nullopt;
              if (!rows[0][18].as<bool>()) {
                return absl::AlreadyExistsError(absl::StrCat(
                    "schedule ", spec.name,
                    " exists with another definition; delete it first to "
                    "change it"));
              }
              return CreateScheduleResult{ScheduleFromRow(rows[0]),
                                          rows[0][17].as<bool>()};
            });
    if (!r.ok()) return r.status();
    if (r->has_value()) return **r;
    // Taken by a schedule committed after the statement's snapshot: a
    // fresh statement sees it.
    if (attempt >= 2) {
      return absl::AbortedError(
          absl::StrCat("schedule ", spec.name, " changed meanwhile; retry"));
    }
  }
}

absl::StatusOr<SchedulePage> PgJobStore::ListSchedules(const std::string& after,
                                                       int limit,
                                                       absl::Time deadline) {
  if (limit < 1) {
    return absl::InvalidArgumentError("page size must be at least 1");
  }
  return WithConnection<SchedulePage>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<SchedulePage> {
        // One extra row tells whether another page follows.
        pqxx::result r = Exec(txn, kListSchedules, after, limit + 1);
        SchedulePage page;
        for (const pqxx::row& row : r) {
          if (static_cast<int>(page.schedules.size()) == limit) break;
          page.schedules.push_back(ScheduleFromRow(row));
        }
        if (static_cast<int>(r.size()) > limit) {
          page.next_after = page.schedules.back().spec.name;
        }
        return page;
      });
}

absl::Status PgJobStore::DeleteSchedule(const std::string& name,
                                        absl::Time deadline) {
  return WithConnection<bool>(
             deadline, /*retry_safe=*/true,
             [&](pqxx::transaction_base& txn) -> absl::StatusOr<bool> {
               if (Exec(txn, kDeleteSchedule, name).empty()) {
                 return absl::NotFoundError(
                     absl::StrCat("schedule ", name, " not found"));
               }
               return true;
             })
      .status();
}

void PgJobStore::Tick(pqxx::transaction_base& txn, const pqxx::row& row,
                      ScheduleTickReport& report) {
  const Schedule schedule = ScheduleFromRow(row);
  const std::string& name = schedule.spec.name;
  absl::StatusOr<Recurrence> recurrence = RecurrenceOf(schedule.spec);
  if (!recurrence.ok()) {
    report.errors.push_back(
        absl::StrCat(name, ": ", recurrence.status().message()));
    return;
  }
  const absl::Time now = FromEpoch(row[17]);
  // After an outage only the latest missed tick is enqueued.
  const Recurrence::CatchUp due = recurrence->Latest(schedule.next_run_at, now);
  const NewJob& job = schedule.spec.job;
  Exec(txn, job.user_first_name.empty() ? kEnqueueKeepName : kEnqueueSetName,
       job.user_phone, job.user_first_name, job.source_channel_id,
       job.source_type, job.payload_json, job.content_type,
       ScheduleTickKey(name, due.tick), job.max_attempts, job.queue,
       job.ordered, job.priority, TimestampParam(absl::InfinitePast()),
       int64_t{0}, Millis(job.max_run_time));
  Exec(txn, kScheduleRan, name, TimestampParam(recurrence->Next(due.tick)),
       TimestampParam(due.tick));
  ++report.enqueued;
  report.skipped_ticks += due.skipped;
}

absl::StatusOr<ScheduleTickReport> PgJobStore::RunSchedules(
    int max_schedules, absl::Time deadline) {
  return WithConnection<ScheduleTickReport>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<ScheduleTickReport> {
        ScheduleTickReport report;
        pqxx::result due = Exec(txn, kDueSchedules, max_schedules);
        // Conversations are locked in one order by every round, so two
        // rounds holding schedules of the same conversations cannot
        // deadlock.
        std::vector<pqxx::row> rows(due.begin(), due.end());
        std::sort(rows.begin(), rows.end(),
                  [](const pqxx::row& a, const pqxx::row& b) {
                    return std::make_tuple(a[1].as<std::string>(),
                                           a[7].as<std::string>()) <
                           std::make_tuple(b[1].as<std::string>(),
                                           b[7].as<std::string>());
                  });
        for (const pqxx::row& row : rows) {
          // A schedule whose job cannot be enqueued now (a conversation
          // row an operator holds, say) stays due; the others go on.
          txn.exec0("SAVEPOINT tick");
          try {
            Tick(txn, row, report);
            txn.exec0("RELEASE SAVEPOINT tick");
          } catch (const pqxx::sql_error& e) {
            txn.exec0("ROLLBACK TO SAVEPOINT tick");
            report.errors.push_back(
                absl::StrCat(row[0].as<std::string>(), ": ", e.what()));
          }
        }
        return report;
      },
      /*autocommit=*/false, /*transaction=*/true);
}

}  // namespace jobqueue
