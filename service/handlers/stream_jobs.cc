#include "service/handlers/stream_jobs.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "service/checks/request_checks.h"
#include "service/mapping/job_mapping.h"
#include "service/mapping/status_convert.h"

namespace jobqueue {
namespace {

using Stream =
    grpc::ServerReaderWriter<v1::StreamJobsResponse, v1::StreamJobsRequest>;

// A wait for work ends this long before the store calls' deadline.
constexpr absl::Duration kWaitMargin = absl::Milliseconds(200);

// What the reader thread hands the handler's thread. `news` is set with
// every hand-over and cleared by Take; a claim waiting for work watches it.
class Inbox {
 public:
  explicit Inbox(JobNotifier* notifier) : notifier_(notifier) {}

  struct Taken {
    std::vector<v1::StreamJobsItem> items;
    bool ended = false;
    // Why the requests ended: OK, or a malformed message.
    absl::Status status;
  };

  void Add(google::protobuf::RepeatedPtrField<v1::StreamJobsItem>* items) {
    {
      absl::MutexLock lock(&mu_);
      for (v1::StreamJobsItem& item : *items) {
        items_.push_back(std::move(item));
      }
      news_ = true;
    }
    if (notifier_ != nullptr) notifier_->WakeWaiters();
  }

  void End(absl::Status status) {
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      status_ = std::move(status);
      news_ = true;
    }
    if (notifier_ != nullptr) notifier_->WakeWaiters();
  }

  Taken Take() {
    absl::MutexLock lock(&mu_);
    Taken taken{std::move(items_), ended_, status_};
    items_.clear();
    news_ = false;
    return taken;
  }

  // Returns when there is news, or at `deadline`.
  void Wait(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return news_.load();
    };
    mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  }

  const std::atomic<bool>& news() const { return news_; }

 private:
  JobNotifier* const notifier_;
  absl::Mutex mu_;
  std::vector<v1::StreamJobsItem> items_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> news_{false};
};

// The job_id an item names, as sent.
const std::string& ItemJobId(const v1::StreamJobsItem& item) {
  switch (item.kind_case()) {
    case v1::StreamJobsItem::kComplete:
      return item.complete().job_id();
    case v1::StreamJobsItem::kFail:
      return item.fail().job_id();
    case v1::StreamJobsItem::kExtend:
      return item.extend().job_id();
    case v1::StreamJobsItem::KIND_NOT_SET:
      break;
  }
  return item.complete().job_id();  // the default instance's: ""
}

v1::StreamJobsItemKind ItemKind(const v1::StreamJobsItem& item) {
  switch (item.kind_case()) {
    case v1::StreamJobsItem::kComplete:
      return v1::STREAM_JOBS_ITEM_KIND_COMPLETE;
    case v1::StreamJobsItem::kFail:
      return v1::STREAM_JOBS_ITEM_KIND_FAIL;
    case v1::StreamJobsItem::kExtend:
      return v1::STREAM_JOBS_ITEM_KIND_EXTEND;
    case v1::StreamJobsItem::KIND_NOT_SET:
      break;
  }
  return v1::STREAM_JOBS_ITEM_KIND_UNSPECIFIED;
}

void SetCode(const absl::Status& status, v1::StreamJobsAck* ack) {
  ack->set_code(static_cast<int>(status.code()));
  ack->set_message(std::string(status.message()));
}

class JobStream {
 public:
  JobStream(grpc::ServerContext& context, Stream& stream, JobStore* store,
            ClaimWaiter* waiter, const JobStreamOptions& options,
            StreamOpen open)
      : context_(context),
        stream_(stream),
        store_(store),
        waiter_(waiter),
        options_(options),
        open_(std::move(open)),
        inbox_(waiter->notifier()) {}

