#include "shim/spool/spool_replayer.h"

#include <dirent.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/registry.h"
#include "shim/backend/fake_job_queue_backend.h"
#include "shim/shim_metrics.h"
#include "shim/test_dir.h"
#include "tests/support/file_names.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

SpooledDelivery Job(absl::string_view message_sid) {
  SpooledDelivery delivery;
  delivery.set_source("twilio.messages");
  delivery.mutable_enqueue_job()->set_idempotency_key(std::string(message_sid));
  return delivery;
}

SpooledDelivery DeadLetter(absl::string_view message_sid) {
  SpooledDelivery delivery;
  delivery.set_source("twilio.messages");
  delivery.mutable_record_dead_letter()->set_delivery_id(
      std::string(message_sid));
  return delivery;
}

std::string KeyOf(const SpooledDelivery& delivery) {
  return delivery.has_enqueue_job()
             ? delivery.enqueue_job().idempotency_key()
             : "dlq:" + delivery.record_dead_letter().delivery_id();
}

std::vector<std::string> Keys(const std::vector<SpooledDelivery>& deliveries) {
  std::vector<std::string> keys;
  for (const SpooledDelivery& delivery : deliveries) {
    keys.push_back(KeyOf(delivery));
  }
  return keys;
}

// How many names `dir` holds; -1 when it cannot be read.
int CountFiles(const std::string& dir) {
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return -1;
  closedir(handle);
  return static_cast<int>(FileNames(dir).size());
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

class SpoolReplayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestDir();
    Reopen();
  }

  void Reopen() {
    spool_.reset();
    absl::StatusOr<std::unique_ptr<DeliverySpool>> spool =
        DeliverySpool::Open(dir_);
    ASSERT_TRUE(spool.ok()) << spool.status();
    spool_ = *std::move(spool);
  }

  void Spool(const std::vector<SpooledDelivery>& deliveries) {
    for (const SpooledDelivery& delivery : deliveries) {
      ASSERT_TRUE(spool_->Append(delivery).ok());
    }
  }

  SpoolReplayer::Options FastOptions() {
    SpoolReplayer::Options options;
    options.initial_backoff = absl::Milliseconds(10);
    options.max_backoff = absl::Milliseconds(100);
    options.idle_poll = absl::Milliseconds(20);
    return options;
  }

  std::string dir_;
  std::unique_ptr<DeliverySpool> spool_;
  FakeJobQueueBackend backend_;
};

TEST_F(SpoolReplayerTest, ReplaysInOrderAndEmptiesTheSpool) {
  Spool({Job("SM1"), DeadLetter("SM2"), Job("SM3")});
  SpoolReplayer replayer(spool_.get(), &backend_, FastOptions());
  EXPECT_TRUE(replayer.ReplayPass().ok());
  EXPECT_THAT(Keys(backend_.accepted()),
              testing::ElementsAre("SM1", "dlq:SM2", "SM3"));
  EXPECT_THAT(backend_.waited_for_ready(), testing::Each(true))
      << "replays wait for the service, so they resume as soon as it is back";
  EXPECT_FALSE(spool_->HasPending());
  EXPECT_EQ(CountFiles(dir_), 3) << "only LOCK, corrupt/ and rejected/";
}

