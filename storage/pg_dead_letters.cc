// PgJobStore's dead letters for operators: the list, and replays. Each
// replay is one transaction per dead letter: lock_dead_letter locks its
// row, so a concurrent replay of it (any connection, any replica) waits;
// dead_letter_replay, run after the lock was granted, sees any replay
// committed meanwhile and answers it; otherwise the job is made (retry_job
// for a failed job's copy, the enqueue statements for a delivery) in a
// savepoint, and record_dead_letter_replay writes the outcome. A refusal
// of the job (a constraint, a job gone or not failed) rolls back to the
// savepoint and is recorded as the replay's error; any other error rolls
// the whole transaction back, recording nothing.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/pg_job_store.h"
#include "storage/pg_job_store_internal.h"
#include "storage/sql_error.h"

namespace jobqueue {
namespace {

const NamedQuery& kListDeadLetters = Query("list_dead_letters");
const NamedQuery& kLockDeadLetter = Query("lock_dead_letter");
const NamedQuery& kDeadLetterReplay = Query("dead_letter_replay");
const NamedQuery& kRecordDeadLetterReplay = Query("record_dead_letter_replay");
const NamedQuery& kRetryJobToo = Query("retry_job");

// The replay whose columns start at column `first` of `row` (see
// dead_letters.sql).
DeadLetterReplay ReplayFromRow(const pqxx::row& row, int first) {
  return DeadLetterReplay{.dead_letter_id = row[first].as<std::string>(),
                          .dead_letter_attempts = row[first + 1].as<int>(),
                          .requested_by = row[first + 2].as<std::string>(),
                          .replayed_at = FromEpoch(row[first + 3]),
                          .job_id = TextOrEmpty(row[first + 4]),
                          .error = TextOrEmpty(row[first + 5]),
                          .tries = row[first + 6].as<int>()};
}

// A refusal the replay records as its outcome (the dead letter cannot
// become a job as things are), rather than the call's error.
bool IsReplayOutcome(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

// The error text a failed replay records: never empty.
std::string ErrorText(const absl::Status& status) {
  if (!status.message().empty()) return std::string(status.message());
  return absl::StatusCodeToString(status.code());
}

// Sorts after every UUID: the id half of a first page's cursor.
constexpr char kAfterEveryId[] = "ffffffff-ffff-ffff-ffff-ffffffffffff";

}  // namespace

DeadLetter DeadLetterFromRow(const pqxx::row& row) {
  return DeadLetter{.id = row[0].as<std::string>(),
                    .source = row[1].as<std::string>(),
                    .delivery_id = TextOrEmpty(row[2]),
                    .reason = row[3].as<std::string>(),
                    .raw_payload_json = row[4].as<std::string>(),
                    .attempts = row[5].as<int>(),
                    .first_seen_at = FromEpoch(row[6]),
                    .last_seen_at = FromEpoch(row[7]),
                    .job_id = TextOrEmpty(row[8])};
}

void AddDeadLetterStatements(StatementSet& c) {
  c.Add(kListDeadLetters);
  c.Add(kLockDeadLetter);
  c.Add(kDeadLetterReplay);
  c.Add(kRecordDeadLetterReplay);
}

absl::StatusOr<DeadLetterPage> PgJobStore::ListDeadLetters(
    const DeadLetterFilter& filter,
    const std::optional<DeadLetterCursor>& after, int limit,
    absl::Time deadline) {
  if (limit < 1) {
    return absl::InvalidArgumentError("page size must be at least 1");
  }
  const std::string cursor_time = TimestampParam(
      after.has_value() ? after->last_seen_at : absl::InfiniteFuture());
  const std::string cursor_id = after.has_value() ? after->id : kAfterEveryId;
  return WithConnection<DeadLetterPage>(
      deadline, /*retry_safe=*/true,
      [&](pqxx::transaction_base& txn) -> absl::StatusOr<DeadLetterPage> {
        // One extra row tells whether another page follows.
        pqxx::result r =
            Exec(txn, kListDeadLetters, filter.source, filter.reason_contains,
                 TimestampParam(filter.since), TimestampParam(filter.until),
                 cursor_time, cursor_id, limit + 1);
        DeadLetterPage page;
        for (const pqxx::row& row : r) {
          if (static_cast<int>(page.dead_letters.size()) == limit) break;
          DeadLetter letter = DeadLetterFromRow(row);
          if (!row[9].is_null()) letter.replay = ReplayFromRow(row, 9);
          page.dead_letters.push_back(std::move(letter));
        }
        if (static_cast<int>(r.size()) > limit) {
          const DeadLetter& last = page.dead_letters.back();
          page.next = DeadLetterCursor{last.last_seen_at, last.id};
        }
        return page;
      });
}

std::vector<absl::StatusOr<DeadLetterReplayResult>>
PgJobStore::ReplayDeadLetters(const std::vector<std::string>& ids,
                              const std::string& requested_by,
                              const DeadLetterToJob& to_job,
                              absl::Time deadline) {
  std::vector<absl::StatusOr<DeadLetterReplayResult>> results;
  results.reserve(ids.size());
  for (const std::string& id : ids) {
    // Safe to repeat: a replay that committed answers its record.
    results.push_back(WithConnection<DeadLetterReplayResult>(
        deadline, /*retry_safe=*/true,
        [&](pqxx::transaction_base& txn)
            -> absl::StatusOr<DeadLetterReplayResult> {
          return ReplayOne(txn, id, requested_by, to_job);
        },
        /*autocommit=*/false, /*transaction=*/true));
  }
  return results;
}

absl::StatusOr<DeadLetterReplayResult> PgJobStore::ReplayOne(
    pqxx::transaction_base& txn, const std::string& id,
    const std::string& requested_by, const DeadLetterToJob& to_job) {
  pqxx::result locked = Exec(txn, kLockDeadLetter, id);
  if (locked.empty()) {
    return absl::NotFoundError(absl::StrCat("dead letter ", id, " not found"));
  }
  const DeadLetter letter = DeadLetterFromRow(locked[0]);
  pqxx::result recorded = Exec(txn, kDeadLetterReplay, id, letter.attempts);
  if (!recorded.empty() && !recorded[0][4].is_null()) {
    return DeadLetterReplayResult{ReplayFromRow(recorded[0], 0), false};
  }
  const absl::StatusOr<std::string> job_id = ReplayedJob(txn, letter, to_job);
  // Nothing of the job was written: the transaction may commit.
  if (!job_id.ok() && !IsReplayOutcome(job_id.status())) {
    return job_id.status();
  }
  pqxx::result written = Exec(txn, kRecordDeadLetterReplay, id, letter.attempts,
                              requested_by, job_id.ok() ? *job_id : "",
                              job_id.ok() ? "" : ErrorText(job_id.status()));
  if (written.empty()) {
    // A successful replay of this occurrence that the lock did not keep
    // out (someone's SQL): roll the job back.
    throw pqxx::unexpected_rows(
        absl::StrCat("dead letter ", id, " was replayed meanwhile"));
  }
  return DeadLetterReplayResult{ReplayFromRow(written[0], 0), true};
}

absl::StatusOr<std::string> PgJobStore::ReplayedJob(
    pqxx::transaction_base& txn, const DeadLetter& letter,
    const DeadLetterToJob& to_job) {
  absl::StatusOr<NewJob> job;
  if (letter.job_id.empty()) {
    job = to_job(letter);
    if (!job.ok()) return job.status();
  }
  txn.exec0("SAVEPOINT replay");
  try {
    absl::StatusOr<std::string> id;
    if (!letter.job_id.empty()) {
      pqxx::result r = Exec(txn, kRetryJobToo, letter.job_id);
      if (r.empty()) {
        id = JobNotFound(letter.job_id);
      } else if (r[0][2].is_null()) {
        id = absl::FailedPreconditionError(absl::StrCat(
            "job ", letter.job_id, " is '", r[0][0].as<std::string>(),
            "'; only a failed job is re-queued"));
      } else {
        id = r[0][2].as<std::string>();
      }
    } else {
      absl::StatusOr<EnqueueResult> enqueued = EnqueueIn(txn, *job);
      if (enqueued.ok()) {
        id = enqueued->job.id;
      } else {
        id = enqueued.status();
      }
    }
    txn.exec0("RELEASE SAVEPOINT replay");
    return id;
  } catch (const pqxx::sql_error&) {
    const absl::Status status = StatusFromCurrentException(RunningStatement());
    txn.exec0("ROLLBACK TO SAVEPOINT replay");
    // A deadlock, a lock timeout: the call's error, not the replay's.
    if (!IsReplayOutcome(status)) throw;
    return status;
  }
}

}  // namespace jobqueue
