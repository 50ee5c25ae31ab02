#include "shim/spool/delivery_spool.h"

#include <dirent.h>
#include <sys/stat.h>
#include <zlib.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "shim/test_dir.h"

namespace jobqueue::shim {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// A spool directory of its own for each test.
std::string SpoolDir() { return TestDir("/spool"); }

SpooledDelivery Delivery(absl::string_view message_sid) {
  SpooledDelivery delivery;
  delivery.set_source("twilio.messages");
  v1::EnqueueJobRequest* job = delivery.mutable_enqueue_job();
  job->set_user_phone("+14158675309");
  job->set_idempotency_key(std::string(message_sid));
  (*job->mutable_payload()->mutable_fields())["MessageSid"].set_string_value(
      std::string(message_sid));
  return delivery;
}

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

std::unique_ptr<DeliverySpool> OpenSpool(const std::string& dir) {
  absl::StatusOr<std::unique_ptr<DeliverySpool>> spool =
      DeliverySpool::Open(dir);
  EXPECT_TRUE(spool.ok()) << spool.status();
  return spool.ok() ? *std::move(spool) : nullptr;
}

TEST(DeliverySpoolTest, AppendedDeliveriesComeBackInOrder) {
  std::unique_ptr<DeliverySpool> spool = OpenSpool(SpoolDir());
  ASSERT_NE(spool, nullptr);
  EXPECT_FALSE(spool->HasPending());
  ASSERT_TRUE(spool->Append(Delivery("SM1")).ok());
  ASSERT_TRUE(spool->Append(Delivery("SM2")).ok());
  EXPECT_TRUE(spool->HasPending());

  const std::vector<std::string> segments = spool->Seal();
  ASSERT_THAT(segments, SizeIs(1));
  absl::StatusOr<SpoolSegmentContents> contents = spool->Read(segments[0]);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(contents->unreadable.empty());
  ASSERT_THAT(contents->deliveries, SizeIs(2));
  EXPECT_TRUE(
      MessageDifferencer::Equals(contents->deliveries[0], Delivery("SM1")));
  EXPECT_TRUE(
      MessageDifferencer::Equals(contents->deliveries[1], Delivery("SM2")));
}

TEST(DeliverySpoolTest, AppendsAfterASealGoToANewSegment) {
  std::unique_ptr<DeliverySpool> spool = OpenSpool(SpoolDir());
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append(Delivery("SM1")).ok());
  const std::string first = spool->Seal().at(0);
  ASSERT_TRUE(spool->Append(Delivery("SM2")).ok());
  const std::vector<std::string> segments = spool->Seal();
  ASSERT_THAT(segments, SizeIs(2));
  EXPECT_EQ(segments[0], first);
  EXPECT_THAT(spool->Read(segments[1])->deliveries, SizeIs(1));
  EXPECT_THAT(spool->Seal(), SizeIs(2)) << "an empty active segment is kept";
}

TEST(DeliverySpoolTest, ARestartResumesWhatWasSpooled) {
  const std::string dir = SpoolDir();
  {
    std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(spool->Append(Delivery("SM1")).ok());
  }
  std::unique_ptr<DeliverySpool> reopened = OpenSpool(dir);
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(reopened->HasPending());
  ASSERT_TRUE(reopened->Append(Delivery("SM2")).ok());
  const std::vector<std::string> segments = reopened->Seal();
  ASSERT_THAT(segments, SizeIs(2));
  EXPECT_EQ(reopened->Read(segments[0])->deliveries.at(0).source(),
            "twilio.messages");
  EXPECT_EQ(reopened->Read(segments[0])
                ->deliveries.at(0)
                .enqueue_job()
                .idempotency_key(),
            "SM1");
  EXPECT_EQ(reopened->Read(segments[1])
                ->deliveries.at(0)
                .enqueue_job()
                .idempotency_key(),
            "SM2");
}

