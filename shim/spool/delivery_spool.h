// The shim's durable queue of deliveries the JobQueue service has not taken
// yet: a directory of append-only segment files, segment-<n>.spool.
//
// New deliveries go to the active segment. The replayer seals it, replays the
// sealed segments oldest first, and removes each once the service has taken
// every delivery in it. Segments left by an earlier run are sealed on Open, so
// a restarted shim resumes them.
//
//   absl::StatusOr<std::unique_ptr<DeliverySpool>> spool =
//       DeliverySpool::Open(".run/spool");
//   absl::Status durable = (*spool)->Append(delivery);
//
// Thread-safe.
#ifndef JOBQUEUE_SHIM_SPOOL_DELIVERY_SPOOL_H_
#define JOBQUEUE_SHIM_SPOOL_DELIVERY_SPOOL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "shim/spool/spool_file.h"
#include "shim/spool/spooled_delivery.pb.h"

namespace jobqueue::shim {

// A record of a segment that is no delivery: a damaged frame, bytes skipped
// to find the next intact one, or a record that does not parse.
struct UnreadableRecord {
  // Where it starts in the segment file.
  uint64_t offset = 0;
  // Its raw bytes, as they are in the file.
  std::string bytes;
  // What is wrong with it.
  std::string reason;
};

struct SpoolSegmentContents {
  // Every delivery that reads back, in the order they were appended.
  std::vector<SpooledDelivery> deliveries;
  // Every record that does not, in file order: for Quarantine.
  std::vector<UnreadableRecord> unreadable;
  // Where an append cut short by a crash starts; never acknowledged, so
  // nothing is lost with it.
  std::optional<uint64_t> torn_tail;
};

class DeliverySpool {
 public:
  // Opens the spool in `dir`, creating the directory (and its parents) when
  // missing. Segments already there are sealed, waiting to be replayed.
  // FAILED_PRECONDITION while another process has `dir` open.
  static absl::StatusOr<std::unique_ptr<DeliverySpool>> Open(std::string dir);

  DeliverySpool(const DeliverySpool&) = delete;
  DeliverySpool& operator=(const DeliverySpool&) = delete;
  ~DeliverySpool();

  // Appends `delivery` to the active segment; OK only once it is on stable
  // storage.
  absl::Status Append(const SpooledDelivery& delivery);

  // True while any segment holds deliveries not yet removed.
  bool HasPending() const;

  // Seals the active segment when it holds anything, and returns the paths of
  // all sealed segments, oldest first.
  std::vector<std::string> Seal();

  // Reads a sealed segment: its deliveries, and the records that are not
  // (see SpoolSegmentContents). An error only when the file cannot be read.
  absl::StatusOr<SpoolSegmentContents> Read(const std::string& segment) const;

  // Deletes a sealed segment once the service has taken every delivery in it
  // and its unreadable records are quarantined.
  absl::Status Remove(const std::string& segment);

  // Copies the raw bytes of an unreadable record of `segment` to
  // <dir>/corrupt/<segment file name>.<offset>.record, durably, for a person
  // to inspect. Doing it again rewrites the same file.
  absl::Status Quarantine(const std::string& segment,
                          const UnreadableRecord& record);

  // Keeps a delivery the service rejected for good in <dir>/rejected/, so
  // that it is not lost although it cannot be replayed.
  absl::Status Reject(const SpooledDelivery& delivery);

  const std::string& dir() const { return dir_; }

 private:
  DeliverySpool(std::string dir, int lock_fd, uint64_t next_sequence,
                std::deque<std::string> sealed);

  absl::Status Forget(const std::string& segment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  // Holds an exclusive flock on <dir>/LOCK for the spool's lifetime.
  const int lock_fd_;
  mutable absl::Mutex mu_;
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<SpoolFileWriter> active_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> sealed_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<SpoolFileWriter> rejected_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_SPOOL_DELIVERY_SPOOL_H_