TEST_F(SpoolReplayerTest, AnOutageKeepsEverythingForTheNextPass) {
  Spool({Job("SM1"), Job("SM2")});
  backend_.AnswerEnqueue(absl::UnavailableError("connection refused"));
  SpoolReplayer replayer(spool_.get(), &backend_, FastOptions());
  EXPECT_EQ(replayer.ReplayPass().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(spool_->HasPending());
  EXPECT_THAT(backend_.attempts(), SizeIs(1)) << "stops at the first failure";

  backend_.AnswerEnqueue(absl::OkStatus());
  EXPECT_TRUE(replayer.ReplayPass().ok());
  EXPECT_THAT(Keys(backend_.accepted()), testing::ElementsAre("SM1", "SM2"));
  EXPECT_FALSE(spool_->HasPending());
}

TEST_F(SpoolReplayerTest, ARetryDoesNotResendWhatWasTaken) {
  Spool({Job("SM1"), DeadLetter("SM2")});
  backend_.AnswerDeadLetter(absl::DeadlineExceededError("slow"));
  SpoolReplayer replayer(spool_.get(), &backend_, FastOptions());
  EXPECT_FALSE(replayer.ReplayPass().ok());
  backend_.AnswerDeadLetter(absl::OkStatus());
  EXPECT_TRUE(replayer.ReplayPass().ok());
  EXPECT_THAT(Keys(backend_.attempts()),
              testing::ElementsAre("SM1", "dlq:SM2", "dlq:SM2"));
}

TEST_F(SpoolReplayerTest, AJobTheServiceRejectsBecomesADeadLetter) {
  Spool({Job("SM1")});
  backend_.AnswerEnqueue(absl::InvalidArgumentError("user_phone: not E.164"));
  SpoolReplayer replayer(spool_.get(), &backend_, FastOptions());
  EXPECT_TRUE(replayer.ReplayPass().ok());
  ASSERT_THAT(backend_.accepted(), SizeIs(1));
  EXPECT_THAT(backend_.accepted()[0].record_dead_letter().reason(),
              HasSubstr("user_phone: not E.164"));
  EXPECT_FALSE(spool_->HasPending());
}

TEST_F(SpoolReplayerTest, WhatCannotEvenBeADeadLetterIsKeptAside) {
  Spool({Job("SM1"), Job("SM2")});
  backend_.AnswerEnqueue(absl::InvalidArgumentError("bad"));
  backend_.AnswerDeadLetter(absl::InvalidArgumentError("raw_payload: too big"));
  SpoolReplayer replayer(spool_.get(), &backend_, FastOptions());
  EXPECT_TRUE(replayer.ReplayPass().ok());
  EXPECT_FALSE(spool_->HasPending());
  EXPECT_EQ(CountFiles(dir_ + "/rejected"), 1);
}

TEST_F(SpoolReplayerTest, ARecordThatDoesNotParseIsQuarantinedAlone) {
  // As a delivery nested too deep for protobuf was: intact on disk, but not
  // a SpooledDelivery when read back.
  const std::string segment = dir_ + "/segment-00000000000000000001.spool";
  {
    absl::StatusOr<std::unique_ptr<SpoolFileWriter>> writer =
        SpoolFileWriter::Create(segment);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const SpooledDelivery& delivery : {Job("SM1"), Job("SM2")}) {
      ASSERT_TRUE((*writer)->Append(delivery.SerializeAsString()).ok());
    }
    ASSERT_TRUE((*writer)->Append("\xff\xff not a delivery").ok());
    for (const SpooledDelivery& delivery :
         {Job("SM3"), DeadLetter("SM4"), Job("SM5")}) {
      ASSERT_TRUE((*writer)->Append(delivery.SerializeAsString()).ok());
    }
  }
  Reopen();
  Spool({Job("SM6")});

  metrics::Registry registry;
  ShimMetrics metrics(&registry);
  metrics.spool_depth->Set(7);
  SpoolReplayer::Options options = FastOptions();
  options.metrics = &metrics;
  SpoolReplayer replayer(spool_.get(), &backend_, options);
  EXPECT_TRUE(replayer.ReplayPass().ok());
  EXPECT_THAT(
      Keys(backend_.accepted()),
      testing::ElementsAre("SM1", "SM2", "SM3", "dlq:SM4", "SM5", "SM6"));
  EXPECT_EQ(metrics.spool_records_quarantined->value(), 1u);
  EXPECT_EQ(metrics.replays_succeeded->value(), 6u);
  EXPECT_EQ(metrics.spool_depth->value(), 0);
  EXPECT_THAT(registry.Render(),
              HasSubstr("twilio_shim_spool_records_quarantined_total 1\n"));
  EXPECT_FALSE(spool_->HasPending()) << "the segment is removed";
  EXPECT_EQ(CountFiles(dir_), 3) << "only LOCK, corrupt/ and rejected/";
  std::vector<std::string> corrupt = FileNames(dir_ + "/corrupt");
  ASSERT_THAT(corrupt, SizeIs(1));
  EXPECT_THAT(corrupt[0], HasSubstr("segment-00000000000000000001.spool."));
  EXPECT_EQ(ReadBytes(dir_ + "/corrupt/" + corrupt[0]),
            "\xff\xff not a delivery");
}

