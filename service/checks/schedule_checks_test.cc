// CreateSchedule's and DeleteSchedule's checks (request_checks.h).

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/checks/request_checks.h"

namespace jobqueue {
namespace {

using ::testing::HasSubstr;

v1::CreateScheduleRequest ASchedule() {
  v1::CreateScheduleRequest r;
  r.set_name("daily-digest");
  r.set_cron("0 9 * * MON-FRI");
  v1::EnqueueJobRequest* job = r.mutable_job();
  job->set_user_phone("+15551234567");
  job->set_source_channel_id("digest");
  job->set_source_type(v1::SOURCE_TYPE_DM);
  job->set_queue("reports");
  (*job->mutable_payload()->mutable_fields())["kind"].set_string_value("d");
  return r;
}

std::string Invalid(const v1::CreateScheduleRequest& r) {
  absl::StatusOr<ScheduleSpec> spec = ToScheduleSpec(r, 1024);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument)
      << spec.status();
  return std::string(spec.status().message());
}

TEST(ScheduleChecksTest, ACronScheduleIsReadInUtcUnlessAZoneIsGiven) {
  absl::StatusOr<ScheduleSpec> spec = ToScheduleSpec(ASchedule(), 1024);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "daily-digest");
  EXPECT_EQ(spec->cron, "0 9 * * MON-FRI");
  EXPECT_EQ(spec->time_zone, "UTC");
  EXPECT_EQ(spec->interval, absl::ZeroDuration());
  EXPECT_EQ(spec->job.queue, "reports");
  EXPECT_EQ(spec->job.max_attempts, 5);
  EXPECT_EQ(spec->job.payload_json, R"({"kind":"d"})");

  v1::CreateScheduleRequest r = ASchedule();
  r.set_time_zone("America/New_York");
  spec = ToScheduleSpec(r, 1024);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->time_zone, "America/New_York");
}

TEST(ScheduleChecksTest, AnIntervalSchedule) {
  v1::CreateScheduleRequest r = ASchedule();
  r.clear_cron();
  r.mutable_interval()->set_seconds(90);
  absl::StatusOr<ScheduleSpec> spec = ToScheduleSpec(r, 1024);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->interval, absl::Seconds(90));
  EXPECT_EQ(spec->cron, "");
  EXPECT_EQ(spec->time_zone, "");
}

TEST(ScheduleChecksTest, EachMistakeIsNamed) {
  v1::CreateScheduleRequest r = ASchedule();
  r.set_name("");
  EXPECT_THAT(Invalid(r), HasSubstr("name must be 1 to 128"));
  r.set_name(std::string(129, 'a'));
  EXPECT_THAT(Invalid(r), HasSubstr("name must be 1 to 128"));
  r.set_name("has space");
  EXPECT_THAT(Invalid(r), HasSubstr("name must be"));

  r = ASchedule();
  r.mutable_interval()->set_seconds(60);
  EXPECT_THAT(Invalid(r), HasSubstr("cron and interval exclude each other"));
  r.clear_cron();
  r.clear_interval();
  EXPECT_THAT(Invalid(r), HasSubstr("needs cron or interval"));

  r = ASchedule();
  r.set_cron("61 * * * *");
  EXPECT_THAT(Invalid(r), HasSubstr("cron field minute \"61\""));
  r.set_cron("0 9 * *");
  EXPECT_THAT(Invalid(r), HasSubstr("has 4 fields, not 5"));
  r = ASchedule();
  r.set_time_zone("Mars/Olympus");
  EXPECT_THAT(Invalid(r), HasSubstr("time_zone \"Mars/Olympus\""));

  r = ASchedule();
  r.clear_cron();
  r.set_time_zone("UTC");
  r.mutable_interval()->set_seconds(60);
  EXPECT_THAT(Invalid(r), HasSubstr("time_zone is only for a cron"));
  r.clear_time_zone();
  r.mutable_interval()->set_seconds(0);
  r.mutable_interval()->set_nanos(999999999);
  EXPECT_THAT(Invalid(r), HasSubstr("interval must be between 1s and"));
  r.mutable_interval()->set_seconds(366 * 86400 + 1);
  r.mutable_interval()->set_nanos(0);
  EXPECT_THAT(Invalid(r), HasSubstr("interval must be between"));
  r.mutable_interval()->set_seconds(1);
  r.mutable_interval()->set_nanos(500);
  EXPECT_THAT(Invalid(r), HasSubstr("whole number of milliseconds"));

  r = ASchedule();
  r.clear_job();
  EXPECT_THAT(Invalid(r), HasSubstr("job is required"));
  r = ASchedule();
  r.mutable_job()->set_idempotency_key("k");
  EXPECT_THAT(Invalid(r), HasSubstr("job.idempotency_key must be empty"));
  r = ASchedule();
  r.mutable_job()->mutable_delay()->set_seconds(60);
  EXPECT_THAT(Invalid(r), HasSubstr("job.delay must be unset"));
  r = ASchedule();
  r.mutable_job()->mutable_run_at()->set_seconds(1900000000);
  EXPECT_THAT(Invalid(r), HasSubstr("job.run_at must be unset"));
  r = ASchedule();
  r.mutable_job()->set_user_phone("555");
  EXPECT_THAT(Invalid(r), HasSubstr("job.user_phone"));
  r = ASchedule();
  r.mutable_job()->set_queue("bad queue");
  EXPECT_THAT(Invalid(r), HasSubstr("job.queue"));
  r = ASchedule();
  r.mutable_job()->set_priority(10);
  EXPECT_THAT(Invalid(r), HasSubstr("job.priority"));
}

TEST(ScheduleChecksTest, DeleteNamesASchedule) {
  v1::DeleteScheduleRequest r;
  r.set_name("nightly");
  EXPECT_EQ(*ToScheduleName(r), "nightly");
  r.set_name("");
  EXPECT_EQ(ToScheduleName(r).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jobqueue