  grpc::Status Run() {
    std::thread reader([this] { Read(); });
    Inbox::Taken taken;
    bool stopping = false;
    while (true) {
      taken = inbox_.Take();
      if (!taken.items.empty()) Answer(taken.items);
      if (taken.ended || broken_) break;
      JobNotifier* notifier = waiter_->notifier();
      if (notifier != nullptr && notifier->closed()) {
        // The server is stopping: no more jobs; the worker may still
        // answer for those it holds during the grace.
        if (outstanding_.empty()) {
          stopping = true;
          break;
        }
        inbox_.Wait(absl::InfiniteFuture());
        continue;
      }
      ClaimMore();
    }
    // The reader waits in Read until the call ends.
    if (!taken.ended) context_.TryCancel();
    reader.join();
    Release();
    if (stopping) return grpc::Status(grpc::UNAVAILABLE, "the server stops");
    return ToGrpcStatus(taken.status);
  }

 private:
  // Store calls' deadline: from now, within the stream's own.
  absl::Time StoreDeadline() const {
    absl::Time deadline = absl::Now() + options_.default_deadline;
    const auto own = context_.deadline();
    if (own != std::chrono::system_clock::time_point::max()) {
      deadline = std::min(deadline, absl::FromChrono(own));
    }
    return deadline;
  }

  // The reader thread: queues each message's items until the requests end.
  void Read() {
    v1::StreamJobsRequest request;
    while (stream_.Read(&request)) {
      if (absl::Status s = CheckStreamMessage(request); !s.ok()) {
        inbox_.End(s);
        return;
      }
      inbox_.Add(request.mutable_items());
    }
    inbox_.End(absl::OkStatus());
  }

  // Claims while the worker has room, waiting for work as ClaimJobs does
  // until something arrives from the worker.
  void ClaimMore() {
    const int room =
        open_.max_outstanding - static_cast<int>(outstanding_.size());
    if (room <= 0) {
      inbox_.Wait(absl::InfiniteFuture());  // an answer frees a slot
      return;
    }
    const absl::Time deadline = StoreDeadline();
    if (deadline - kWaitMargin <= absl::Now()) {
      inbox_.Wait(deadline);  // the stream's deadline ends it
      return;
    }
    ClaimRequest claim = open_.claim;
    claim.max_jobs = std::min(room, kMaxClaimBatch);
    absl::StatusOr<std::vector<Job>> jobs = waiter_->ClaimOrWait(
        claim, {.until = deadline - kWaitMargin,
                .deadline = deadline,
                .stop = [this] { return inbox_.news().load(); },
                .wake = &inbox_.news()});
    if (!jobs.ok() || (jobs->empty() && waiter_->notifier() == nullptr)) {
      // The database failed (answers still get its errors) or nothing
      // wakes this claim: look again later.
      inbox_.Wait(absl::Now() + options_.claim_recheck);
      return;
    }
    Push(*jobs);
  }

  // Writes `jobs` in messages within the byte budget; each counts as
  // outstanding before it is written, so a job of a broken write is
  // handed back with the others.
  void Push(const std::vector<Job>& jobs) {
    v1::StreamJobsResponse response;
    size_t bytes = 0;
    size_t pushed = 0;
    for (const Job& job : jobs) {
      v1::Job out;
      ToProto(job, &out);
      if (!out.payload_error().empty()) {
        FailUndeliverable(*store_, job, out.payload_error(), StoreDeadline());
        continue;
      }
      out.set_lease_token(job.lease_token);
      outstanding_[job.id] = job.lease_token;
      // The job's bytes plus its field tag and length.
      const size_t size = out.ByteSizeLong() + 8;
      if (response.jobs_size() > 0 &&
          bytes + size > options_.max_response_bytes) {
        Write(response);
        response.Clear();
        bytes = 0;
      }
      bytes += size;
      *response.add_jobs() = std::move(out);
      ++pushed;
    }
    if (response.jobs_size() > 0) Write(response);
    if (pushed > 0 && options_.on_push) options_.on_push(pushed);
  }

