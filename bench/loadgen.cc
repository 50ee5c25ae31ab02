// loadgen: drives a JobQueue server with many calls in flight (gRPC's
// callback API) and prints one result line per run:
//
//   result scenario=enqueue concurrency=64 ops=51234 seconds=10.0
//     ops_per_sec=5123.4 p50_ms=1.2 p99_ms=4.5 errors=0
//
//   loadgen --server=127.0.0.1:50051 --scenario=enqueue --concurrency=64
//   loadgen --scenario=work --workers=8 --batch=50 --jobs=20000
//   loadgen --scenario=stream --workers=8 --batch=50 --jobs=20000
//   loadgen --scenario=enqueue_batch --batch=100 --concurrency=8
//   loadgen --scenario=list --concurrency=1 --duration=5s
//   loadgen --scenario=health --concurrency=1  # a bare gRPC round trip
//   loadgen --scenario=rate --servers=A,B --queues=limited --rate=50 \
//     --burst=5 --workers=16 --duration=60s  # a rate-limited queue

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bench/recorder.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "JobQueue address");
ABSL_FLAG(std::string, scenario, "enqueue",
          "enqueue, enqueue_batch, work, stream, list, stats, health or rate");
ABSL_FLAG(std::vector<std::string>, servers, {},
          "JobQueue addresses the workers take turns on (rate; default: "
          "--server)");
ABSL_FLAG(std::vector<std::string>, queues, {"default"},
          "queues the work and rate scenarios claim from; jobs go to the "
          "first");
ABSL_FLAG(double, rate, 50, "jobs per second the queue is limited to (rate)");
ABSL_FLAG(int, burst, 5, "the limit's burst (rate)");
ABSL_FLAG(int, concurrency, 8, "calls in flight (enqueue, list)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "run time (enqueue, list)");
ABSL_FLAG(int, conversations, 1000,
          "distinct source channels to spread jobs over");
ABSL_FLAG(int, workers, 8, "claiming workers (work)");
ABSL_FLAG(int, batch, 50, "jobs per claim (work) or per call (enqueue_batch)");
ABSL_FLAG(int, jobs, 10000, "jobs to enqueue and then drain (work)");
ABSL_FLAG(bool, enqueue_first, true,
          "enqueue --jobs before draining them; false: drain --jobs already "
          "pending (work, stream), so only the drain is measured");
ABSL_FLAG(absl::Duration, warm_up, absl::Seconds(1),
          "time before the rate is measured, for the burst to go (rate)");
ABSL_FLAG(bool, ignore_order, false, "claims ignore conversation order (work)");
ABSL_FLAG(bool, text_only, false,
          "claims ask for CONTENT_TYPE_TEXT alone, the type loadgen enqueues "
          "(work)");
ABSL_FLAG(bool, batch_complete, true,
          "complete each claimed batch with one CompleteJobs call; false: "
          "one CompleteJob call per job, all in flight together (work)");

namespace {

using jobqueue::bench::Recorder;
using jobqueue::v1::JobQueue;

jobqueue::v1::EnqueueJobRequest AJob(int64_t n) {
  jobqueue::v1::EnqueueJobRequest r;
  r.set_user_phone(absl::StrCat("+1555", 1000000 + n % 1000));
  r.set_source_channel_id(
      absl::StrCat("bench-", n % absl::GetFlag(FLAGS_conversations)));
  r.set_source_type(jobqueue::v1::SOURCE_TYPE_DM);
  r.set_queue(absl::GetFlag(FLAGS_queues).front());
  auto& fields = *r.mutable_payload()->mutable_fields();
  fields["Body"].set_string_value("benchmark message body of a typical size");
  fields["MessageSid"].set_string_value(absl::StrCat("SMbench", n));
  return r;
}

// One asynchronous unary call: `start(context, request, response, callback)`
// issues it on heap-held objects; `done(status, response)` runs when it
// completes, after which they are freed.
template <typename Response, typename Request, typename Start, typename Done>
void CallAsync(Request request, Start start, Done done) {
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response response;
  };
  auto* call = new Call;
  call->request = std::move(request);
  start(&call->context, &call->request, &call->response,
        [call, done = std::move(done)](grpc::Status s) {
          done(s, call->response);
          delete call;
        });
}

// Keeps --concurrency calls in flight for --duration and prints the result
// line of `scenario`. `start_call(n, done)` issues call number n and runs
// `done(ok)` when it completes.
void RunClosedLoop(
    const std::string& scenario,
    const std::function<void(int64_t, std::function<void(bool)>)>& start_call) {
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  Recorder recorder;
  const absl::Time start = absl::Now();
  const absl::Time until = start + absl::GetFlag(FLAGS_duration);
  std::atomic<int64_t> n{0};
  absl::Mutex mu;
  int running = concurrency;
  std::function<void()> next;
  next = [&] {
    const absl::Time sent = absl::Now();
    start_call(n++, [&, sent](bool ok) {
      recorder.Add(absl::Now() - sent, ok);
      if (absl::Now() < until) {
        next();
      } else {
        absl::MutexLock lock(&mu);
        --running;
      }
    });
  };
  for (int i = 0; i < concurrency; ++i) next();
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* r) { return *r == 0; }, &running));
  }
  recorder.Print(
      absl::StrCat("scenario=", scenario, " concurrency=", concurrency),
      absl::Now() - start);
}

