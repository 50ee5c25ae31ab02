// One append-only spool file: a file header, then a sequence of records, each
// framed so that a damaged record is detected, never misread, and skipped
// alone: the reader finds the next intact record after it.
//
// Format 2 (what SpoolFileWriter writes), integers little endian:
//
//   file header, 24 bytes:
//     "JQSPOOL\0" | fixed32 version (2) | 8-byte sync marker
//     | fixed32 CRC-32 of the 20 bytes before it
//   each record, a 20-byte frame header then the payload:
//     sync marker | fixed32 length | fixed32 CRC-32 of marker and length
//     | fixed32 CRC-32 of the payload | payload
//
// The sync marker is random for each file, so a payload (which holds text
// from anyone who can send an SMS) cannot carry a frame the reader would take
// for one of this file's. After a damaged frame the reader looks for the next
// marker whose frame header checks out.
//
// Format 1 (before format 2; no file header) is still read, as it always was:
//
//   fixed32 length | fixed32 CRC-32 of the payload | payload
//
// Its frames cannot be resynchronised: everything from the first damaged
// frame on is one damaged range.
//
//   auto writer = SpoolFileWriter::Create(dir + "/segment-1.spool");
//   absl::Status durable = (*writer)->Append(bytes);  // fdatasync'd when OK
//   absl::StatusOr<SpoolFileContents> read = ReadSpoolFile(path);
#ifndef JOBQUEUE_SHIM_SPOOL_SPOOL_FILE_H_
#define JOBQUEUE_SHIM_SPOOL_SPOOL_FILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jobqueue::shim {

// The largest record a spool file holds; a frame claiming more is damage.
inline constexpr uint32_t kMaxSpoolRecordBytes = 16 << 20;

// The bytes of format 2's file header, and of each of its frame headers.
inline constexpr size_t kSpoolFileHeaderBytes = 24;
inline constexpr size_t kSpoolFrameHeaderBytes = 20;

// Fsyncs directory `dir`, making file creations, renames and removals in it
// durable.
absl::Status SyncDirectory(const std::string& dir);

class SpoolFileWriter {
 public:
  // Creates the file `path`, which must not exist, writes its file header
  // (format 2, with a fresh sync marker) and makes both durable.
  static absl::StatusOr<std::unique_ptr<SpoolFileWriter>> Create(
      std::string path);

  SpoolFileWriter(const SpoolFileWriter&) = delete;
  SpoolFileWriter& operator=(const SpoolFileWriter&) = delete;
  ~SpoolFileWriter();

  // Appends one record and returns OK only once it is on stable storage. On
  // failure the file is cut back to its previous length where possible;
  // callers should not append to it again.
  absl::Status Append(absl::string_view record);

  const std::string& path() const { return path_; }
  // Bytes written so far, the file header included.
  uint64_t size() const { return size_; }
  // Records appended so far.
  uint64_t records() const { return records_; }

 private:
  SpoolFileWriter(std::string path, int fd, std::string marker)
      : path_(std::move(path)), fd_(fd), marker_(std::move(marker)) {}

  const std::string path_;
  const int fd_;
  const std::string marker_;
  uint64_t size_ = 0;
  uint64_t records_ = 0;
};

// Bytes of a spool file that hold no readable record.
struct SpoolFileDamage {
  // Where they start in the file.
  uint64_t offset = 0;
  // The raw bytes: one damaged frame, or what lies between two intact ones.
  std::string bytes;
  // What is wrong, e.g. "payload checksum mismatch".
  std::string reason;
};

struct SpoolFileContents {
  // 2, or 1 for a file written before file headers.
  int version = 2;
  // Every intact record, in order, and where each one's frame starts.
  std::vector<std::string> records;
  std::vector<uint64_t> offsets;
  // Every damaged range, in order: frames that fail their checksums, and
  // bytes skipped to find the next intact frame.
  std::vector<SpoolFileDamage> damaged;
  // Where an incomplete last frame starts: an append cut short (by a crash)
  // before it was durable, so never acknowledged. Ignored.
  std::optional<uint64_t> torn_tail;
};

// Reads every record of the spool file at `path`. An error only when the file
// cannot be read at all.
absl::StatusOr<SpoolFileContents> ReadSpoolFile(const std::string& path);

// The same for the bytes of a spool file.
SpoolFileContents ParseSpoolFile(absl::string_view data);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_SPOOL_SPOOL_FILE_H_
