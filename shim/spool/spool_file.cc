#include "shim/spool/spool_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace jobqueue::shim {
namespace {

constexpr absl::string_view kFileMagic("JQSPOOL\0", 8);
constexpr uint32_t kFormatVersion = 2;
constexpr size_t kMarkerBytes = 8;
constexpr size_t kLegacyFrameHeaderBytes = 8;

absl::Status ErrnoStatus(absl::string_view what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

void AppendLittleEndian32(uint32_t value, std::string* out) {
  for (int i = 0; i < 4; ++i)
    out->push_back(static_cast<char>(value >> (8 * i)));
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

// A fresh random sync marker.
absl::StatusOr<std::string> NewMarker() {
  std::string marker(kMarkerBytes, '\0');
  size_t filled = 0;
  while (filled < marker.size()) {
    const ssize_t n =
        getrandom(marker.data() + filled, marker.size() - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::InternalError(absl::StrCat(
          "cannot draw a spool sync marker: ", std::strerror(errno)));
    }
    filled += static_cast<size_t>(n);
  }
  return marker;
}

std::string FileHeader(absl::string_view marker) {
  std::string header(kFileMagic);
  AppendLittleEndian32(kFormatVersion, &header);
  header.append(marker.data(), marker.size());
  AppendLittleEndian32(Checksum(header), &header);
  return header;
}

// The frame header of `record` in a file whose sync marker is `marker`.
std::string FrameHeader(absl::string_view marker, absl::string_view record) {
  std::string header(marker);
  AppendLittleEndian32(static_cast<uint32_t>(record.size()), &header);
  AppendLittleEndian32(Checksum(header), &header);
  AppendLittleEndian32(Checksum(record), &header);
  return header;
}

// Reads the frames of a format 2 file after its file header.
class FrameReader {
 public:
  FrameReader(absl::string_view data, absl::string_view marker,
              SpoolFileContents* contents)
      : data_(data), marker_(marker), contents_(contents) {}

  // The payload length of the frame header at `offset`, or nullopt when
  // there is none: too few bytes, another marker, a header checksum
  // mismatch or an impossible length.
  std::optional<uint32_t> HeaderAt(size_t offset) const {
    if (data_.size() - offset < kSpoolFrameHeaderBytes) return std::nullopt;
    const absl::string_view header = data_.substr(offset, kMarkerBytes + 4);
    if (header.substr(0, kMarkerBytes) != marker_) return std::nullopt;
    if (Checksum(header) !=
        LoadLittleEndian32(data_.data() + offset + kMarkerBytes + 4)) {
      return std::nullopt;
    }
    const uint32_t length =
        LoadLittleEndian32(data_.data() + offset + kMarkerBytes);
    if (length > kMaxSpoolRecordBytes) return std::nullopt;
    return length;
  }

  // The offset of the first intact frame header at or after `from`, or the
  // size of the file when there is none.
  size_t NextHeader(size_t from) const {
    while (from < data_.size()) {
      const size_t found = data_.find(marker_, from);
      if (found == absl::string_view::npos) break;
      if (HeaderAt(found).has_value()) return found;
      from = found + 1;
    }
    return data_.size();
  }

  void Damaged(size_t offset, size_t end, absl::string_view reason) {
    contents_->damaged.push_back(
        {offset, std::string(data_.substr(offset, end - offset)),
         std::string(reason)});
  }

  void ReadFrom(size_t offset) {
    while (offset < data_.size()) {
      const std::optional<uint32_t> length = HeaderAt(offset);
      if (!length.has_value()) {
        const size_t next = NextHeader(offset + 1);
        if (next == data_.size() &&
            data_.size() - offset < kSpoolFrameHeaderBytes) {
          contents_->torn_tail = offset;
        } else {
          Damaged(offset, next, "no intact frame header");
        }
        offset = next;
        continue;
      }
      const size_t end = offset + kSpoolFrameHeaderBytes + *length;
      if (end > data_.size()) {
        // The header is intact but the payload is cut short: the last append
        // was torn, unless an intact frame follows.
        const size_t next = NextHeader(offset + 1);
        if (next == data_.size()) {
          contents_->torn_tail = offset;
        } else {
          Damaged(offset, next, "record cut short");
        }
        offset = next;
        continue;
      }
      const absl::string_view payload =
          data_.substr(offset + kSpoolFrameHeaderBytes, *length);
      if (Checksum(payload) != LoadLittleEndian32(data_.data() + offset +
                                                  kSpoolFrameHeaderBytes - 4)) {
        Damaged(offset, end, "payload checksum mismatch");
      } else {
        contents_->records.emplace_back(payload);
        contents_->offsets.push_back(offset);
      }
      offset = end;
    }
  }

 private:
  const absl::string_view data_;
  const absl::string_view marker_;
  SpoolFileContents* const contents_;
};

// Format 1: records up to the first damaged frame, and everything from it on
// as one damaged range (a torn last frame is a torn tail).
void ParseLegacy(absl::string_view data, SpoolFileContents* contents) {
  contents->version = 1;
  size_t offset = 0;
  while (offset < data.size()) {
    if (data.size() - offset < kLegacyFrameHeaderBytes) {
      contents->torn_tail = offset;
      return;
    }
    const uint32_t length = LoadLittleEndian32(data.data() + offset);
    const uint32_t checksum = LoadLittleEndian32(data.data() + offset + 4);
    absl::string_view reason;
    if (length > kMaxSpoolRecordBytes) {
      reason = "impossible record length";
    } else if (data.size() - offset - kLegacyFrameHeaderBytes < length) {
      contents->torn_tail = offset;
      return;
    } else if (absl::string_view record =
                   data.substr(offset + kLegacyFrameHeaderBytes, length);
               Checksum(record) != checksum) {
      reason = "payload checksum mismatch";
    } else {
      contents->records.emplace_back(record);
      contents->offsets.push_back(offset);
      offset += kLegacyFrameHeaderBytes + length;
      continue;
    }
    contents->damaged.push_back(
        {offset, std::string(data.substr(offset)),
         absl::StrCat(reason,
                      " (format 1 cannot resynchronise; the rest of "
                      "the file is unread)")});
    return;
  }
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
  absl::StatusOr<std::string> marker = NewMarker();
  if (!marker.ok()) return marker.status();
  const int fd = open(path.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("cannot create spool file", path);
  std::unique_ptr<SpoolFileWriter> writer(
      new SpoolFileWriter(std::move(path), fd, *std::move(marker)));
  const std::string header = FileHeader(writer->marker_);
  if (!WriteAll(fd, header) || fdatasync(fd) != 0) {
    absl::Status failure =
        ErrnoStatus("cannot write the header of spool file", writer->path_);
    unlink(writer->path_.c_str());
    return failure;
  }
  writer->size_ = header.size();
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
  std::string frame = FrameHeader(marker_, record);
  frame.append(record.data(), record.size());
  if (!WriteAll(fd_, frame) || fdatasync(fd_) != 0) {
    absl::Status failure = ErrnoStatus("cannot append to spool file", path_);
    if (ftruncate(fd_, static_cast<off_t>(size_)) == 0) fdatasync(fd_);
    return failure;
  }
  size_ += frame.size();
  ++records_;
  return absl::OkStatus();
}

SpoolFileContents ParseSpoolFile(absl::string_view data) {
  SpoolFileContents contents;
  const size_t magic_bytes = std::min(data.size(), kFileMagic.size());
  if (data.empty() ||
      data.substr(0, magic_bytes) != kFileMagic.substr(0, magic_bytes)) {
    // No file header: format 1. (Its first 4 bytes are a length of at most
    // kMaxSpoolRecordBytes, which "JQSP" is not.)
    ParseLegacy(data, &contents);
    return contents;
  }
  if (data.size() < kSpoolFileHeaderBytes) {
    // The file header was being written: no record was ever appended.
    contents.torn_tail = 0;
    return contents;
  }
  absl::string_view marker = data.substr(12, kMarkerBytes);
  const uint32_t version = LoadLittleEndian32(data.data() + 8);
  const bool header_intact =
      Checksum(data.substr(0, kSpoolFileHeaderBytes - 4)) ==
      LoadLittleEndian32(data.data() + kSpoolFileHeaderBytes - 4);
  if (header_intact && version != kFormatVersion) {
    contents.damaged.push_back(
        {0, std::string(data),
         absl::StrCat("unknown spool format version ", version)});
    return contents;
  }
  if (!header_intact) {
    // The marker may be what is damaged: take the first frame's, if that
    // frame's header checks out with it.
    marker = data.substr(kSpoolFileHeaderBytes, kMarkerBytes);
    if (!FrameReader(data, marker, &contents)
             .HeaderAt(kSpoolFileHeaderBytes)
             .has_value()) {
      contents.damaged.push_back(
          {0, std::string(data),
           "damaged file header, and no intact frame after it"});
      return contents;
    }
    // The file header holds no record: nothing of it is kept.
  }
  FrameReader(data, marker, &contents).ReadFrom(kSpoolFileHeaderBytes);
  return contents;
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
  return ParseSpoolFile(data);
}

}  // namespace jobqueue::shim