void Enqueue(JobQueue::Stub& stub) {
  const int64_t first = absl::ToUnixMicros(absl::Now());
  RunClosedLoop("enqueue", [&](int64_t n, std::function<void(bool)> done) {
    CallAsync<jobqueue::v1::EnqueueJobResponse>(
        AJob(first + n),
        [&](auto... call) { stub.async()->EnqueueJob(call...); },
        [done](const grpc::Status& s, const auto& response) {
          done(s.ok() && response.created());
        });
  });
}

// EnqueueJobs calls of --batch jobs each; ops are calls.
void EnqueueBatch(JobQueue::Stub& stub) {
  const int batch = absl::GetFlag(FLAGS_batch);
  const int64_t first = absl::ToUnixMicros(absl::Now());
  RunClosedLoop(
      "enqueue_batch", [&](int64_t n, std::function<void(bool)> done) {
        jobqueue::v1::EnqueueJobsRequest request;
        for (int i = 0; i < batch; ++i)
          *request.add_jobs() = AJob(first + n * batch + i);
        CallAsync<jobqueue::v1::EnqueueJobsResponse>(
            std::move(request),
            [&](auto... call) { stub.async()->EnqueueJobs(call...); },
            [done, batch](const grpc::Status& s, const auto& response) {
              bool ok = s.ok() && response.results_size() == batch;
              for (const auto& r : response.results()) ok = ok && r.created();
              done(ok);
            });
      });
}

void List(JobQueue::Stub& stub) {
  RunClosedLoop("list", [&](int64_t n, std::function<void(bool)> done) {
    jobqueue::v1::ListJobsRequest request;
    // Alternate between the whole table and one conversation.
    if (n % 2 == 1) {
      request.set_source_channel_id(
          absl::StrCat("bench-", n % absl::GetFlag(FLAGS_conversations)));
    }
    request.set_page_size(50);
    CallAsync<jobqueue::v1::ListJobsResponse>(
        std::move(request),
        [&](auto... call) { stub.async()->ListJobs(call...); },
        [done](const grpc::Status& s, const auto&) { done(s.ok()); });
  });
}

// GetQueueStats of every queue, as an operator console polls it.
void Stats(JobQueue::Stub& stub) {
  RunClosedLoop("stats", [&](int64_t, std::function<void(bool)> done) {
    CallAsync<jobqueue::v1::GetQueueStatsResponse>(
        jobqueue::v1::GetQueueStatsRequest(),
        [&](auto... call) { stub.async()->GetQueueStats(call...); },
        [done](const grpc::Status& s, const auto& response) {
          done(s.ok() && response.queues_size() > 0);
        });
  });
}

// Health checks: the cost of a gRPC round trip with no database work.
void Health(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  RunClosedLoop("health", [&](int64_t, std::function<void(bool)> done) {
    CallAsync<grpc::health::v1::HealthCheckResponse>(
        grpc::health::v1::HealthCheckRequest(),
        [&](auto... call) { stub->async()->Check(call...); },
        [done](const grpc::Status& s, const auto&) { done(s.ok()); });
  });
}

