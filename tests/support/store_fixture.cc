#include "tests/support/store_fixture.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jobqueue {

void StoreFixture::SetUp() {
  ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
  store_ = std::make_unique<PgJobStore>(StoreOptions(db_->url()));
  Sql("INSERT INTO users (phone_number) VALUES ('+15551234567')");
}

PgJobStore::Options StoreFixture::StoreOptions(const std::string& url) {
  return {.url = url,
          .retry_backoff = {.base = absl::Hours(1), .max = absl::Hours(1)}};
}

std::string StoreFixture::Enqueue(const std::string& channel) {
  auto r = store_->Enqueue({.user_phone = "+15551234567",
                            .source_channel_id = channel,
                            .source_type = "dm",
                            .payload_json = "{}",
                            .content_type = "text"},
                           Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->job.id : "";
}

std::vector<std::string> StoreFixture::Claim(int max_jobs) {
  auto r =
      store_->ClaimJobs({.worker_id = "w", .max_jobs = max_jobs}, Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
  std::vector<std::string> ids;
  if (r.ok()) {
    for (const Job& job : *r) {
      ids.push_back(job.id);
      leases_[job.id] = job.lease_token;
    }
  }
  return ids;
}

void StoreFixture::Complete(const std::string& id) {
  auto r = store_->CompleteJob(id, leases_[id], Deadline());
  EXPECT_TRUE(r.ok()) << r.status();
}

MaintenanceReport StoreFixture::Maintain() {
  auto report = store_->RunMaintenance(absl::ZeroDuration(), 100, Deadline());
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : MaintenanceReport();
}

int64_t StoreFixture::Buffers(const std::string& sql,
                              const std::string& setup) {
  pqxx::connection c(db_->url());
  pqxx::work txn(c);
  if (!setup.empty()) txn.exec(setup);
  const std::string plan =
      txn.exec1("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)[0]
          .as<std::string>();
  int64_t total = 0;
  for (const char* key :
       {"\"Shared Hit Blocks\": ", "\"Shared Read Blocks\": "}) {
    const size_t at = plan.find(key);  // the top node's, which sums all
    EXPECT_NE(at, std::string::npos) << plan;
    int64_t n = 0;
    const size_t start = at + std::string(key).size();
    EXPECT_TRUE(absl::SimpleAtoi(
        plan.substr(start, plan.find_first_of(",\n}", start) - start), &n));
    total += n;
  }
  return total;
}

int64_t StoreFixture::IndexEntries(const std::string& sql,
                                   const std::string& setup,
                                   const std::vector<std::string>& indexes) {
  pqxx::connection c(db_->url());
  pqxx::work txn(c);
  if (!setup.empty()) txn.exec(setup);
  txn.exec("EXPLAIN (ANALYZE, TIMING OFF) " + sql);
  std::string only;
  for (const std::string& index : indexes) {
    absl::StrAppend(&only, only.empty() ? "" : ", ", txn.quote(index));
  }
  // This transaction's counts, kept apart from other sessions'.
  return txn
      .exec1(absl::StrCat(
          "SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(indexrelid)),"
          " 0)::bigint FROM pg_index WHERE indrelid IN"
          " ('jobs'::regclass, 'conversations'::regclass)",
          only.empty() ? ""
                       : absl::StrCat(" AND indexrelid::regclass::text IN (",
                                      only, ")")))[0]
      .as<int64_t>();
}

void StoreFixture::AddConversations(const std::string& prefix, int n,
                                    int jobs) {
  Sql(
      absl::StrCat("INSERT INTO jobs (user_id, source_channel_id, source_type,"
                   " user_phone, payload) SELECT '+15551234567', '",
                   prefix,
                   "-' || c, 'dm', '+15551234567', '{}'"
                   " FROM generate_series(1, ",
                   n, ") c, generate_series(1, ", jobs, ") j"));
}

}  // namespace jobqueue
