#include "storage/pg_job_store_internal.h"

#include <rapidjson/document.h>

#include <optional>
#include <stdexcept>

#include "absl/random/random.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "storage/requested_job.h"

namespace jobqueue {

absl::Time FromEpoch(const pqxx::field& f) {
  // 0001-01-01 00:00:00 and 9999-12-31 23:59:59.999999 UTC.
  constexpr int64_t kMinSeconds = -62135596800;
  constexpr int64_t kMaxSeconds = 253402300799;
  absl::string_view text(f.c_str(), f.size());
  const bool negative = absl::ConsumePrefix(&text, "-");
  const absl::string_view whole = text.substr(0, text.find('.'));
  absl::string_view fraction = text.substr(whole.size());
  absl::ConsumePrefix(&fraction, ".");
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(whole, &seconds)) {
    if (text != "Infinity") {
      throw std::runtime_error(absl::StrCat("not a time: '", f.c_str(), "'"));
    }
    seconds = kMaxSeconds + 1;
  }
  if (negative ? seconds >= -kMinSeconds : seconds > kMaxSeconds) {
    return negative ? absl::FromUnixSeconds(kMinSeconds)
                    : absl::FromUnixMicros(kMaxSeconds * 1000000 + 999999);
  }
  int64_t micros = 0;
  for (int i = 0; i < 6; ++i) {
    const char digit =
        i < static_cast<int>(fraction.size()) ? fraction[i] : '0';
    micros = micros * 10 + (digit - '0');
  }
  micros += seconds * 1000000;
  return absl::FromUnixMicros(negative ? -micros : micros);
}

std::string TextOrEmpty(const pqxx::field& f) {
  return f.is_null() ? std::string() : std::string(f.c_str(), f.size());
}

std::string TimestampParam(absl::Time t) {
  if (t == absl::InfiniteFuture()) return "infinity";
  if (t == absl::InfinitePast()) return "-infinity";
  return absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone());
}

std::string PgArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

void StatementSet::Add(const NamedQuery& query, bool prepared) {
  statements_.emplace_back(&query, prepared);
}

void StatementSet::PrepareAll(pqxx::connection& c) const {
  for (const auto& [query, prepared] : statements_) {
    if (prepared) c.prepare(query->name, query->sql);
  }
}

std::vector<const NamedQuery*> StatementSet::all() const {
  std::vector<const NamedQuery*> queries;
  for (const auto& [query, prepared] : statements_) queries.push_back(query);
  return queries;
}

absl::Status JobNotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("job ", id, " not found"));
}

absl::Status UserNotFound(const std::string& phone_number) {
  return absl::NotFoundError(absl::StrCat("user ", phone_number, " not found"));
}

absl::Status LeaseExpired(const std::string& id) {
  return absl::FailedPreconditionError(absl::StrCat(
      "job ", id,
      "'s lease has expired: the job goes to another worker, and this "
      "lease_token changes nothing (extend leases well before they run "
      "out)"));
}

absl::Status RunTimeLimitReached(const Job& job) {
  return absl::FailedPreconditionError(absl::StrCat(
      "job ", job.id, " reached its run-time limit at ",
      absl::FormatTime(absl::RFC3339_full, job.run_deadline,
                       absl::UTCTimeZone()),
      ": no heartbeat extends a lease past it; stop working on it. The "
      "attempt counts as failed: it is retried after a backoff while "
      "attempts are left, else it fails for good"));
}

std::vector<AttemptError> AttemptErrorsFromJson(absl::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsArray()) {
    throw std::runtime_error(
        absl::StrCat("attempt_errors is not a JSON array: ", json));
  }
  // Entries plain SQL wrote otherwise keep what can be read of them.
  auto text = [](const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsString()
               ? std::string(it->value.GetString(), it->value.GetStringLength())
               : std::string();
  };
  std::vector<AttemptError> errors;
  for (const rapidjson::Value& v : doc.GetArray()) {
    if (!v.IsObject()) continue;
    AttemptError e;
    auto attempt = v.FindMember("attempt");
    if (attempt != v.MemberEnd() && attempt->value.IsInt()) {
      e.attempt = attempt->value.GetInt();
    }
    e.error = text(v, "error");
    e.worker_id = text(v, "worker_id");
    std::string why;
    if (!absl::ParseTime(absl::RFC3339_full, text(v, "failed_at"), &e.failed_at,
                         &why)) {
      e.failed_at = absl::UnixEpoch();
    }
    errors.push_back(std::move(e));
  }
  return errors;
}

absl::Status JobCancelled(const std::string& id) {
  return absl::FailedPreconditionError(absl::StrCat(
      "job ", id,
      " was cancelled (CancelJob): stop working on it; its lease has ended "
      "and nothing of this call was stored"));
}

namespace {

// A status column's value; throws on one the store does not know.
JobStatus StatusOf(const pqxx::field& f) {
  const std::string status = TextOrEmpty(f);
  const std::optional<JobStatus> parsed = ParseJobStatus(status);
  if (!parsed.has_value()) {
    throw std::runtime_error(absl::StrCat("unknown job status '", status, "'"));
  }
  return *parsed;
}

}  // namespace

Job JobFromRow(const pqxx::row& row, int first) {
  auto text = [&](int i) { return TextOrEmpty(row[first + i]); };
  Job job;
  job.id = text(0);
  job.user_id = text(1);
  job.source_channel_id = text(2);
  job.source_type = text(3);
  job.user_phone = text(4);
  job.payload_json = text(5);
  job.status = StatusOf(row[first + 6]);
  job.content_type = text(7);
  job.idempotency_key = text(8);
  job.created_at = FromEpoch(row[first + 9]);
  job.updated_at = FromEpoch(row[first + 10]);
  job.attempts = row[first + 11].as<int>();
  job.max_attempts = row[first + 12].as<int>();
  job.run_after = FromEpoch(row[first + 13]);
  job.lease_token = text(14);
  if (!row[first + 15].is_null()) {
    job.lease_expires_at = FromEpoch(row[first + 15]);
  }
  job.worker_id = text(16);
  job.last_error = text(17);
  job.queue = text(18);
  job.ordered = row[first + 19].as<bool>();
  job.priority = row[first + 20].as<int>();
  if (!row[first + 21].is_null()) {
    job.cancel_requested_at = FromEpoch(row[first + 21]);
  }
  job.result_json = text(22);
  job.attempt_errors = AttemptErrorsFromJson(text(23));
  if (!row[first + 24].is_null()) {
    job.max_run_time = absl::Milliseconds(row[first + 24].as<int64_t>());
  }
  if (!row[first + 25].is_null()) job.run_deadline = FromEpoch(row[first + 25]);
  return job;
}

Job NewJobFromRow(const NewJob& job, const pqxx::row& row) {
  Job j = RequestedJob(job);
  j.id = row[0].as<std::string>();
  j.status = StatusOf(row[1]);
  j.created_at = FromEpoch(row[2]);
  j.updated_at = FromEpoch(row[3]);
  j.run_after = FromEpoch(row[4]);
  return j;
}

}  // namespace jobqueue
