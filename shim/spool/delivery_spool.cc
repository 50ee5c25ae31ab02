#include "shim/spool/delivery_spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace jobqueue::shim {
namespace {

constexpr absl::string_view kSegmentPrefix = "segment-";
constexpr absl::string_view kSegmentSuffix = ".spool";

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Creates `dir` and its missing parents.
absl::Status MakeDirectories(const std::string& dir) {
  std::string path;
  for (absl::string_view part : absl::StrSplit(dir, '/')) {
    absl::StrAppend(&path, part, "/");
    if (part.empty() || part == ".") continue;
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus("cannot create directory", path);
    }
  }
  return absl::OkStatus();
}

// The sequence numbers of the segment files in `dir`, ascending.
absl::StatusOr<std::vector<uint64_t>> ListSegments(const std::string& dir) {
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return ErrnoStatus("cannot list", dir);
  std::vector<uint64_t> sequences;
  while (const dirent* entry = readdir(handle)) {
    absl::string_view name = entry->d_name;
    uint64_t sequence;
    if (absl::ConsumePrefix(&name, kSegmentPrefix) &&
        absl::ConsumeSuffix(&name, kSegmentSuffix) &&
        absl::SimpleAtoi(name, &sequence)) {
      sequences.push_back(sequence);
    }
  }
  closedir(handle);
  std::sort(sequences.begin(), sequences.end());
  return sequences;
}

std::string SegmentPath(const std::string& dir, uint64_t sequence) {
  return absl::StrFormat("%s/%s%020d%s", dir, kSegmentPrefix, sequence,
                         kSegmentSuffix);
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeliverySpool>> DeliverySpool::Open(
    std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  for (const std::string& path :
       {dir, absl::StrCat(dir, "/corrupt"), absl::StrCat(dir, "/rejected")}) {
    if (absl::Status made = MakeDirectories(path); !made.ok()) return made;
  }
  const std::string lock_path = absl::StrCat(dir, "/LOCK");
  const int lock_fd =
      open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return ErrnoStatus("cannot open", lock_path);
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return absl::FailedPreconditionError(
        absl::StrCat("the spool ", dir, " is in use by another process"));
  }
  absl::StatusOr<std::vector<uint64_t>> sequences = ListSegments(dir);
  if (!sequences.ok()) {
    close(lock_fd);
    return sequences.status();
  }
  std::deque<std::string> sealed;
  for (uint64_t sequence : *sequences) {
    sealed.push_back(SegmentPath(dir, sequence));
  }
  return std::unique_ptr<DeliverySpool>(new DeliverySpool(
      dir, lock_fd, sequences->empty() ? 1 : sequences->back() + 1,
      std::move(sealed)));
}

DeliverySpool::DeliverySpool(std::string dir, int lock_fd,
                             uint64_t next_sequence,
                             std::deque<std::string> sealed)
    : dir_(std::move(dir)),
      lock_fd_(lock_fd),
      next_sequence_(next_sequence),
      sealed_(std::move(sealed)) {}

DeliverySpool::~DeliverySpool() { close(lock_fd_); }

absl::Status DeliverySpool::Append(const SpooledDelivery& delivery) {
  std::string record;
  if (!delivery.SerializeToString(&record)) {
    return absl::InternalError("cannot serialize the delivery for the spool");
  }
  absl::MutexLock lock(&mu_);
  if (active_ == nullptr) {
    absl::StatusOr<std::unique_ptr<SpoolFileWriter>> writer =
        SpoolFileWriter::Create(SegmentPath(dir_, next_sequence_++));
    if (!writer.ok()) return writer.status();
    active_ = *std::move(writer);
  }
  absl::Status appended = active_->Append(record);
  if (!appended.ok()) {
    // What the file holds stays for replay; new deliveries get a fresh file.
    const bool holds_records = active_->records() > 0;
    const std::string path = active_->path();
    active_.reset();
    if (holds_records) {
      sealed_.push_back(path);
    } else {
      std::remove(path.c_str());
    }
  }
  return appended;
}

bool DeliverySpool::HasPending() const {
  absl::MutexLock lock(&mu_);
  return !sealed_.empty() || (active_ != nullptr && active_->records() > 0);
}

