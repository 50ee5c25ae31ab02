#include "tests/fault/workload.h"

#include <google/protobuf/util/time_util.h>

#include <fstream>
#include <pqxx/pqxx>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace jobqueue::fault {

using google::protobuf::util::TimeUtil;

namespace {

void SetDeadline(grpc::ClientContext& context, absl::Duration d) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + d));
}

void Finish(Call& call, const grpc::Status& status, History& history) {
  call.end = absl::Now();
  call.ok = status.ok();
  call.ambiguous = Ambiguous(status);
  history.Add(call);
}

// One call with a lease token (extend, complete, fail, snooze), recorded.
grpc::Status UseToken(v1::JobQueue::Stub& stub, Call::Kind kind,
                      const v1::Job& job, const std::string& token,
                      const WorkerOptions& options, bool retryable,
                      History& history, v1::Job* out) {
  Call call{.kind = kind, .start = absl::Now(), .worker = options.name};
  call.job_id = job.id();
  call.token = token;
  call.retryable = retryable;
  grpc::ClientContext context;
  SetDeadline(context, options.deadline);
  grpc::Status status;
  if (kind == Call::kExtend) {
    v1::ExtendLeaseRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(token);
    SetDuration(options.lease, r.mutable_lease_duration());
    status = stub.ExtendLease(&context, r, out);
    if (status.ok()) call.expires = FromTimestamp(out->lease_expires_at());
  } else if (kind == Call::kSnooze) {
    v1::SnoozeJobRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(token);
    SetDuration(absl::Milliseconds(random() % 300), r.mutable_delay());
    status = stub.SnoozeJob(&context, r, out);
    if (status.ok()) call.due = FromTimestamp(out->run_after());
  } else if (kind == Call::kComplete) {
    v1::CompleteJobRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(token);
    status = stub.CompleteJob(&context, r, out);
  } else {
    v1::FailJobRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(token);
    r.set_error("fault suite");
    r.set_retryable(retryable);
    status = stub.FailJob(&context, r, out);
  }
  Finish(call, status, history);
  return status;
}

}  // namespace

absl::Time FromTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  *out = TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}

Lease LeaseOf(const v1::Job& job) {
  return {job.id(),
          job.unordered()
              ? ""
              : absl::StrCat(job.queue(), " ", job.source_channel_id()),
          job.lease_token(), FromTimestamp(job.lease_expires_at()),
          job.has_run_deadline() ? FromTimestamp(job.run_deadline())
                                 : absl::InfiniteFuture()};
}

bool Ambiguous(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return false;
    default:
      return true;
  }
}