// Completes `jobs` with one CompleteJobs call; returns how many completed.
int CompleteAll(
    JobQueue::Stub& stub,
    const google::protobuf::RepeatedPtrField<jobqueue::v1::Job>& jobs) {
  if (jobs.empty()) return 0;  // a claim that waited and found none
  jobqueue::v1::CompleteJobsRequest request;
  for (const auto& job : jobs) {
    auto* entry = request.add_jobs();
    entry->set_job_id(job.id());
    entry->set_lease_token(job.lease_token());
  }
  jobqueue::v1::CompleteJobsResponse response;
  grpc::ClientContext context;
  if (!stub.CompleteJobs(&context, request, &response).ok()) return 0;
  return std::count_if(
      response.results().begin(), response.results().end(),
      [](const jobqueue::v1::CompleteJobResult& r) { return r.code() == 0; });
}

// Completes `jobs` with one CompleteJob call each, all in flight together;
// returns how many completed.
int CompleteEach(
    JobQueue::Stub& stub,
    const google::protobuf::RepeatedPtrField<jobqueue::v1::Job>& jobs) {
  absl::Mutex mu;
  int pending = jobs.size();
  int completed = 0;
  for (const auto& job : jobs) {
    jobqueue::v1::CompleteJobRequest request;
    request.set_job_id(job.id());
    request.set_lease_token(job.lease_token());
    CallAsync<jobqueue::v1::Job>(
        std::move(request),
        [&](auto... call) { stub.async()->CompleteJob(call...); },
        [&](const grpc::Status& s, const auto&) {
          absl::MutexLock lock(&mu);
          if (s.ok()) ++completed;
          --pending;
        });
  }
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](int* p) { return *p == 0; }, &pending));
  return completed;
}

// Enqueues `jobs` jobs, 64 calls in flight, and returns once all answered.
void EnqueueForWork(JobQueue::Stub& stub, int jobs) {
  absl::Mutex mu;
  int left = jobs;
  std::atomic<int64_t> n{absl::ToUnixMicros(absl::Now())};
  std::atomic<int> issued{0};
  std::function<void()> next = [&] {
    if (issued++ >= jobs) return;
    CallAsync<jobqueue::v1::EnqueueJobResponse>(
        AJob(n++), [&](auto... call) { stub.async()->EnqueueJob(call...); },
        [&](const grpc::Status&, const auto&) {
          next();
          // Last: the waiter may return right after.
          absl::MutexLock lock(&mu);
          --left;
        });
  };
  for (int i = 0; i < 64; ++i) next();
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](int* l) { return *l <= 0; }, &left));
}

// Enqueues --jobs, then --workers claim batches and complete every job until
// all are done. Latency is per claim and complete round.
void Work(JobQueue::Stub& stub) {
  const int jobs = absl::GetFlag(FLAGS_jobs);
  if (absl::GetFlag(FLAGS_enqueue_first)) EnqueueForWork(stub, jobs);
  std::atomic<int> completed{0};
  Recorder recorder;
  Recorder claims;  // ClaimJobs alone
  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  for (int w = 0; w < absl::GetFlag(FLAGS_workers); ++w) {
    workers.emplace_back([&, w] {
      while (completed < jobs && absl::Now() < start + absl::Minutes(5)) {
        jobqueue::v1::ClaimJobsRequest claim;
        claim.set_worker_id(absl::StrCat("bench-", w));
        claim.set_max_jobs(absl::GetFlag(FLAGS_batch));
        claim.set_ignore_conversation_order(absl::GetFlag(FLAGS_ignore_order));
        for (const std::string& q : absl::GetFlag(FLAGS_queues)) {
          claim.add_queues(q);
        }
        if (absl::GetFlag(FLAGS_text_only)) {
          claim.add_content_types(jobqueue::v1::CONTENT_TYPE_TEXT);
        }
        claim.mutable_wait_timeout()->set_nanos(200 * 1000 * 1000);
        jobqueue::v1::ClaimJobsResponse claimed;
        grpc::ClientContext context;
        const absl::Time begin = absl::Now();
        if (!stub.ClaimJobs(&context, claim, &claimed).ok()) continue;
        if (claimed.jobs().empty()) continue;
        claims.Add(absl::Now() - begin, true);
        const int done = absl::GetFlag(FLAGS_batch_complete)
                             ? CompleteAll(stub, claimed.jobs())
                             : CompleteEach(stub, claimed.jobs());
        completed += done;
        recorder.Add(absl::Now() - begin, done == claimed.jobs_size(), done);
      }
    });
  }
  for (auto& t : workers) t.join();
  recorder.Print(
      absl::StrFormat("scenario=work workers=%d batch=%d claim_p50_ms=%.3f "
                      "claim_p99_ms=%.3f",
                      absl::GetFlag(FLAGS_workers), absl::GetFlag(FLAGS_batch),
                      claims.Percentile(0.50), claims.Percentile(0.99)),
      absl::Now() - start);
}

