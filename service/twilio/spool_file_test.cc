#include "service/twilio/spool_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/twilio/test_dir.h"

namespace jobqueue::twilio {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

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
  EXPECT_TRUE(contents->damage.ok()) << contents->damage;
  EXPECT_THAT(contents->records,
              ElementsAre("first", "", binary, std::string(100000, 'x')));
}

TEST(SpoolFileTest, SizeCountsFramedBytes) {
  const std::string path = TestPath("segment");
  absl::StatusOr<std::unique_ptr<SpoolFileWriter>> writer =
      SpoolFileWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Append("abc").ok());
  EXPECT_EQ((*writer)->size(), 11u);
  EXPECT_EQ(ReadBytes(path).size(), 11u);
}

TEST(SpoolFileTest, RefusesToOverwriteAFile) {
  const std::string path = TestPath("segment");
  WriteRecords(path, {"kept"});
  EXPECT_FALSE(SpoolFileWriter::Create(path).ok());
  EXPECT_THAT(ReadSpoolFile(path)->records, ElementsAre("kept"));
}

TEST(SpoolFileTest, ATornTailIsDamageAfterTheIntactRecords) {
  const std::string path = TestPath("segment");
  WriteRecords(path, {"one", "two", "three"});
  const std::string bytes = ReadBytes(path);
  WriteBytes(path, bytes.substr(0, bytes.size() - 2));
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->records, ElementsAre("one", "two"));
  EXPECT_EQ(contents->damage.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(contents->damage.message(), HasSubstr("offset 22"));
}

TEST(SpoolFileTest, AFlippedByteFailsTheChecksum) {
  const std::string path = TestPath("segment");
  WriteRecords(path, {"one", "two", "three"});
  std::string bytes = ReadBytes(path);
  bytes[11 + 8] ^= 0x20;  // The first payload byte of "two".
  WriteBytes(path, bytes);
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->records, ElementsAre("one"));
  EXPECT_THAT(contents->damage.message(), HasSubstr("checksum"));
}

TEST(SpoolFileTest, GarbageIsDamageNotACrash) {
  const std::string path = TestPath("segment");
  WriteBytes(path, std::string("\xff\xff\xff\x7f garbage garbage", 20));
  absl::StatusOr<SpoolFileContents> contents = ReadSpoolFile(path);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(contents->records.empty());
  EXPECT_EQ(contents->damage.code(), absl::StatusCode::kDataLoss);
}

TEST(SpoolFileTest, AMissingFileIsAnError) {
  EXPECT_FALSE(ReadSpoolFile(TestPath("missing")).ok());
}

}  // namespace
}  // namespace jobqueue::twilio
