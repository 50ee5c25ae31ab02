#include "shim/spool/spool_file.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shim/test_dir.h"

namespace jobqueue::shim {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string TestPath(absl::string_view name) {
  const std::string path = TestDir(absl::StrCat("-", name));
  unlink(path.c_str());
  return path;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void WriteRecords(const std::string& path,
                  const std::vector<std::string>& records) {
  absl::StatusOr<std::unique_ptr<SpoolFileWriter>> writer =
      SpoolFileWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const std::string& record : records) {
    ASSERT_TRUE((*writer)->Append(record).ok());
  }
}

TEST(SpoolFileTest, ReadsBackEveryRecordInOrder) {
  const std::string path = TestPath("segment");
  const std::string binary("\0\xff\x01zz", 5);
  WriteRecords(path, {"first", "", binary, std::string(100000, 'x')});
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->version, 2);
  EXPECT_THAT(contents->damaged, IsEmpty());
  EXPECT_FALSE(contents->torn_tail.has_value());
  EXPECT_THAT(contents->records,
              ElementsAre("first", "", binary, std::string(100000, 'x')));
}

TEST(SpoolFileTest, SizeCountsFramedBytes) {
  const std::string path = TestPath("segment");
  absl::StatusOr<std::unique_ptr<SpoolFileWriter>> writer =
      SpoolFileWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ((*writer)->size(), kSpoolFileHeaderBytes);
  EXPECT_EQ((*writer)->records(), 0u);
  ASSERT_TRUE((*writer)->Append("abc").ok());
  EXPECT_EQ((*writer)->size(), kSpoolFileHeaderBytes + 20 + 3);
  EXPECT_EQ((*writer)->records(), 1u);
  EXPECT_EQ(ReadBytes(path).size(), kSpoolFileHeaderBytes + 20 + 3);
  EXPECT_EQ(ReadBytes(path).substr(0, 8), std::string("JQSPOOL\0", 8));
}

TEST(SpoolFileTest, RefusesToOverwriteAFile) {
  const std::string path = TestPath("segment");
  WriteRecords(path, {"kept"});
  EXPECT_FALSE(SpoolFileWriter::Create(path).ok());
  EXPECT_THAT(ReadSpoolFile(path)->records, ElementsAre("kept"));
}

TEST(SpoolFileTest, AFileWithoutRecordsIsEmpty) {
  const std::string path = TestPath("segment");
  WriteRecords(path, {});
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(contents->records.empty());
  EXPECT_TRUE(contents->damaged.empty());
  EXPECT_FALSE(contents->torn_tail.has_value());
}

// Where each record's frame starts: after the file header, 20 bytes of frame
// header and the payload each.
std::vector<uint64_t> FrameOffsets(const std::vector<std::string>& records) {
  std::vector<uint64_t> offsets;
  uint64_t offset = kSpoolFileHeaderBytes;
  for (const std::string& record : records) {
    offsets.push_back(offset);
    offset += kSpoolFrameHeaderBytes + record.size();
  }
  return offsets;
}

TEST(SpoolFileTest, RecordsComeWithTheirOffsets) {
  const std::string path = TestPath("segment");
  const std::vector<std::string> records = {"one", "", "three"};
  WriteRecords(path, records);
  EXPECT_THAT(ReadSpoolFile(path)->offsets,
              ElementsAreArray(FrameOffsets(records)));
}

TEST(SpoolFileTest, ATornTailIsTheEnd) {
  const std::vector<std::string> records = {"one", "two", "three"};
  const std::string path = TestPath("segment");
  WriteRecords(path, records);
  const std::string bytes = ReadBytes(path);
  const uint64_t last = FrameOffsets(records)[2];
  // Cut inside the last payload, inside its frame header, and right after
  // the marker.
  for (size_t cut : {bytes.size() - 2, last + 13, last + 8, last + 1}) {
    WriteBytes(path, bytes.substr(0, cut));
    absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
    ASSERT_TRUE(contents.ok()) << contents.status();
    EXPECT_THAT(contents->records, ElementsAre("one", "two")) << cut;
    EXPECT_THAT(contents->damaged, IsEmpty()) << cut;
    EXPECT_EQ(contents->torn_tail, std::optional<uint64_t>(last)) << cut;
  }
  // A file header cut short: created, never appended to.
  WriteBytes(path, bytes.substr(0, 10));
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->records, IsEmpty());
  EXPECT_THAT(contents->damaged, IsEmpty());
}