// Enqueues --jobs, then --workers each open one StreamJobs stream holding up
// to --batch jobs and answer each pushed job with its own message of one
// complete item, until all are done. Latency is per job, from its push to
// its ack.
void Stream(JobQueue::Stub& stub) {
  const int jobs = absl::GetFlag(FLAGS_jobs);
  if (absl::GetFlag(FLAGS_enqueue_first)) EnqueueForWork(stub, jobs);
  const int workers = absl::GetFlag(FLAGS_workers);
  std::atomic<int> completed{0};
  Recorder recorder;
  std::vector<grpc::ClientContext> contexts(workers);
  const absl::Time start = absl::Now();
  for (grpc::ClientContext& context : contexts) {
    context.set_deadline(absl::ToChronoTime(start + absl::Minutes(5)));
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto stream = stub.StreamJobs(&contexts[w]);
      jobqueue::v1::StreamJobsRequest open;
      open.mutable_open()->set_worker_id(absl::StrCat("bench-", w));
      open.mutable_open()->set_max_outstanding(absl::GetFlag(FLAGS_batch));
      open.mutable_open()->set_ignore_conversation_order(
          absl::GetFlag(FLAGS_ignore_order));
      for (const std::string& q : absl::GetFlag(FLAGS_queues)) {
        open.mutable_open()->add_queues(q);
      }
      stream->Write(open);
      absl::flat_hash_map<std::string, absl::Time> pushed;
      jobqueue::v1::StreamJobsResponse response;
      while (stream->Read(&response)) {
        const absl::Time now = absl::Now();
        for (const auto& job : response.jobs()) {
          pushed[job.id()] = now;
          jobqueue::v1::StreamJobsRequest ack;
          auto* item = ack.add_items()->mutable_complete();
          item->set_job_id(job.id());
          item->set_lease_token(job.lease_token());
          stream->Write(ack);
        }
        for (const auto& ack : response.acks()) {
          recorder.Add(now - pushed[ack.job_id()], ack.code() == 0, 1);
          pushed.erase(ack.job_id());
          if (ack.code() == 0 && ++completed == jobs) {
            for (grpc::ClientContext& c : contexts) c.TryCancel();
          }
        }
      }
      stream->Finish().IgnoreError();
    });
  }
  for (auto& t : threads) t.join();
  recorder.Print(absl::StrFormat("scenario=stream workers=%d batch=%d", workers,
                                 absl::GetFlag(FLAGS_batch)),
                 absl::Now() - start);
}