int RunEnqueuer(const std::vector<v1::JobQueue::Stub*>& stubs,
                const EnqueuerOptions& options, absl::Time stop,
                History& history, const std::atomic<bool>* done) {
  auto ended = [&] {
    return absl::Now() >= stop || (done != nullptr && *done);
  };
  int acknowledged = 0;
  int attempt = 0;
  std::vector<std::string> ids;  // acknowledged, for cancels
  for (int n = 0; n < options.max_jobs && !ended(); ++n) {
    // Now and then a producer cancels one of its recent jobs.
    if (n % 37 == 36 && !ids.empty()) {
      Call cancel{.kind = Call::kCancel, .start = absl::Now()};
      cancel.job_id =
          ids[ids.size() - 1 - (n % std::min<size_t>(ids.size(), 5))];
      v1::CancelJobRequest c;
      c.set_id(cancel.job_id);
      grpc::ClientContext context;
      SetDeadline(context, options.deadline);
      v1::Job cancelled;
      Finish(
          cancel,
          stubs[attempt++ % stubs.size()]->CancelJob(&context, c, &cancelled),
          history);
    }
    v1::EnqueueJobRequest r;
    r.set_user_phone("+15551234567");
    r.set_source_channel_id(absl::StrCat(
        "fault-", (n * 7 + options.name.size()) % options.conversations));
    r.set_source_type(v1::SOURCE_TYPE_GROUP);
    r.set_idempotency_key(absl::StrCat(options.name, "-", n));
    // Two queues sharing the channels, some jobs out of order, some urgent.
    r.set_queue(n % 3 == 2 ? "media" : "default");
    r.set_unordered(n % 5 == 4);
    r.set_priority(n % 7 == 3 ? 5 : 0);
    // Some with a run-time limit: a pause past the lease can outlast it.
    if (n % 10 == 7) r.mutable_max_run_time()->set_seconds(2);
    (*r.mutable_payload()->mutable_fields())["n"].set_number_value(n);
    const absl::Time give_up = absl::Now() + options.retry_for;
    // Retried with the same key while the answer is lost or the server is
    // away; a definite refusal is not retried.
    for (int tries = 0; tries < 200; ++tries) {
      Call call{.kind = Call::kEnqueue, .start = absl::Now()};
      call.channel = r.unordered()
                         ? ""
                         : absl::StrCat(r.queue(), " ", r.source_channel_id());
      call.key = r.idempotency_key();
      grpc::ClientContext context;
      SetDeadline(context, options.deadline);
      v1::EnqueueJobResponse response;
      const grpc::Status status =
          stubs[attempt++ % stubs.size()]->EnqueueJob(&context, r, &response);
      call.returned_job_id = response.job().id();
      Finish(call, status, history);
      if (status.ok()) {
        ++acknowledged;
        ids.push_back(response.job().id());
        break;
      }
      if (!call.ambiguous || absl::Now() >= give_up || ended()) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    absl::SleepFor(options.pause);
  }
  return acknowledged;
}

void RunWorker(const std::vector<v1::JobQueue::Stub*>& stubs,
               const WorkerOptions& options, absl::Time stop,
               const std::atomic<bool>& done, History& history) {
  std::mt19937 random(options.seed);
  std::vector<std::pair<v1::Job, std::string>> old_tokens;  // for stale calls
  for (int claims = 0;
       claims < options.max_claims && absl::Now() < stop && !done; ++claims) {
    v1::JobQueue::Stub& stub = *stubs[claims % stubs.size()];
    Call call{
        .kind = Call::kClaim, .start = absl::Now(), .worker = options.name};
    v1::ClaimJobsRequest claim;
    claim.set_worker_id(options.name);
    claim.set_max_jobs(1 + random() % 3);
    claim.add_queues("default");
    claim.add_queues("media");
    SetDuration(options.lease, claim.mutable_lease_duration());
    SetDuration(absl::Milliseconds(200), claim.mutable_wait_timeout());
    grpc::ClientContext context;
    SetDeadline(context, options.deadline);
    v1::ClaimJobsResponse claimed;
    const grpc::Status status = stub.ClaimJobs(&context, claim, &claimed);
    for (const v1::Job& job : claimed.jobs()) {
      call.leases.push_back(LeaseOf(job));
    }
    Finish(call, status, history);
    if (!status.ok()) {
      absl::SleepFor(absl::Milliseconds(50));
      continue;
    }
    for (const v1::Job& job : claimed.jobs()) {
      const int fate = random() % 100;
      v1::Job out;
      // A heartbeat halfway through the lease now and then.
      if (random() % 4 == 0) {
        absl::SleepFor(options.lease / 2);
        UseToken(stub, Call::kExtend, job, job.lease_token(), options, false,
                 history, &out)
            .IgnoreError();
      } else {
        absl::SleepFor(absl::Milliseconds(random() % 20));
      }
      if (fate < options.pause_percent) {
        // Paused past the lease: it lapses and is rescued; the token is kept
        // for a stale call later.
        absl::SleepFor(options.lease + absl::Milliseconds(random() % 500));
        old_tokens.emplace_back(job, job.lease_token());
        continue;
      }
      if (fate < options.pause_percent + options.fail_percent) {
        const bool retryable = random() % 2 == 0;
        grpc::Status failed =
            UseToken(stub, Call::kFail, job, job.lease_token(), options,
                     retryable, history, &out);
        if (failed.ok() && out.status() == v1::JOB_STATUS_FAILED) {
          // An operator retries the failed job.
          Call retry{.kind = Call::kRetry,
                     .start = absl::Now(),
                     .worker = options.name};
          retry.job_id = job.id();
          v1::RetryJobRequest r;
          r.set_job_id(job.id());
          grpc::ClientContext rc;
          SetDeadline(rc, options.deadline);
          Finish(retry, stub.RetryJob(&rc, r, &out), history);
        }
        old_tokens.emplace_back(job, job.lease_token());
        continue;
      }
      const int snoozed_below =
          options.pause_percent + options.fail_percent + options.snooze_percent;
      if (fate < snoozed_below) {
        // "The downstream service said wait": back for a while, no attempt
        // spent; the token is kept for a stale call later.
        UseToken(stub, Call::kSnooze, job, job.lease_token(), options, false,
                 history, &out)
            .IgnoreError();
        old_tokens.emplace_back(job, job.lease_token());
        continue;
      }
      if (fate < snoozed_below + options.stale_percent && !old_tokens.empty()) {
        // A stale completion: a token from an earlier, lapsed or ended lease.
        const auto& [old_job, token] = old_tokens[random() % old_tokens.size()];
        UseToken(stub, random() % 2 ? Call::kComplete : Call::kFail, old_job,
                 token, options, true, history, &out)
            .IgnoreError();
      }
      UseToken(stub, Call::kComplete, job, job.lease_token(), options, false,
               history, &out)
          .IgnoreError();
      old_tokens.emplace_back(job, job.lease_token());
    }
    if (old_tokens.size() > 64) old_tokens.erase(old_tokens.begin());
  }
}

absl::Status WaitForProgress(const History& history, const Progress& wanted,
                             absl::Time give_up) {
  std::string missing;
  for (int poll = 0; poll < 100000; ++poll) {
    const std::vector<Call> calls = history.Snapshot();
    int enqueues = 0, completions = 0;
    std::vector<bool> seen(wanted.since.size(), false);
    for (const Call& c : calls) {
      if (!c.ok) continue;
      completions += c.kind == Call::kComplete;
      if (c.kind != Call::kEnqueue) continue;
      ++enqueues;
      for (size_t i = 0; i < seen.size(); ++i) {
        seen[i] = seen[i] || c.start >= wanted.since[i];
      }
    }
    missing.clear();
    for (size_t i = 0; i < seen.size(); ++i) {
      if (!seen[i]) {
        absl::StrAppend(&missing, "no enqueue acknowledged since event ", i + 1,
                        " of ", seen.size(), "; ");
      }
    }
    if (enqueues < wanted.enqueues) {
      absl::StrAppend(&missing, enqueues, " of ", wanted.enqueues,
                      " enqueues acknowledged; ");
    }
    if (completions < wanted.completions) {
      absl::StrAppend(&missing, completions, " of ", wanted.completions,
                      " completions acknowledged; ");
    }
    if (missing.empty()) return absl::OkStatus();
    if (absl::Now() >= give_up) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("the load ended at its hard cap: ", missing));
}

absl::StatusOr<std::map<std::string, std::string>> JobsTable(
    const std::string& database_url, std::set<std::string>* complete) {
  try {
    pqxx::connection c(database_url);
    pqxx::nontransaction txn(c);
    std::map<std::string, std::string> table;
    for (const auto& row :
         txn.exec("SELECT id::text, coalesce(idempotency_key, ''), status "
                  "FROM jobs")) {
      table[row[0].as<std::string>()] = row[1].as<std::string>();
      if (complete != nullptr && row[2].as<std::string>() == "complete") {
        complete->insert(row[0].as<std::string>());
      }
    }
    return table;
  } catch (const std::exception& e) {
    return absl::UnavailableError(e.what());
  }
}

absl::StatusOr<std::unique_ptr<ChildProcess>> StartServer(
    const std::string& binary, const std::string& database_url,
    const std::string& address, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"serve",
                                   "--database_url=" + database_url,
                                   "--listen=" + address,
                                   "--metrics_listen=",
                                   "--log_requests=errors",
                                   "--maintenance_interval=100ms",
                                   "--retry_base_delay=50ms",
                                   "--retry_max_delay=200ms",
                                   "--shutdown_grace=2s"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto server = ChildProcess::Start(binary, args);
  if (!server.ok()) return server.status();
  if (!(*server)->WaitForOutput("serving on", absl::Seconds(20))) {
    return absl::DeadlineExceededError(
        absl::StrCat("jobqueue_server did not serve: ", (*server)->output()));
  }
  return server;
}

std::vector<std::string> CheckCompletions(
    const std::vector<Call>& calls, const std::set<std::string>& complete) {
  std::vector<std::string> problems;
  for (const Call& c : calls) {
    if (c.kind == Call::kComplete && c.ok && !complete.count(c.job_id)) {
      problems.push_back(absl::StrCat("completion of job ", c.job_id,
                                      " was acknowledged but it is not "
                                      "complete in the table"));
    }
  }
  return problems;
}

ProcessUsage Usage(pid_t pid) {
  ProcessUsage usage;
  std::ifstream f(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(f, line)) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "VmRSS:")) {
      v = absl::StripAsciiWhitespace(v);
      absl::SimpleAtoi(v.substr(0, v.find(' ')), &usage.rss_kib);
    } else if (absl::ConsumePrefix(&v, "Threads:")) {
      absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &usage.threads);
    }
  }
  return usage;
}

}  // namespace jobqueue::fault