TEST_F(SpoolReplayerTest, ADamagedRecordIsQuarantinedAndTheRestReplayed) {
  Spool({Job("SM1"), Job("SM2"), Job("SM3")});
  spool_.reset();
  const std::string segment = dir_ + "/segment-00000000000000000001.spool";
  std::string bytes = ReadBytes(segment);
  bytes[bytes.find("SM2")] ^= 0x20;
  WriteBytes(segment, bytes + "torn");
  Reopen();
  Spool({Job("SM4")});

  metrics::Registry registry;
  ShimMetrics metrics(&registry);
  SpoolReplayer::Options options = FastOptions();
  options.metrics = &metrics;
  SpoolReplayer replayer(spool_.get(), &backend_, options);
  EXPECT_TRUE(replayer.ReplayPass().ok());
  EXPECT_THAT(Keys(backend_.accepted()),
              testing::ElementsAre("SM1", "SM3", "SM4"));
  EXPECT_EQ(metrics.spool_records_quarantined->value(), 1u)
      << "the torn tail is not a record";
  std::vector<std::string> corrupt = FileNames(dir_ + "/corrupt");
  ASSERT_THAT(corrupt, SizeIs(1));
  EXPECT_THAT(ReadBytes(dir_ + "/corrupt/" + corrupt[0]), HasSubstr("sM2"));
  EXPECT_FALSE(spool_->HasPending());
}

TEST_F(SpoolReplayerTest, AnOutageDoesNotQuarantineTwice) {
  Spool({Job("SM1"), Job("SM2")});
  spool_.reset();
  const std::string segment = dir_ + "/segment-00000000000000000001.spool";
  std::string bytes = ReadBytes(segment);
  bytes[bytes.find("SM2")] ^= 0x20;
  WriteBytes(segment, bytes);
  Reopen();

  metrics::Registry registry;
  ShimMetrics metrics(&registry);
  SpoolReplayer::Options options = FastOptions();
  options.metrics = &metrics;
  SpoolReplayer replayer(spool_.get(), &backend_, options);
  backend_.AnswerEnqueue(absl::UnavailableError("down"));
  EXPECT_FALSE(replayer.ReplayPass().ok());
  EXPECT_FALSE(replayer.ReplayPass().ok());
  EXPECT_EQ(metrics.spool_records_quarantined->value(), 0u);
  backend_.AnswerEnqueue(absl::OkStatus());
  EXPECT_TRUE(replayer.ReplayPass().ok());
  EXPECT_THAT(Keys(backend_.accepted()), testing::ElementsAre("SM1"));
  EXPECT_EQ(metrics.spool_records_quarantined->value(), 1u);
  EXPECT_EQ(CountFiles(dir_ + "/corrupt"), 1);
}

TEST_F(SpoolReplayerTest, TheThreadResumesASpoolLeftByAnEarlierRun) {
  Spool({Job("SM1"), Job("SM2")});
  Reopen();
  SpoolReplayer replayer(spool_.get(), &backend_, FastOptions());
  replayer.Start();
  EXPECT_TRUE(backend_.AwaitAccepted(2, absl::Seconds(10)));
  replayer.Stop();
  EXPECT_FALSE(spool_->HasPending());
}

TEST_F(SpoolReplayerTest, TheThreadBacksOffThenDeliversWhenTheServiceReturns) {
  backend_.AnswerEnqueue(absl::UnavailableError("down"));
  SpoolReplayer replayer(spool_.get(), &backend_, FastOptions());
  replayer.Start();
  Spool({Job("SM1")});
  absl::SleepFor(absl::Milliseconds(500));
  const size_t attempts_while_down = backend_.attempts().size();
  EXPECT_GE(attempts_while_down, 2u) << "it retries";
  EXPECT_LE(attempts_while_down, 25u) << "with backoff, not in a busy loop";

  backend_.AnswerEnqueue(absl::OkStatus());
  replayer.Wake();
  EXPECT_TRUE(backend_.AwaitAccepted(1, absl::Seconds(5)));
  replayer.Stop();
  EXPECT_THAT(backend_.accepted(), SizeIs(1));
}

}  // namespace
}  // namespace jobqueue::shim
