#include "service/twilio/delivery_spool.h"

#include <dirent.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "service/twilio/test_dir.h"

namespace jobqueue::twilio {
namespace {

using ::google::protobuf::util::MessageDifferencer;
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
  EXPECT_TRUE(contents->damage.ok()) << contents->damage;
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

TEST(DeliverySpoolTest, DamagedRecordsAreReportedAndMovedAside) {
  const std::string dir = SpoolDir();
  {
    std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(spool->Append(Delivery("SM1")).ok());
    ASSERT_TRUE(spool->Append(Delivery("SM2")).ok());
  }
  const std::string segment = dir + "/segment-00000000000000000001.spool";
  std::ofstream(segment, std::ios::binary | std::ios::app) << "torn";

  std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
  ASSERT_NE(spool, nullptr);
  absl::StatusOr<SpoolSegmentContents> contents = spool->Read(segment);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_THAT(contents->deliveries, SizeIs(2));
  EXPECT_EQ(contents->damage.code(), absl::StatusCode::kDataLoss);

  ASSERT_TRUE(spool->MoveAside(segment).ok());
  EXPECT_FALSE(Exists(segment));
  EXPECT_TRUE(Exists(dir + "/corrupt/segment-00000000000000000001.spool"));
  EXPECT_FALSE(spool->HasPending());
}

TEST(DeliverySpoolTest, ARecordThatIsNotADeliveryIsDamage) {
  const std::string dir = SpoolDir();
  ASSERT_NE(OpenSpool(dir), nullptr);
  const std::string segment = dir + "/segment-00000000000000000007.spool";
  {
    absl::StatusOr<std::unique_ptr<SpoolFileWriter>> writer =
        SpoolFileWriter::Create(segment);
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Append("\xff\xff not a protobuf").ok());
  }
  std::unique_ptr<DeliverySpool> spool = OpenSpool(dir);
  ASSERT_NE(spool, nullptr);
  absl::StatusOr<SpoolSegmentContents> contents = spool->Read(segment);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_TRUE(contents->deliveries.empty());
  EXPECT_THAT(contents->damage.message(), HasSubstr("record 0"));
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
}  // namespace jobqueue::twilio
