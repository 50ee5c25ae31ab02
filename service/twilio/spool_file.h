// One append-only spool file: a sequence of records, each framed as
//
//   fixed32 length | fixed32 CRC-32 of the payload | payload   (little endian)
//
// so that a torn or damaged record is detected, never misread.
//
//   auto writer = SpoolFileWriter::Create(dir + "/segment-1.spool");
//   absl::Status durable = (*writer)->Append(bytes);  // fdatasync'd when OK
//   absl::StatusOr<SpoolFileContents> read = ReadSpoolFile(path);
#ifndef SERVICE_TWILIO_SPOOL_FILE_H_
#define SERVICE_TWILIO_SPOOL_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jobqueue::twilio {

// The largest record a spool file holds; a frame claiming more is damage.
inline constexpr uint32_t kMaxSpoolRecordBytes = 16 << 20;

// Fsyncs directory `dir`, making file creations, renames and removals in it
// durable.
absl::Status SyncDirectory(const std::string& dir);

class SpoolFileWriter {
 public:
  // Creates the file `path`, which must not exist, and makes its directory
  // entry durable.
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
  // Bytes written so far.
  uint64_t size() const { return size_; }

 private:
  SpoolFileWriter(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  const int fd_;
  uint64_t size_ = 0;
};

struct SpoolFileContents {
  // Every intact record before the first damaged one, in order.
  std::vector<std::string> records;
  // OK, or DATA_LOSS naming the offset of the first frame that is torn,
  // oversized or fails its checksum; nothing after it is read.
  absl::Status damage;
};

// Reads every record of the spool file at `path`. An error only when the file
// cannot be read at all.
absl::StatusOr<SpoolFileContents> ReadSpoolFile(const std::string& path);

}  // namespace jobqueue::twilio

#endif  // SERVICE_TWILIO_SPOOL_FILE_H_
