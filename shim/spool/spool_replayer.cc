#include "shim/spool/spool_replayer.h"

#include <vector>

#include "absl/strings/str_format.h"
#include "shim/delivery/delivery_attempt.h"

namespace jobqueue::shim {
SpoolReplayer::SpoolReplayer(DeliverySpool* spool, JobQueueBackend* backend,
                             Options options)
    : spool_(spool),
      backend_(backend),
      options_(options),
      backoff_(options.initial_backoff, options.max_backoff) {}

SpoolReplayer::~SpoolReplayer() { Stop(); }

void SpoolReplayer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void SpoolReplayer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void SpoolReplayer::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

bool SpoolReplayer::stopping() {
  absl::MutexLock lock(&mu_);
  return stop_;
}

void SpoolReplayer::Run() {
  while (!stopping()) {
    absl::Duration wait = options_.idle_poll;
    if (spool_->HasPending()) {
      const absl::Status status = ReplayPass();
      if (status.ok()) {
        backoff_.Reset();
      } else {
        wait = backoff_.Next();
        absl::FPrintF(stderr,
                      "twilio_shim: spool replay paused (%s); next try in "
                      "%s\n",
                      status.ToString(), absl::FormatDuration(wait));
      }
    }
    absl::MutexLock lock(&mu_);
    auto interrupted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_ || woken_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&interrupted), wait);
    woken_ = false;
  }
}

absl::Status SpoolReplayer::ReplayPass() {
  for (const std::string& segment : spool_->Seal()) {
    if (stopping()) return absl::CancelledError("the replayer is stopping");
    absl::Status status = ReplaySegment(segment);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status SpoolReplayer::ReplaySegment(const std::string& segment) {
  absl::StatusOr<SpoolSegmentContents> contents = spool_->Read(segment);
  if (!contents.ok()) return contents.status();
  if (cursor_segment_ != segment) {
    cursor_segment_ = segment;
    cursor_index_ = 0;
  }
  std::vector<SpooledDelivery>& deliveries = contents->deliveries;
  for (; cursor_index_ < deliveries.size(); ++cursor_index_) {
    if (stopping()) return absl::CancelledError("the replayer is stopping");
    SpooledDelivery& delivery = deliveries[cursor_index_];
    const absl::Status status = AttemptDelivery(
        *backend_, &delivery, {options_.rpc_timeout, /*wait_for_ready=*/true});
    ShimMetrics* const metrics = options_.metrics;
    if (metrics != nullptr) {
      (status.ok() ? metrics->replays_succeeded : metrics->replays_failed)
          ->Increment();
      if (status.ok() && delivery.has_record_dead_letter()) {
        metrics->dead_letters->Increment();
      }
    }
    if (IsPermanentRejection(status)) {
      absl::FPrintF(stderr,
                    "twilio_shim: the service rejected %s even as a dead "
                    "letter (%s); kept in %s/rejected\n",
                    DescribeDelivery(delivery), status.ToString(),
                    spool_->dir());
      if (absl::Status kept = spool_->Reject(delivery); !kept.ok()) {
        return kept;
      }
      if (metrics != nullptr) metrics->spool_depth->Add(-1);
    } else if (!status.ok()) {
      return status;
    } else if (metrics != nullptr) {
      metrics->spool_depth->Add(-1);
    }
    if (status.ok() && delivery.has_record_dead_letter()) {
      absl::FPrintF(stderr, "twilio_shim: replayed %s: %s\n",
                    DescribeDelivery(delivery),
                    delivery.record_dead_letter().reason());
    }
  }
  absl::FPrintF(stderr, "twilio_shim: replayed %d spooled deliveries from %s\n",
                deliveries.size(), segment);
  if (contents->torn_tail.has_value()) {
    absl::FPrintF(stderr,
                  "twilio_shim: ignored the torn tail of %s at offset %d: an "
                  "append cut short, never acknowledged\n",
                  segment, *contents->torn_tail);
  }
  // Every delivery is replayed; what cannot be read is kept, alone, before
  // the segment goes.
  for (const UnreadableRecord& record : contents->unreadable) {
    if (absl::Status kept = spool_->Quarantine(segment, record); !kept.ok()) {
      return kept;
    }
    absl::FPrintF(stderr,
                  "twilio_shim: unreadable spool record at offset %d of %s "
                  "(%d bytes: %s) copied to %s/corrupt\n",
                  record.offset, segment, record.bytes.size(), record.reason,
                  spool_->dir());
    if (ShimMetrics* const metrics = options_.metrics; metrics != nullptr) {
      metrics->spool_records_quarantined->Increment();
      metrics->spool_depth->Add(-1);
    }
  }
  return spool_->Remove(segment);
}

}  // namespace jobqueue::shim