TEST(SpoolFileTest, AFlippedPayloadByteLosesOnlyThatRecord) {
  const std::vector<std::string> records = {"one", "two", "three", "four"};
  const std::string path = TestPath("segment");
  WriteRecords(path, records);
  std::string bytes = ReadBytes(path);
  const uint64_t two = FrameOffsets(records)[1];
  bytes[two + kSpoolFrameHeaderBytes] ^= 0x20;  // The first byte of "two".
  WriteBytes(path, bytes);
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->records, ElementsAre("one", "three", "four"));
  ASSERT_THAT(contents->damaged, SizeIs(1));
  EXPECT_EQ(contents->damaged[0].offset, two);
  EXPECT_EQ(contents->damaged[0].bytes,
            bytes.substr(two, kSpoolFrameHeaderBytes + 3));
  EXPECT_THAT(contents->damaged[0].reason, HasSubstr("checksum"));
  EXPECT_FALSE(contents->torn_tail.has_value());
}

TEST(SpoolFileTest, AGarbageLengthLosesOnlyThatRecord) {
  const std::vector<std::string> records = {"one", std::string(300, 't'),
                                            "three", "four"};
  const std::string path = TestPath("segment");
  WriteRecords(path, records);
  const std::string intact = ReadBytes(path);
  const uint64_t two = FrameOffsets(records)[1];
  // A length past the end of the file, one pointing inside the next frame,
  // and an impossible one.
  for (const std::string& length :
       {std::string("\x00\x10\x00\x00", 4), std::string("\x10\x00\x00\x00", 4),
        std::string("\xff\xff\xff\x7f", 4)}) {
    std::string bytes = intact;
    bytes.replace(two + 8, 4, length);
    WriteBytes(path, bytes);
    absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
    ASSERT_TRUE(contents.ok()) << contents.status();
    EXPECT_THAT(contents->records, ElementsAre("one", "three", "four"));
    ASSERT_THAT(contents->damaged, SizeIs(1));
    EXPECT_EQ(contents->damaged[0].offset, two);
    EXPECT_EQ(contents->damaged[0].bytes.size(), kSpoolFrameHeaderBytes + 300);
    EXPECT_FALSE(contents->torn_tail.has_value());
  }
}

TEST(SpoolFileTest, SeveralDamagedRecordsAndGarbageBetweenFrames) {
  std::vector<std::string> records;
  for (int i = 0; i < 10; ++i) records.push_back(absl::StrCat("record ", i));
  const std::string path = TestPath("segment");
  WriteRecords(path, records);
  std::string bytes = ReadBytes(path);
  const std::vector<uint64_t> offsets = FrameOffsets(records);
  bytes[offsets[0] + kSpoolFrameHeaderBytes + 2] ^= 1;  // Payload of 0.
  bytes[offsets[4] + 3] ^= 1;                           // Marker of 4.
  bytes[offsets[5] + 16] ^= 1;                          // Payload CRC of 5.
  bytes.insert(offsets[8], "garbage between frames");
  bytes[offsets[9] + 22 + 14] ^= 1;  // Header CRC of 9, the last.
  WriteBytes(path, bytes);
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->records,
              ElementsAre("record 1", "record 2", "record 3", "record 6",
                          "record 7", "record 8"));
  std::vector<uint64_t> damaged;
  for (const SpoolFileDamage& damage : contents->damaged) {
    damaged.push_back(damage.offset);
  }
  EXPECT_THAT(damaged, ElementsAre(offsets[0], offsets[4], offsets[5],
                                   offsets[8], offsets[9] + 22));
  EXPECT_EQ(contents->damaged[3].bytes, "garbage between frames");
}

