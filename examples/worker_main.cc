// //examples:worker: a JobQueue worker built on the generated stub. It claims
// jobs in batches (waiting for work), heartbeats each job's lease while it
// works, then completes it, or fails it (retryable) when the payload says
// {"fail": true}. Ctrl-C lets the job in hand finish, then exits.
//
//   bazel run //examples:worker -- --server=127.0.0.1:50051 --work=200ms
//   bazel-bin/examples/worker --server=127.0.0.1:50051 --work=200ms
//
// When the server has a bearer token, give it to the worker as
// JOBQUEUE_BEARER_TOKEN, as the server reads it. The old name
// JOBQUEUE_AUTH_TOKEN is still read; when both are set and not empty,
// JOBQUEUE_BEARER_TOKEN wins (the server's own rule).

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "JobQueue address");
ABSL_FLAG(std::string, worker_id, "",
          "name shown on claimed jobs; "
          "defaults to example-worker-<pid>");
ABSL_FLAG(int, batch, 10, "jobs claimed per call");
ABSL_FLAG(absl::Duration, lease, absl::Seconds(30), "lease per claim");
ABSL_FLAG(absl::Duration, work, absl::Milliseconds(200),
          "pretend work per job");
ABSL_FLAG(bool, exit_when_idle, false, "exit when a claim finds no work");

namespace {

using jobqueue::v1::JobQueue;

std::atomic<bool> stopping{false};

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  *out = google::protobuf::util::TimeUtil::NanosecondsToDuration(
      absl::ToInt64Nanoseconds(d));
}

// The bearer token: $JOBQUEUE_BEARER_TOKEN, else the old $JOBQUEUE_AUTH_TOKEN;
// empty when neither is set (or both are empty).
std::string BearerToken() {
  for (const char* name : {"JOBQUEUE_BEARER_TOKEN", "JOBQUEUE_AUTH_TOKEN"}) {
    const char* token = std::getenv(name);
    if (token != nullptr && *token != '\0') return token;
  }
  return "";
}

// A context with a deadline and, when there is a bearer token, the token.
std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) {
  static const std::string* const token = new std::string(BearerToken());
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!token->empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", *token));
  }
  return context;
}

// Extends the lease every third of its length until `done`.
void Heartbeat(JobQueue::Stub& stub, const jobqueue::v1::Job& job,
               absl::Notification& done) {
  const absl::Duration lease = absl::GetFlag(FLAGS_lease);
  while (!done.WaitForNotificationWithTimeout(lease / 3)) {
    jobqueue::v1::ExtendLeaseRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(job.lease_token());
    SetDuration(lease, r.mutable_lease_duration());
    jobqueue::v1::Job extended;
    grpc::Status s =
        stub.ExtendLease(Context(absl::Seconds(5)).get(), r, &extended);
    if (!s.ok()) {
      std::fprintf(stderr, "lost the lease of %s: %s\n", job.id().c_str(),
                   s.error_message().c_str());
      return;
    }
  }
}

void Process(JobQueue::Stub& stub, const jobqueue::v1::Job& job) {
  absl::Notification done;
  std::thread heartbeat([&] { Heartbeat(stub, job, done); });
  absl::SleepFor(absl::GetFlag(FLAGS_work));
  done.Notify();
  heartbeat.join();

  const auto& fields = job.payload().fields();
  const bool fail = fields.count("fail") && fields.at("fail").bool_value();
  jobqueue::v1::Job result;
  grpc::Status s;
  if (fail) {
    jobqueue::v1::FailJobRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(job.lease_token());
    r.set_error("the payload asked to fail");
    r.set_retryable(true);
    s = stub.FailJob(Context(absl::Seconds(5)).get(), r, &result);
  } else {
    jobqueue::v1::CompleteJobRequest r;
    r.set_job_id(job.id());
    r.set_lease_token(job.lease_token());
    s = stub.CompleteJob(Context(absl::Seconds(5)).get(), r, &result);
  }
  std::printf("%s %s (conversation %s, attempt %d)%s\n",
              fail ? "failed" : "completed", job.id().c_str(),
              job.source_channel_id().c_str(), job.attempts(),
              s.ok() ? "" : absl::StrCat(": ", s.error_message()).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::signal(SIGINT, [](int) { stopping = true; });
  std::signal(SIGTERM, [](int) { stopping = true; });
  std::string worker_id = absl::GetFlag(FLAGS_worker_id);
  if (worker_id.empty()) worker_id = absl::StrCat("example-worker-", getpid());
  auto stub = JobQueue::NewStub(grpc::CreateChannel(
      absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials()));
  std::printf("%s: claiming from %s\n", worker_id.c_str(),
              absl::GetFlag(FLAGS_server).c_str());
  std::fflush(stdout);
  while (!stopping) {
    jobqueue::v1::ClaimJobsRequest claim;
    claim.set_worker_id(worker_id);
    claim.set_max_jobs(absl::GetFlag(FLAGS_batch));
    SetDuration(absl::GetFlag(FLAGS_lease), claim.mutable_lease_duration());
    SetDuration(absl::Seconds(absl::GetFlag(FLAGS_exit_when_idle) ? 1 : 5),
                claim.mutable_wait_timeout());
    jobqueue::v1::ClaimJobsResponse response;
    grpc::Status s =
        stub->ClaimJobs(Context(absl::Seconds(30)).get(), claim, &response);
    if (!s.ok()) {
      std::fprintf(stderr, "claim failed: %s; retrying in 1s\n",
                   s.error_message().c_str());
      absl::SleepFor(absl::Seconds(1));
      continue;
    }
    if (response.jobs().empty() && absl::GetFlag(FLAGS_exit_when_idle)) break;
    // Claimed jobs are leased to us: finish them even when asked to stop.
    for (const auto& job : response.jobs()) Process(*stub, job);
  }
  return 0;
}