std::vector<std::string> DeliverySpool::Seal() {
  absl::MutexLock lock(&mu_);
  if (active_ != nullptr && active_->records() > 0) {
    sealed_.push_back(active_->path());
    active_.reset();
  }
  return std::vector<std::string>(sealed_.begin(), sealed_.end());
}

absl::StatusOr<SpoolSegmentContents> DeliverySpool::Read(
    const std::string& segment) const {
  absl::StatusOr<SpoolFileContents> file = ReadSpoolFile(segment);
  if (!file.ok()) return file.status();
  SpoolSegmentContents contents;
  contents.torn_tail = file->torn_tail;
  // Damaged ranges and records that do not parse, merged in file order.
  size_t damaged = 0;
  const auto unreadable_before = [&](uint64_t offset) {
    while (damaged < file->damaged.size() &&
           file->damaged[damaged].offset < offset) {
      SpoolFileDamage& damage = file->damaged[damaged++];
      contents.unreadable.push_back(
          {damage.offset, std::move(damage.bytes), std::move(damage.reason)});
    }
  };
  for (size_t i = 0; i < file->records.size(); ++i) {
    unreadable_before(file->offsets[i]);
    SpooledDelivery delivery;
    if (!delivery.ParseFromString(file->records[i])) {
      contents.unreadable.push_back(
          {file->offsets[i], std::move(file->records[i]),
           "intact record that does not parse as a SpooledDelivery"});
    } else if (delivery.call_case() == SpooledDelivery::CALL_NOT_SET) {
      contents.unreadable.push_back({file->offsets[i],
                                     std::move(file->records[i]),
                                     "intact record that holds no call"});
    } else {
      contents.deliveries.push_back(std::move(delivery));
    }
  }
  unreadable_before(UINT64_MAX);
  return contents;
}

absl::Status DeliverySpool::Forget(const std::string& segment) {
  const auto it = std::find(sealed_.begin(), sealed_.end(), segment);
  if (it == sealed_.end()) {
    return absl::NotFoundError(
        absl::StrCat(segment, " is not a sealed segment of this spool"));
  }
  sealed_.erase(it);
  return absl::OkStatus();
}

absl::Status DeliverySpool::Remove(const std::string& segment) {
  absl::MutexLock lock(&mu_);
  if (absl::Status forgotten = Forget(segment); !forgotten.ok()) {
    return forgotten;
  }
  if (unlink(segment.c_str()) != 0 && errno != ENOENT) {
    sealed_.push_front(segment);
    return ErrnoStatus("cannot remove", segment);
  }
  return SyncDirectory(dir_);
}

absl::Status DeliverySpool::Quarantine(const std::string& segment,
                                       const UnreadableRecord& record) {
  const std::string corrupt = absl::StrCat(dir_, "/corrupt");
  const std::string target =
      absl::StrCat(corrupt, "/", segment.substr(segment.rfind('/') + 1), ".",
                   record.offset, ".record");
  const int fd =
      open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("cannot create", target);
  absl::string_view bytes = record.bytes;
  bool written = true;
  while (written && !bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    if (written) bytes.remove_prefix(static_cast<size_t>(n));
  }
  written = written && fdatasync(fd) == 0;
  absl::Status status =
      written ? absl::OkStatus() : ErrnoStatus("cannot write", target);
  close(fd);
  return status.ok() ? SyncDirectory(corrupt) : status;
}

absl::Status DeliverySpool::Reject(const SpooledDelivery& delivery) {
  std::string record;
  if (!delivery.SerializeToString(&record)) {
    return absl::InternalError("cannot serialize the rejected delivery");
  }
  absl::MutexLock lock(&mu_);
  if (rejected_ == nullptr) {
    absl::StatusOr<std::unique_ptr<SpoolFileWriter>> writer =
        SpoolFileWriter::Create(
            absl::StrFormat("%s/rejected/%s-%d%s", dir_,
                            absl::FormatTime("%Y%m%dT%H%M%E6SZ", absl::Now(),
                                             absl::UTCTimeZone()),
                            getpid(), kSegmentSuffix));
    if (!writer.ok()) return writer.status();
    rejected_ = *std::move(writer);
  }
  absl::Status appended = rejected_->Append(record);
  if (!appended.ok()) rejected_.reset();
  return appended;
}

}  // namespace jobqueue::shim
