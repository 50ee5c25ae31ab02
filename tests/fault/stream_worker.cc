#include "tests/fault/stream_worker.h"

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/fault/workload.h"

namespace jobqueue::fault {
namespace {

using Stream =
    grpc::ClientReaderWriter<v1::StreamJobsRequest, v1::StreamJobsResponse>;

// How long a worker waits for the rest of a stream it ended.
constexpr absl::Duration kDrain = absl::Seconds(10);

// One message from the server, with when the worker read it.
struct Received {
  v1::StreamJobsResponse response;
  absl::Time at;
};

// The reader thread hands the worker what it reads.
class Mailbox {
 public:
  void Put(Received r) {
    absl::MutexLock lock(&mu_);
    messages_.push_back(std::move(r));
  }
  void End() {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }
  // The next message, or nothing at `deadline` or once the stream ended
  // and every message was taken.
  std::optional<Received> Next(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !messages_.empty() || ended_;
    };
    mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
    if (messages_.empty()) return std::nullopt;
    Received r = std::move(messages_.front());
    messages_.pop_front();
    return r;
  }
  bool ended() {
    absl::MutexLock lock(&mu_);
    return ended_ && messages_.empty();
  }

 private:
  absl::Mutex mu_;
  std::deque<Received> messages_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

// One stream, from its open to its end.
class Session {
 public:
  Session(v1::JobQueue::Stub& stub, const StreamWorkerOptions& options,
          std::mt19937& random, History& history,
          std::vector<std::pair<std::string, std::string>>& old_tokens)
      : stub_(stub),
        options_(options),
        random_(random),
        history_(history),
        old_tokens_(old_tokens) {}

  void Run(bool cancel, absl::Time stop, const std::atomic<bool>& done) {
    opened_ = absl::Now();
    stream_ = stub_.StreamJobs(&context_);
    v1::StreamJobsRequest open;
    open.mutable_open()->set_worker_id(options_.name);
    open.mutable_open()->add_queues("default");
    open.mutable_open()->add_queues("media");
    open.mutable_open()->set_max_outstanding(options_.max_outstanding);
    SetDuration(options_.lease, open.mutable_open()->mutable_lease_duration());
    stream_->Write(open);
    std::thread reader([this] {
      Received r;
      while (stream_->Read(&r.response)) {
        r.at = absl::Now();
        mailbox_.Put(std::move(r));
        r = Received();
      }
      mailbox_.End();
    });
    // Work until enough jobs came, the load ends, or the stream does.
    while (pushed_ < options_.jobs_per_stream && absl::Now() < stop && !done &&
           !mailbox_.ended()) {
      std::optional<Received> r =
          mailbox_.Next(absl::Now() + absl::Milliseconds(100));
      if (!r) continue;
      std::vector<v1::Job> jobs = Take(*r);
      for (const v1::Job& job : jobs) {
        // The last jobs are left unanswered now and then, as by a worker
        // that stops mid-job: the stream's end hands them back.
        if (pushed_ >= options_.jobs_per_stream && random_() % 2 == 0) break;
        Work(job);
      }
    }
    // End it, then read the rest (pushes and acks) until the server's end.
    const bool ended_first = mailbox_.ended();
    const absl::Time ended = absl::Now();
    if (cancel) {
      context_.TryCancel();
    } else {
      stream_->WritesDone();
    }
    const absl::Time give_up = absl::Now() + kDrain;
    while (!mailbox_.ended() && absl::Now() < give_up) {
      if (std::optional<Received> r = mailbox_.Next(give_up)) Take(*r);
    }
    if (!mailbox_.ended()) context_.TryCancel();
    reader.join();
    const grpc::Status status = stream_->Finish();
    // The worker ended it (and saw all of it, when it half-closed).
    const bool by_worker = !ended_first && (cancel || status.ok());
    Close(ended, by_worker, by_worker && !cancel);
  }

 private:
  // Records a message: its acks answer the oldest items sent, its jobs are
  // a claim. Returns the jobs.
  std::vector<v1::Job> Take(const Received& r) {
    for (const v1::StreamJobsAck& ack : r.response.acks()) {
      if (sent_.empty()) break;  // an ack for nothing: the checker sees none
      Call call = std::move(sent_.front());
      sent_.pop_front();
      call.end = r.at;
      call.ok = ack.code() == 0;
      call.ambiguous = Ambiguous(grpc::Status(
          static_cast<grpc::StatusCode>(ack.code()), ack.message()));
      if (call.ok && call.kind == Call::kExtend) {
        call.expires = FromTimestamp(ack.lease_expires_at());
      }
      // The server frees the slot as it does (StreamJobs' Settle): on a
      // completion or failure, or an item refused for good.
      auto held = held_.find(call.job_id);
      const bool over = (call.ok && call.kind != Call::kExtend) ||
                        ack.code() == 9 ||
                        ack.code() == 5;  // FAILED_PRECONDITION, NOT_FOUND
      if (held != held_.end() && held->second == call.token && over) {
        held_.erase(held);
        freed_.push_back(call.start);
      }
      history_.Add(call);
    }
    std::vector<v1::Job> jobs(r.response.jobs().begin(),
                              r.response.jobs().end());
    if (jobs.empty()) return jobs;
    Call claim{.kind = Call::kClaim,
               .start = std::min(EarliestClaim(/*unseen=*/false), r.at),
               .end = r.at,
               .worker = options_.name,
               .ok = true};
    for (const v1::Job& job : jobs) {
      claim.leases.push_back(LeaseOf(job));
      held_[job.id()] = job.lease_token();
    }
    pushed_ += static_cast<int>(jobs.size());
    history_.Add(claim);
    return jobs;
  }

