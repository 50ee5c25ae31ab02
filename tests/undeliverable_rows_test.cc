// Rows written by plain SQL or an older writer that the API cannot carry as
// they are (a number beyond a double, nesting deeper than a client parses,
// times outside the years 0001 to 9999) cost only their own job: claims
// hand out the rest of the batch, the job fails into the dead letters with
// the reason and its conversation moves on, and reads still show it.
// Real gRPC channels and PostgreSQL.

#include <pqxx/pqxx>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/client_calls.h"
#include "tests/support/server_fixture.h"

namespace jobqueue {
namespace {

class UndeliverableRowsTest : public ServerTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ServerTest::SetUp());
    Sql("INSERT INTO users (phone_number) VALUES ('+15551234567')");
  }

  std::string Enqueue(const std::string& channel) {
    v1::EnqueueJobResponse response;
    grpc::Status s = stub_->EnqueueJob(CallContext().get(),
                                       EnqueueRequest(channel), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.job().id();
  }

  // A job of `channel` inserted by plain SQL with `payload` and `columns`
  // (", name" pairs with `values`); returns its id.
  std::string Insert(const std::string& channel, const std::string& payload,
                     const std::string& columns = "",
                     const std::string& values = "") {
    return Sql(absl::StrCat(
        "INSERT INTO jobs (user_id, source_channel_id, source_type,"
        " user_phone, payload",
        columns, ") VALUES ('+15551234567', '", channel,
        "', 'dm', '+15551234567', '", payload, "'", values,
        ") RETURNING id"))[0][0]
        .as<std::string>();
  }

  std::set<std::string> Claim() {
    v1::ClaimJobsRequest claim;
    claim.set_worker_id("w");
    claim.set_max_jobs(10);
    v1::ClaimJobsResponse response;
    grpc::Status s = stub_->ClaimJobs(CallContext().get(), claim, &response);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    std::set<std::string> ids;
    for (const v1::Job& job : response.jobs()) ids.insert(job.id());
    return ids;
  }

  // The job is failed for good after one counted attempt, with a dead
  // letter whose reason contains `why`.
  void ExpectDeadLettered(const std::string& id, const std::string& why) {
    pqxx::result job = Sql(absl::StrCat(
        "SELECT status, attempts, coalesce(last_error, '') FROM jobs"
        " WHERE id = '",
        id, "'"));
    ASSERT_EQ(job.size(), 1u);
    EXPECT_EQ(job[0][0].as<std::string>(), "failed");
    EXPECT_EQ(job[0][1].as<int>(), 1) << "the attempt was not counted";
    EXPECT_NE(job[0][2].as<std::string>().find(why), std::string::npos)
        << job[0][2].as<std::string>();
    pqxx::result dead = Sql(
        absl::StrCat("SELECT reason FROM dlq_jobs WHERE job_id = '", id, "'"));
    ASSERT_EQ(dead.size(), 1u) << "no dead letter";
    EXPECT_NE(dead[0][0].as<std::string>().find(why), std::string::npos)
        << dead[0][0].as<std::string>();
  }
};

TEST_F(UndeliverableRowsTest, ANumberBeyondADoubleCostsOnlyItsOwnJob) {
  const std::string a = Enqueue("a");
  const std::string bad = Insert("b", R"({"n": 1e400})");
  const std::string b = Enqueue("b");
  const std::string c = Enqueue("c");
  EXPECT_EQ(Claim(), (std::set<std::string>{a, c}));
  ExpectDeadLettered(bad, "payload");
  EXPECT_EQ(Claim(), std::set<std::string>{b}) << "its conversation is stuck";
}

// Nesting a client's parser refuses (protobuf stops at 100 levels of
// messages: 33 levels of JSON objects) would fail the whole response there.
TEST_F(UndeliverableRowsTest, PayloadsNestedTooDeeplyCostOnlyTheirOwnJob) {
  std::string deep = "1";
  for (int i = 0; i < 34; ++i) deep = absl::StrCat(R"({"k": )", deep, "}");
  const std::string a = Enqueue("a");
  const std::string bad = Insert("b", deep);
  EXPECT_EQ(Claim(), std::set<std::string>{a});
  ExpectDeadLettered(bad, "payload");
}

TEST_F(UndeliverableRowsTest, ReadsShowAJobWhosePayloadCannotBeCarried) {
  const std::string bad = Insert("b", R"({"n": -1e400, "m": 2})");
  v1::GetJobRequest get;
  get.set_id(bad);
  v1::Job job;
  grpc::Status s = stub_->GetJob(CallContext().get(), get, &job);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(job.id(), bad);
  EXPECT_EQ(job.payload().fields_size(), 0);
  EXPECT_NE(job.payload_error().find("double"), std::string::npos)
      << job.payload_error();

  Enqueue("a");
  v1::ListJobsRequest list;
  v1::ListJobsResponse page;
  s = stub_->ListJobs(CallContext().get(), list, &page);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  ASSERT_EQ(page.jobs_size(), 2);
  for (const v1::Job& listed : page.jobs()) {
    EXPECT_EQ(listed.payload_error().empty(), listed.id() != bad);
  }
}

// Times PostgreSQL holds and a Timestamp cannot (infinity, years past 9999)
// are given as the nearest it can, in claims and reads alike.
TEST_F(UndeliverableRowsTest, TimesOutsideTheApiRangeAreClamped) {
  const std::string a = Enqueue("a");
  const std::string odd = Insert("b", "{}", ", created_at, updated_at",
                                 ", '-infinity', '20000-01-01 00:00:00+00'");
  const std::string parked = Insert("c", "{}", ", run_after", ", 'infinity'");
  EXPECT_EQ(Claim(), (std::set<std::string>{a, odd}));

  v1::GetJobRequest get;
  get.set_id(parked);
  v1::Job job;
  grpc::Status s = stub_->GetJob(CallContext().get(), get, &job);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(job.run_after().seconds(), 253402300799);  // 9999-12-31T23:59:59
  v1::ListJobsRequest list;
  v1::ListJobsResponse page;
  s = stub_->ListJobs(CallContext().get(), list, &page);
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(page.jobs_size(), 3);
}

}  // namespace
}  // namespace jobqueue