  // Stores the items in order (consecutive completions of distinct jobs in
  // one CompleteJobs call) and writes their acks.
  void Answer(const std::vector<v1::StreamJobsItem>& items) {
    v1::StreamJobsResponse response;
    std::vector<std::pair<int, JobLease>> completions;  // ack index, lease
    absl::flat_hash_set<std::string> completing;
    auto complete = [&] {
      if (completions.empty()) return;
      std::vector<JobLease> leases;
      for (const auto& [index, lease] : completions) leases.push_back(lease);
      const std::vector<absl::Status> done =
          store_->CompleteJobs(leases, StoreDeadline());
      for (size_t i = 0; i < completions.size(); ++i) {
        SetCode(done[i], response.mutable_acks(completions[i].first));
        Settle(completions[i].second, done[i], /*finishes=*/true);
      }
      completions.clear();
      completing.clear();
    };
    for (const v1::StreamJobsItem& item : items) {
      const int index = response.acks_size();
      v1::StreamJobsAck* ack = response.add_acks();
      ack->set_job_id(ItemJobId(item));
      ack->set_kind(ItemKind(item));
      absl::StatusOr<StreamItem> checked = ToStreamItem(item);
      if (!checked.ok()) {
        SetCode(checked.status(), ack);
        continue;
      }
      if (checked->kind == v1::STREAM_JOBS_ITEM_KIND_COMPLETE) {
        if (completing.contains(checked->lease.job_id)) complete();
        completing.insert(checked->lease.job_id);
        completions.emplace_back(index, std::move(checked->lease));
        continue;
      }
      complete();  // items keep their order
      ack = response.mutable_acks(index);
      const JobLease& lease = checked->lease;
      if (checked->kind == v1::STREAM_JOBS_ITEM_KIND_FAIL) {
        absl::StatusOr<Job> job =
            store_->FailJob(lease.job_id, lease.lease_token, checked->error,
                            checked->retryable, StoreDeadline());
        SetCode(job.status(), ack);
        Settle(lease, job.status(), /*finishes=*/true);
        continue;
      }
      absl::StatusOr<Job> job =
          store_->ExtendLease(lease.job_id, lease.lease_token,
                              checked->lease_duration, StoreDeadline());
      SetCode(job.status(), ack);
      if (job.ok()) {
        v1::Job out;
        ToProto(*job, &out);
        *ack->mutable_lease_expires_at() = out.lease_expires_at();
      }
      Settle(lease, job.status(), /*finishes=*/false);
    }
    complete();
    Write(response);
  }

  // Frees the slot of a job this stream pushed under `lease` once the
  // store says the lease is over: done (when the item `finishes` it),
  // stale, cancelled or gone. Other errors leave it held: the worker may
  // send the item again.
  void Settle(const JobLease& lease, const absl::Status& status,
              bool finishes) {
    auto it = outstanding_.find(lease.job_id);
    if (it == outstanding_.end() || it->second != lease.lease_token) return;
    if ((status.ok() && finishes) ||
        status.code() == absl::StatusCode::kFailedPrecondition ||
        status.code() == absl::StatusCode::kNotFound) {
      outstanding_.erase(it);
    }
  }

  void Write(const v1::StreamJobsResponse& response) {
    if (!broken_ && !stream_.Write(response)) broken_ = true;
  }

  // Hands back every job pushed and not answered for, so that another
  // worker gets it now rather than when its lease lapses. On error the
  // leases lapse and are rescued.
  void Release() {
    if (outstanding_.empty()) return;
    std::vector<JobLease> leases;
    for (const auto& [id, token] : outstanding_) leases.push_back({id, token});
    outstanding_.clear();
    store_->ReleaseJobs(leases, absl::Now() + options_.default_deadline)
        .IgnoreError();
  }

  grpc::ServerContext& context_;
  Stream& stream_;
  JobStore* const store_;
  ClaimWaiter* const waiter_;
  const JobStreamOptions& options_;
  const StreamOpen open_;
  Inbox inbox_;
  // Handler thread only: the jobs pushed and not answered for, by id, with
  // their lease tokens.
  absl::flat_hash_map<std::string, std::string> outstanding_;
  bool broken_ = false;
};

}  // namespace

grpc::Status ServeJobStream(grpc::ServerContext& context, Stream& stream,
                            JobStore* store, ClaimWaiter* waiter,
                            const JobStreamOptions& options) {
  v1::StreamJobsRequest first;
  if (!stream.Read(&first)) return grpc::Status::OK;  // left before opening
  absl::StatusOr<StreamOpen> open = ToStreamOpen(first);
  if (!open.ok()) return ToGrpcStatus(open.status());
  JobStream job_stream(context, stream, store, waiter, options,
                       *std::move(open));
  return job_stream.Run();
}

}  // namespace jobqueue
