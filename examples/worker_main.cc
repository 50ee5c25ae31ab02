// //examples:worker: a JobQueue worker built on the generated stub. It opens a
// StreamJobs stream, takes the jobs the server pushes (at most --batch held
// at once), heartbeats each job's lease while it works, then completes it,
// or fails it (retryable) when the payload says {"fail": true}, on the same
// stream. A broken stream is opened again after a backoff (the jobs it held
// are handed back by the server). Ctrl-C lets the job in hand finish, then
// exits.
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

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "JobQueue address");
ABSL_FLAG(std::string, worker_id, "",
          "name shown on claimed jobs; "
          "defaults to example-worker-<pid>");
ABSL_FLAG(int, batch, 10, "jobs held at once (max_outstanding)");
ABSL_FLAG(absl::Duration, lease, absl::Seconds(30), "lease per claim");
ABSL_FLAG(absl::Duration, work, absl::Milliseconds(200),
          "pretend work per job");
ABSL_FLAG(bool, exit_when_idle, false, "exit once no job came for a second");

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

// An ack whose code is not 0: a stale lease, a cancelled job, ...
void ReportAcks(const jobqueue::v1::StreamJobsResponse& response) {
  for (const auto& ack : response.acks()) {
    if (ack.code() == 0) continue;
    std::fprintf(stderr, "%s: %s\n", ack.job_id().c_str(),
                 ack.message().c_str());
  }
}

using Stream = grpc::ClientReaderWriter<jobqueue::v1::StreamJobsRequest,
                                        jobqueue::v1::StreamJobsResponse>;

// One open stream: its writes come from the worker and its heartbeats.
class Session {
 public:
  Session(JobQueue::Stub& stub, const std::string& worker_id)
      : context_(Context(absl::Hours(24 * 365))),
        stream_(stub.StreamJobs(context_.get())) {
    jobqueue::v1::StreamJobsRequest open;
    open.mutable_open()->set_worker_id(worker_id);
    open.mutable_open()->set_max_outstanding(absl::GetFlag(FLAGS_batch));
    SetDuration(absl::GetFlag(FLAGS_lease),
                open.mutable_open()->mutable_lease_duration());
    Send(open);
  }

  bool Read(jobqueue::v1::StreamJobsResponse* response) {
    return stream_->Read(response);
  }
  void Send(const jobqueue::v1::StreamJobsRequest& request) {
    absl::MutexLock lock(&write_mu_);
    if (!closed_) stream_->Write(request);  // a failed write ends Read too
  }
  // Half-closes: the server answers what it got, hands back the jobs not
  // answered for and ends the stream.
  void Close() {
    absl::MutexLock lock(&write_mu_);
    if (!closed_) stream_->WritesDone();
    closed_ = true;
  }
  grpc::Status Finish() {
    Close();
    jobqueue::v1::StreamJobsResponse rest;
    while (stream_->Read(&rest)) ReportAcks(rest);
    return stream_->Finish();
  }

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Stream> stream_;
  absl::Mutex write_mu_;
  bool closed_ ABSL_GUARDED_BY(write_mu_) = false;
};

// Extends the lease every third of its length until `done`.
void Heartbeat(Session& session, const jobqueue::v1::Job& job,
               absl::Notification& done) {
  const absl::Duration lease = absl::GetFlag(FLAGS_lease);
  while (!done.WaitForNotificationWithTimeout(lease / 3)) {
    jobqueue::v1::StreamJobsRequest r;
    jobqueue::v1::ExtendLeaseRequest* extend = r.add_items()->mutable_extend();
    extend->set_job_id(job.id());
    extend->set_lease_token(job.lease_token());
    SetDuration(lease, extend->mutable_lease_duration());
    session.Send(r);
  }
}

void Process(Session& session, const jobqueue::v1::Job& job) {
  absl::Notification done;
  std::thread heartbeat([&] { Heartbeat(session, job, done); });
  absl::SleepFor(absl::GetFlag(FLAGS_work));
  done.Notify();
  heartbeat.join();

  const auto& fields = job.payload().fields();
  const bool fail = fields.count("fail") && fields.at("fail").bool_value();
  jobqueue::v1::StreamJobsRequest r;
  if (fail) {
    jobqueue::v1::FailJobRequest* item = r.add_items()->mutable_fail();
    item->set_job_id(job.id());
    item->set_lease_token(job.lease_token());
    item->set_error("the payload asked to fail");
    item->set_retryable(true);
  } else {
    jobqueue::v1::CompleteJobRequest* item = r.add_items()->mutable_complete();
    item->set_job_id(job.id());
    item->set_lease_token(job.lease_token());
  }
  session.Send(r);
  std::printf("%s %s (conversation %s, attempt %d)\n",
              fail ? "failed" : "completed", job.id().c_str(),
              job.source_channel_id().c_str(), job.attempts());
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
  std::printf("%s: streaming jobs from %s\n", worker_id.c_str(),
              absl::GetFlag(FLAGS_server).c_str());
  std::fflush(stdout);
  absl::Duration backoff = absl::Seconds(1);
  std::atomic<bool> idle{false};
  while (!stopping && !idle) {
    Session session(*stub, worker_id);
    // Closes the stream, between jobs, on Ctrl-C or when idle with
    // --exit_when_idle.
    std::atomic<bool> busy{false};
    std::atomic<int64_t> last_job{absl::ToUnixMillis(absl::Now())};
    absl::Notification ended;
    std::thread watch([&] {
      while (!ended.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
        const absl::Time last = absl::FromUnixMillis(last_job.load());
        if (busy) continue;
        if (stopping || (absl::GetFlag(FLAGS_exit_when_idle) &&
                         absl::Now() - last > absl::Seconds(1))) {
          idle = !stopping;
          session.Close();
          return;
        }
      }
    });
    jobqueue::v1::StreamJobsResponse response;
    while (session.Read(&response)) {
      ReportAcks(response);
      backoff = absl::Seconds(1);
      // Pushed jobs are leased to us: finish the one in hand even when
      // asked to stop; the others go back when the stream ends.
      busy = true;
      for (const auto& job : response.jobs()) {
        if (stopping) break;
        Process(session, job);
      }
      last_job = absl::ToUnixMillis(absl::Now());
      busy = false;
      if (stopping) break;
    }
    ended.Notify();
    watch.join();
    const grpc::Status s = session.Finish();
    if (stopping || idle) break;
    std::fprintf(stderr, "stream ended: %s; again in %s\n",
                 s.error_message().c_str(),
                 absl::FormatDuration(backoff).c_str());
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(30));
  }
  return 0;
}