TEST(DeliverySpoolTest, OneProcessAtATime) {
  const std::string dir = SpoolDir();
  std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(DeliverySpool::Open(dir).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(DeliverySpoolTest, RemoveDeletesAReplayedSegment) {
  std::unique_ptr<DeliverySpool> spool = OpenSpool(SpoolDir());
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append(Delivery("SM1")).ok());
  const std::string segment = spool->Seal().at(0);
  ASSERT_TRUE(spool->Remove(segment).ok());
  EXPECT_FALSE(Exists(segment));
  EXPECT_FALSE(spool->HasPending());
  EXPECT_EQ(spool->Remove(segment).code(), absl::StatusCode::kNotFound);
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::vector<std::string> Keys(const SpoolSegmentContents& contents) {
  std::vector<std::string> keys;
  for (const SpooledDelivery& delivery : contents.deliveries) {
    keys.push_back(delivery.enqueue_job().idempotency_key());
  }
  return keys;
}

TEST(DeliverySpoolTest, ADamagedRecordIsUnreadableAloneAndTheRestIsRead) {
  const std::string dir = SpoolDir();
  {
    std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
    ASSERT_NE(spool, nullptr);
    for (const char* sid : {"SM1", "SM2", "SM3"}) {
      ASSERT_TRUE(spool->Append(Delivery(sid)).ok());
    }
  }
  const std::string segment = dir + "/segment-00000000000000000001.spool";
  std::string bytes = ReadBytes(segment);
  const size_t sm2 = bytes.find("SM2");
  ASSERT_NE(sm2, std::string::npos);
  bytes[sm2] ^= 0x20;
  WriteBytes(segment, bytes + "torn");

  std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
  ASSERT_NE(spool, nullptr);
  absl::StatusOr<SpoolSegmentContents> contents = spool->Read(segment);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(Keys(*contents), ElementsAre("SM1", "SM3"));
  ASSERT_THAT(contents->unreadable, SizeIs(1));
  EXPECT_THAT(contents->unreadable[0].reason, HasSubstr("checksum"));
  EXPECT_NE(contents->unreadable[0].bytes.find("sM2"), std::string::npos);
  EXPECT_EQ(contents->torn_tail, std::optional<uint64_t>(bytes.size()));
}

TEST(DeliverySpoolTest, AnIntactRecordThatIsNotADeliveryIsUnreadableAlone) {
  const std::string dir = SpoolDir();
  ASSERT_NE(OpenSpool(dir), nullptr);
  const std::string segment = dir + "/segment-00000000000000000007.spool";
  std::string first;
  ASSERT_TRUE(Delivery("SM1").SerializeToString(&first));
  std::string last;
  ASSERT_TRUE(Delivery("SM3").SerializeToString(&last));
  {
    absl::StatusOr<std::unique_ptr<SpoolFileWriter>> writer =
        SpoolFileWriter::Create(segment);
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Append(first).ok());
    ASSERT_TRUE((*writer)->Append("\xff\xff not a protobuf").ok());
    ASSERT_TRUE((*writer)->Append("").ok());  // No call.
    ASSERT_TRUE((*writer)->Append(last).ok());
  }
  std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
  ASSERT_NE(spool, nullptr);
  absl::StatusOr<SpoolSegmentContents> contents = spool->Read(segment);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(Keys(*contents), ElementsAre("SM1", "SM3"));
  ASSERT_THAT(contents->unreadable, SizeIs(2));
  EXPECT_EQ(contents->unreadable[0].bytes, "\xff\xff not a protobuf");
  EXPECT_EQ(contents->unreadable[0].offset,
            kSpoolFileHeaderBytes + kSpoolFrameHeaderBytes + first.size());
  EXPECT_THAT(contents->unreadable[0].reason, HasSubstr("does not parse"));
  EXPECT_EQ(contents->unreadable[1].bytes, "");
}

TEST(DeliverySpoolTest, QuarantineKeepsTheRawBytesInCorrupt) {
  const std::string dir = SpoolDir();
  std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
  ASSERT_NE(spool, nullptr);
  const std::string segment = dir + "/segment-00000000000000000003.spool";
  const UnreadableRecord record{1234, std::string("raw\0bytes", 9), "damaged"};
  ASSERT_TRUE(spool->Quarantine(segment, record).ok());
  ASSERT_TRUE(spool->Quarantine(segment, record).ok()) << "again is fine";
  EXPECT_EQ(
      ReadBytes(dir +
                "/corrupt/segment-00000000000000000003.spool.1234.record"),
      record.bytes);
}

TEST(DeliverySpoolTest, AFormatOneSegmentLeftByAnEarlierVersionIsRead) {
  const std::string dir = SpoolDir();
  ASSERT_NE(OpenSpool(dir), nullptr);
  // Framed as spool files were before file headers: length, CRC, payload.
  std::string legacy;
  for (const char* sid : {"SM1", "SM2"}) {
    std::string record;
    ASSERT_TRUE(Delivery(sid).SerializeToString(&record));
    const uint32_t crc = static_cast<uint32_t>(crc32(
        0L, reinterpret_cast<const Bytef*>(record.data()), record.size()));
    for (uint32_t value : {static_cast<uint32_t>(record.size()), crc}) {
      for (int i = 0; i < 4; ++i) {
        legacy.push_back(static_cast<char>(value >> (8 * i)));
      }
    }
    legacy += record;
  }
  WriteBytes(dir + "/segment-00000000000000000004.spool", legacy);
  std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Append(Delivery("SM3")).ok());
  const std::vector<std::string> segments = spool->Seal();
  ASSERT_THAT(segments, SizeIs(2));
  EXPECT_THAT(Keys(*spool->Read(segments[0])), ElementsAre("SM1", "SM2"));
  EXPECT_THAT(Keys(*spool->Read(segments[1])), ElementsAre("SM3"));
}

TEST(DeliverySpoolTest, RejectedDeliveriesAreKept) {
  const std::string dir = SpoolDir();
  std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->Reject(Delivery("SM1")).ok());
  ASSERT_TRUE(spool->Reject(Delivery("SM2")).ok());
  EXPECT_FALSE(spool->HasPending());
  EXPECT_TRUE(spool->Seal().empty());

  std::vector<std::string> files;
  DIR* rejected = opendir((dir + "/rejected").c_str());
  ASSERT_NE(rejected, nullptr);
  while (const dirent* entry = readdir(rejected)) {
    if (entry->d_name[0] != '.') files.push_back(entry->d_name);
  }
  closedir(rejected);
  ASSERT_THAT(files, SizeIs(1));
  absl::StatusOr<SpoolFileContents> kept =
      ReadSpoolFile(dir + "/rejected/" + files[0]);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_THAT(kept->records, SizeIs(2));
  SpooledDelivery first;
  ASSERT_TRUE(first.ParseFromString(kept->records[0]));
  EXPECT_EQ(first.enqueue_job().idempotency_key(), "SM1");
}

}  // namespace
}  // namespace jobqueue::shim