// A rate-limited queue: sets the limit on the first of --queues, fills it
// with more jobs than the limit lets through in --duration, then --workers
// (taking turns on --servers) claim batches of --batch, waiting up to 1 s,
// and complete them. Prints the rate achieved after --warm_up, by the
// workers' clocks, and the fewest and most jobs of any second.
void Rate(const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  const std::string queue = absl::GetFlag(FLAGS_queues).front();
  const double rate = absl::GetFlag(FLAGS_rate);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration warm_up = absl::GetFlag(FLAGS_warm_up);
  auto stub = JobQueue::NewStub(channels.front());
  {
    jobqueue::v1::SetQueueRateLimitRequest limit;
    limit.set_queue(queue);
    limit.set_jobs_per_second(rate);
    limit.set_burst(absl::GetFlag(FLAGS_burst));
    jobqueue::v1::Queue settings;
    grpc::ClientContext context;
    grpc::Status s = stub->SetQueueRateLimit(&context, limit, &settings);
    if (!s.ok()) {
      std::fprintf(stderr, "SetQueueRateLimit: %s\n",
                   s.error_message().c_str());
      std::exit(1);
    }
  }
  const int64_t jobs =
      static_cast<int64_t>(rate * absl::ToDoubleSeconds(duration) * 1.2 + 1000);
  const int64_t first = absl::ToUnixMicros(absl::Now());
  for (int64_t n = 0; n < jobs; n += 1000) {
    jobqueue::v1::EnqueueJobsRequest request;
    for (int64_t i = n; i < std::min(jobs, n + 1000); ++i) {
      *request.add_jobs() = AJob(first + i);
    }
    jobqueue::v1::EnqueueJobsResponse response;
    grpc::ClientContext context;
    if (!stub->EnqueueJobs(&context, request, &response).ok()) std::exit(1);
  }
  absl::Mutex mu;
  std::vector<absl::Time> claimed;  // when each job's claim answered
  int errors = 0;
  const absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  for (int w = 0; w < absl::GetFlag(FLAGS_workers); ++w) {
    workers.emplace_back([&, w] {
      auto worker = JobQueue::NewStub(channels[w % channels.size()]);
      while (absl::Now() < start + duration) {
        jobqueue::v1::ClaimJobsRequest claim;
        claim.set_worker_id(absl::StrCat("rate-", w));
        claim.set_max_jobs(absl::GetFlag(FLAGS_batch));
        claim.add_queues(queue);
        claim.mutable_wait_timeout()->set_seconds(1);
        jobqueue::v1::ClaimJobsResponse response;
        grpc::ClientContext context;
        const bool ok = worker->ClaimJobs(&context, claim, &response).ok();
        const absl::Time at = absl::Now();
        const int done = CompleteAll(*worker, response.jobs());
        absl::MutexLock lock(&mu);
        if (!ok || done != response.jobs_size()) ++errors;
        claimed.insert(claimed.end(), response.jobs_size(), at);
      }
    });
  }
  for (auto& t : workers) t.join();
  const absl::Time from = start + warm_up;
  const int seconds =
      static_cast<int>(absl::ToInt64Seconds(duration - warm_up));
  std::vector<int> per_second(std::max(seconds, 1), 0);
  int in_window = 0;
  for (absl::Time t : claimed) {
    if (t < from || t >= from + absl::Seconds(seconds)) continue;
    ++in_window;
    ++per_second[absl::ToInt64Seconds(t - from)];
  }
  {
    jobqueue::v1::SetQueueRateLimitRequest none;
    none.set_queue(queue);
    jobqueue::v1::Queue settings;
    grpc::ClientContext context;
    stub->SetQueueRateLimit(&context, none, &settings).IgnoreError();
  }
  std::printf(
      "result scenario=rate configured=%.1f workers=%d servers=%zu jobs=%zu "
      "window_seconds=%d achieved_per_sec=%.2f per_second_min=%d "
      "per_second_max=%d errors=%d\n",
      rate, absl::GetFlag(FLAGS_workers), channels.size(), claimed.size(),
      seconds, in_window / static_cast<double>(std::max(seconds, 1)),
      *std::min_element(per_second.begin(), per_second.end()),
      *std::max_element(per_second.begin(), per_second.end()), errors);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_server),
                                     grpc::InsecureChannelCredentials());
  auto stub = JobQueue::NewStub(channel);
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  if (scenario == "enqueue") {
    Enqueue(*stub);
  } else if (scenario == "enqueue_batch") {
    EnqueueBatch(*stub);
  } else if (scenario == "work") {
    Work(*stub);
  } else if (scenario == "stream") {
    Stream(*stub);
  } else if (scenario == "list") {
    List(*stub);
  } else if (scenario == "stats") {
    Stats(*stub);
  } else if (scenario == "health") {
    Health(channel);
  } else if (scenario == "rate") {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    for (const std::string& address : absl::GetFlag(FLAGS_servers)) {
      channels.push_back(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    }
    if (channels.empty()) channels.push_back(channel);
    Rate(channels);
  } else {
    std::fprintf(stderr, "unknown --scenario=%s\n", scenario.c_str());
    return 2;
  }
  return 0;
}
