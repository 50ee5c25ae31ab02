#include "service/twilio/spool_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace jobqueue::twilio {
namespace {

constexpr size_t kHeaderBytes = 8;

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

void StoreLittleEndian32(uint32_t value, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
}

uint32_t LoadLittleEndian32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  }
  return value;
}

uint32_t Checksum(absl::string_view data) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()),
            static_cast<uInt>(data.size())));
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t written = write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data.remove_prefix(static_cast<size_t>(written));
  }
  return true;
}

}  // namespace

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open directory", dir);
  const bool synced = fsync(fd) == 0;
  absl::Status status =
      synced ? absl::OkStatus() : ErrnoStatus("cannot fsync directory", dir);
  close(fd);
  return status;
}

absl::StatusOr<std::unique_ptr<SpoolFileWriter>> SpoolFileWriter::Create(
    std::string path) {
  const int fd = open(path.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("cannot create spool file", path);
  std::unique_ptr<SpoolFileWriter> writer(
      new SpoolFileWriter(std::move(path), fd));
  const size_t slash = writer->path_.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : writer->path_.substr(0, slash);
  if (absl::Status synced = SyncDirectory(dir); !synced.ok()) return synced;
  return writer;
}

SpoolFileWriter::~SpoolFileWriter() { close(fd_); }

absl::Status SpoolFileWriter::Append(absl::string_view record) {
  if (record.size() > kMaxSpoolRecordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("spool record of ", record.size(), " bytes is too large"));
  }
  std::string frame(kHeaderBytes, '\0');
  StoreLittleEndian32(static_cast<uint32_t>(record.size()), frame.data());
  StoreLittleEndian32(Checksum(record), frame.data() + 4);
  frame.append(record.data(), record.size());
  if (!WriteAll(fd_, frame) || fdatasync(fd_) != 0) {
    absl::Status failure = ErrnoStatus("cannot append to spool file", path_);
    if (ftruncate(fd_, static_cast<off_t>(size_)) == 0) fdatasync(fd_);
    return failure;
  }
  size_ += frame.size();
  return absl::OkStatus();
}

absl::StatusOr<SpoolFileContents> ReadSpoolFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open spool file", path);
  std::string data;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status failure = ErrnoStatus("cannot read spool file", path);
      close(fd);
      return failure;
    }
    if (n == 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  close(fd);

  SpoolFileContents contents;
  size_t offset = 0;
  while (offset < data.size()) {
    const auto damaged = [&](absl::string_view why) {
      return absl::DataLossError(absl::StrCat(
          path, ": ", why, " at offset ", offset, "; ", contents.records.size(),
          " records before it are intact"));
    };
    if (data.size() - offset < kHeaderBytes) {
      contents.damage = damaged("torn record header");
      break;
    }
    const uint32_t length = LoadLittleEndian32(data.data() + offset);
    const uint32_t checksum = LoadLittleEndian32(data.data() + offset + 4);
    if (length > kMaxSpoolRecordBytes) {
      contents.damage = damaged("impossible record length");
      break;
    }
    if (data.size() - offset - kHeaderBytes < length) {
      contents.damage = damaged("torn record");
      break;
    }
    const absl::string_view record(data.data() + offset + kHeaderBytes, length);
    if (Checksum(record) != checksum) {
      contents.damage = damaged("checksum mismatch");
      break;
    }
    contents.records.emplace_back(record);
    offset += kHeaderBytes + length;
  }
  return contents;
}

}  // namespace jobqueue::twilio