TEST(SpoolFileTest, ADamagedFileHeaderTakesTheMarkerFromTheFirstFrame) {
  const std::string path = TestPath("segment");
  WriteRecords(path, {"one", "two"});
  std::string bytes = ReadBytes(path);
  bytes[14] ^= 1;  // The marker in the file header.
  WriteBytes(path, bytes);
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->records, ElementsAre("one", "two"));
}

TEST(SpoolFileTest, APayloadCannotForgeAFrame) {
  // A record that holds what looks like a frame, as an SMS body could.
  const std::string path = TestPath("segment");
  WriteRecords(path, {"one"});
  const std::string inner = ReadBytes(path).substr(kSpoolFileHeaderBytes);
  const std::string other = TestPath("other");
  WriteRecords(other, {"first", absl::StrCat("text", inner), "last"});
  std::string bytes = ReadBytes(other);
  const uint64_t second = kSpoolFileHeaderBytes + kSpoolFrameHeaderBytes + 5;
  bytes[second + 9] ^= 1;  // Its length: the frame header fails.
  WriteBytes(other, bytes);
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(other);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->records, ElementsAre("first", "last"))
      << "another file's frame inside a payload is not one of this file's";
}

TEST(SpoolFileTest, AFormatOneFileIsStillRead) {
  // How spool files were written before file headers.
  const auto frame = [](absl::string_view record) {
    std::string bytes;
    const uint32_t length = record.size();
    const uint32_t crc = static_cast<uint32_t>(crc32(
        0L, reinterpret_cast<const Bytef*>(record.data()), record.size()));
    for (uint32_t value : {length, crc}) {
      for (int i = 0; i < 4; ++i)
        bytes.push_back(static_cast<char>(value >> (8 * i)));
    }
    return absl::StrCat(bytes, record);
  };
  const std::string path = TestPath("segment");
  const std::string binary("\0\xff\x01zz", 5);
  const std::string legacy =
      absl::StrCat(frame("first"), frame(""), frame(binary));
  WriteBytes(path, legacy);
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->version, 1);
  EXPECT_THAT(contents->records, ElementsAre("first", "", binary));
  EXPECT_THAT(contents->offsets, ElementsAre(0, 13, 21));
  EXPECT_THAT(contents->damaged, IsEmpty());
  EXPECT_FALSE(contents->torn_tail.has_value());

  // A torn tail is the end there too; damage is everything after it.
  WriteBytes(path, absl::StrCat(legacy, frame("torn").substr(0, 9)));
  contents = ReadSpoolFile(path);
  EXPECT_THAT(contents->records, ElementsAre("first", "", binary));
  EXPECT_EQ(contents->torn_tail, std::optional<uint64_t>(legacy.size()));
  std::string damaged = legacy;
  damaged[13 + 4] ^= 1;  // The checksum of "".
  WriteBytes(path, damaged);
  contents = ReadSpoolFile(path);
  EXPECT_THAT(contents->records, ElementsAre("first"));
  ASSERT_THAT(contents->damaged, SizeIs(1));
  EXPECT_EQ(contents->damaged[0].offset, 13u);
  EXPECT_EQ(contents->damaged[0].bytes, damaged.substr(13));
}

TEST(SpoolFileTest, GarbageIsDamageNotACrash) {
  const std::string path = TestPath("segment");
  WriteBytes(path, std::string("\xff\xff\xff\x7f garbage garbage", 20));
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(contents->records.empty());
  ASSERT_THAT(contents->damaged, SizeIs(1));
  EXPECT_EQ(contents->damaged[0].bytes.size(), 20u);
}

TEST(SpoolFileTest, AMissingFileIsAnError) {
  EXPECT_FALSE(ReadSpoolFile(TestPath("missing")).ok());
}

}  // namespace
}  // namespace jobqueue::shim