  // The earliest the server may have begun the claim of the next push: it
  // holds fewer than max_outstanding jobs then, so it had freed enough
  // slots, each on an item sent before. A push the worker read came after
  // the acks of those items; one it never read may have needed items whose
  // acks were lost too.
  absl::Time EarliestClaim(bool unseen) const {
    const int needed = pushed_ - options_.max_outstanding + 1;
    if (needed <= 0) return opened_;
    if (static_cast<size_t>(needed) <= freed_.size()) {
      return std::max(opened_, freed_[needed - 1]);
    }
    if (!unseen)
      return opened_;  // more than max_outstanding: the checker
                       // is not the place to flag it
    const size_t more = needed - freed_.size();
    if (more <= sent_.size()) return sent_[more - 1].start;
    return absl::InfiniteFuture();  // the server could not push again
  }

  void Send(Call::Kind kind, const std::string& job_id,
            const std::string& token, bool retryable) {
    v1::StreamJobsRequest request;
    v1::StreamJobsItem* item = request.add_items();
    if (kind == Call::kComplete) {
      item->mutable_complete()->set_job_id(job_id);
      item->mutable_complete()->set_lease_token(token);
    } else if (kind == Call::kFail) {
      item->mutable_fail()->set_job_id(job_id);
      item->mutable_fail()->set_lease_token(token);
      item->mutable_fail()->set_error("fault suite");
      item->mutable_fail()->set_retryable(retryable);
    } else {
      item->mutable_extend()->set_job_id(job_id);
      item->mutable_extend()->set_lease_token(token);
      SetDuration(options_.lease,
                  item->mutable_extend()->mutable_lease_duration());
    }
    Call call{.kind = kind, .start = absl::Now(), .worker = options_.name};
    call.job_id = job_id;
    call.token = token;
    call.retryable = retryable;
    sent_.push_back(std::move(call));
    stream_->Write(request);  // a broken stream's items stay unanswered
  }

  // As the unary worker: a heartbeat now and then, then a fate.
  void Work(const v1::Job& job) {
    const int fate = random_() % 100;
    if (random_() % 4 == 0) {
      absl::SleepFor(options_.lease / 2);
      Send(Call::kExtend, job.id(), job.lease_token(), false);
    } else {
      absl::SleepFor(absl::Milliseconds(random_() % 20));
    }
    old_tokens_.emplace_back(job.id(), job.lease_token());
    if (old_tokens_.size() > 64) old_tokens_.erase(old_tokens_.begin());
    if (fate < options_.pause_percent) {
      // Paused past the lease: it lapses and is rescued; the late
      // completion is refused, or lands if nobody took the job yet.
      absl::SleepFor(options_.lease + absl::Milliseconds(random_() % 500));
      Send(Call::kComplete, job.id(), job.lease_token(), false);
      return;
    }
    if (fate < options_.pause_percent + options_.fail_percent) {
      Send(Call::kFail, job.id(), job.lease_token(), random_() % 2 == 0);
      return;
    }
    const int stale_below =
        options_.pause_percent + options_.fail_percent + options_.stale_percent;
    if (fate < stale_below && old_tokens_.size() > 1) {
      const auto& [id, token] = old_tokens_[random_() % old_tokens_.size()];
      if (token != job.lease_token()) {
        Send(random_() % 2 ? Call::kComplete : Call::kFail, id, token, true);
      }
    }
    Send(Call::kComplete, job.id(), job.lease_token(), false);
  }

  // After the stream's end: items never answered are ambiguous, leases
  // still held are released from when the worker ended the stream (from
  // its open when it ended otherwise), and unless the worker read all of
  // it, the stream may have pushed jobs nobody read.
  void Close(absl::Time ended, bool by_worker, bool read_all) {
    const absl::Time now = absl::Now();
    const absl::Time unseen = EarliestClaim(/*unseen=*/true);
    for (Call& call : sent_) {
      call.end = now;
      call.ambiguous = true;
      history_.Add(call);
    }
    sent_.clear();
    for (const auto& [id, token] : held_) {
      Call release{.kind = Call::kRelease,
                   .start = by_worker ? ended : opened_,
                   .end = now,
                   .worker = options_.name,
                   .ok = read_all};
      release.job_id = id;
      release.token = token;
      history_.Add(release);
    }
    if (!read_all && unseen < now) {
      history_.Add({.kind = Call::kClaim,
                    .start = unseen,
                    .end = now,
                    .worker = options_.name,
                    .ambiguous = true});
    }
  }

  v1::JobQueue::Stub& stub_;
  const StreamWorkerOptions& options_;
  std::mt19937& random_;
  History& history_;
  std::vector<std::pair<std::string, std::string>>& old_tokens_;
  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  Mailbox mailbox_;
  absl::Time opened_;
  int pushed_ = 0;
  std::map<std::string, std::string> held_;  // job id -> lease token
  std::deque<Call> sent_;                    // in the order sent
  std::vector<absl::Time> freed_;  // sends of the items that freed a slot
};

}  // namespace

int RunStreamWorker(const std::vector<v1::JobQueue::Stub*>& stubs,
                    const StreamWorkerOptions& options, absl::Time stop,
                    const std::atomic<bool>& done, History& history) {
  std::mt19937 random(options.seed);
  std::vector<std::pair<std::string, std::string>> old_tokens;
  int streams = 0;
  for (; streams < options.max_streams && absl::Now() < stop && !done;
       ++streams) {
    Session session(*stubs[streams % stubs.size()], options, random, history,
                    old_tokens);
    session.Run(
        /*cancel=*/streams % options.cancel_every == options.cancel_every - 1,
        stop, done);
  }
  return streams;
}

}  // namespace jobqueue::fault
