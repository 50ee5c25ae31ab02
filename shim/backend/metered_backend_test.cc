#include "shim/backend/metered_backend.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/registry.h"
#include "shim/backend/fake_job_queue_backend.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;

SpooledDelivery Job() {
  SpooledDelivery delivery;
  delivery.mutable_enqueue_job()->set_idempotency_key("SM1");
  return delivery;
}

SpooledDelivery DeadLetter() {
  SpooledDelivery delivery;
  delivery.mutable_record_dead_letter()->set_delivery_id("SM1");
  return delivery;
}

TEST(MeteredBackendTest, CountsOnlyDeadLettersRefusedForGood) {
  metrics::Registry registry;
  ShimMetrics metrics(&registry);
  FakeJobQueueBackend fake;
  MeteredBackend backend(&fake, &metrics);

  fake.AnswerEnqueue(absl::InvalidArgumentError("bad job"));
  EXPECT_EQ(backend.Deliver(Job(), {}).code(),
            absl::StatusCode::kInvalidArgument);
  fake.AnswerDeadLetter(absl::UnavailableError("down"));
  EXPECT_EQ(backend.Deliver(DeadLetter(), {}).code(),
            absl::StatusCode::kUnavailable);
  fake.AnswerDeadLetter(absl::OkStatus());
  EXPECT_TRUE(backend.Deliver(DeadLetter(), {}).ok());
  EXPECT_THAT(registry.Render(),
              HasSubstr("twilio_shim_deliveries_rejected_total 0\n"));

  fake.AnswerDeadLetter(absl::InvalidArgumentError("bad dead letter"));
  EXPECT_EQ(backend.Deliver(DeadLetter(), {}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(registry.Render(),
              HasSubstr("twilio_shim_deliveries_rejected_total 1\n"));
  EXPECT_EQ(fake.attempts().size(), 4u);
}

TEST(MeteredBackendTest, PassesHealthThrough) {
  FakeJobQueueBackend fake;
  MeteredBackend backend(&fake, nullptr);
  fake.AnswerHealth(absl::UnavailableError("down"));
  EXPECT_EQ(backend.CheckHealth(absl::Seconds(1)).code(),
            absl::StatusCode::kUnavailable);
  fake.AnswerDeadLetter(absl::InvalidArgumentError("bad dead letter"));
  EXPECT_EQ(backend.Deliver(DeadLetter(), {}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jobqueue::shim
