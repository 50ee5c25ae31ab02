// The service behind PgBouncer (Debian's, started by the test) in session
// and in transaction pooling, as behind Supabase's Supavisor on ports 5432
// and 6543: migrations run twice, concurrent enqueues never fail, a waiting
// claim wakes on enqueue (in transaction pooling through the direct
// listening URL), completion, lease rescue and retention by the maintenance
// loop, and two replicas never claim the same job.
//
// JOBQUEUE_POOLER_TEST_AS_SESSION=1 runs the transaction-pooling cases with
// the server in session mode (named prepared statements, session SETs,
// LISTEN on the pooled URL): what the service did before
// --database_pooling existed, which these tests show failing.

#include <google/protobuf/util/time_util.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "storage/embedded_migrations.h"
#include "storage/migrator.h"
#include "tests/support/client_calls.h"
#include "tests/support/in_process_server.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/pgbouncer.h"

namespace jobqueue {
namespace {

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  *out = google::protobuf::util::TimeUtil::NanosecondsToDuration(
      absl::ToInt64Nanoseconds(d));
}

bool Transaction(const std::string& mode) { return mode == "transaction"; }

class PoolerTest : public PgTest,
                   public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    auto bouncer = PgBouncer::Start(db_->url(), GetParam());
    ASSERT_TRUE(bouncer.ok()) << bouncer.status();
    bouncer_ = std::move(*bouncer);
    url_ = bouncer_->Url(db_->url());
  }

  // The server's settings: through the pooler; in transaction pooling
  // LISTEN goes to the direct URL.
  InProcessServer::Options Options() const {
    InProcessServer::Options o{.database_url = url_};
    const char* as_session = std::getenv("JOBQUEUE_POOLER_TEST_AS_SESSION");
    if (Transaction(GetParam()) &&
        (as_session == nullptr || std::string(as_session) != "1")) {
      o.database_pooling = DatabasePooling::kTransaction;
      o.listen_database_url = db_->url();
    }
    return o;
  }

  std::unique_ptr<InProcessServer> Server(InProcessServer::Options o) {
    auto server = InProcessServer::Start(o);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? std::move(*server) : nullptr;
  }

  static grpc::Status Enqueue(v1::JobQueue::Stub& stub,
                              const std::string& channel,
                              std::string* id = nullptr) {
    v1::EnqueueJobResponse response;
    grpc::Status s = stub.EnqueueJob(CallContext().get(),
                                     EnqueueRequest(channel), &response);
    if (id != nullptr) *id = response.job().id();
    return s;
  }

  static v1::ClaimJobsResponse Claim(v1::JobQueue::Stub& stub, int max_jobs,
                                     absl::Duration lease,
                                     absl::Duration wait = absl::ZeroDuration(),
                                     grpc::Status* status = nullptr,
                                     bool in_order = false) {
    v1::ClaimJobsRequest claim;
    claim.set_worker_id("w");
    claim.set_max_jobs(max_jobs);
    claim.set_ignore_conversation_order(!in_order);
    SetDuration(lease, claim.mutable_lease_duration());
    if (wait > absl::ZeroDuration()) {
      SetDuration(wait, claim.mutable_wait_timeout());
    }
    v1::ClaimJobsResponse response;
    grpc::Status s = stub.ClaimJobs(CallContext(wait + absl::Seconds(10)).get(),
                                    claim, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (status != nullptr) *status = s;
    return response;
  }

  std::unique_ptr<PgBouncer> bouncer_;
  std::string url_;
};

TEST_P(PoolerTest, MigratesTwiceAndConcurrently) {
  auto empty = TestDatabase::CreateEmpty();
  ASSERT_TRUE(empty.ok()) << empty.status();
  const std::string url = bouncer_->Url((*empty)->url());
  const size_t files = EmbeddedMigrationFiles().size();
  absl::StatusOr<MigrationReport> first[2];
  std::thread a(
      [&] { first[0] = ApplyMigrations(url, EmbeddedMigrationFiles()); });
  std::thread b(
      [&] { first[1] = ApplyMigrations(url, EmbeddedMigrationFiles()); });
  a.join();
  b.join();
  ASSERT_TRUE(first[0].ok()) << first[0].status();
  ASSERT_TRUE(first[1].ok()) << first[1].status();
  EXPECT_EQ(first[0]->applied.size() + first[1]->applied.size(), files)
      << "each file applied exactly once";
  absl::StatusOr<MigrationReport> again =
      ApplyMigrations(url, EmbeddedMigrationFiles());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->applied.empty());
  EXPECT_EQ(again->already_applied, static_cast<int>(files));
}

TEST_P(PoolerTest, ConcurrentEnqueuesNeverFail) {
  auto server = Server(Options());
  ASSERT_NE(server, nullptr);
  constexpr int kCallers = 32, kEach = 50;
  absl::Mutex mu;
  std::map<std::string, int> codes;
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      auto stub = server->NewStub();
      for (int j = 0; j < kEach; ++j) {
        grpc::Status s = Enqueue(*stub, absl::StrCat("c", i % 8));
        absl::MutexLock lock(&mu);
        ++codes[s.ok() ? "OK"
                       : absl::StrCat(s.error_code(), " ", s.error_message())];
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(codes["OK"], kCallers * kEach);
  for (const auto& [code, n] : codes) {
    if (code != "OK") ADD_FAILURE() << n << " answers: " << code;
  }
  EXPECT_EQ(db_->Rows("jobs"), kCallers * kEach);
}

TEST_P(PoolerTest, WaitingClaimWakesOnEnqueue) {
  auto server = Server(Options());
  ASSERT_NE(server, nullptr);
  auto stub = server->NewStub();
  // Warm up: the listener is connected once a first job wakes a claim.
  ASSERT_TRUE(Enqueue(*stub, "warm").ok());
  ASSERT_EQ(Claim(*stub, 1, absl::Seconds(60)).jobs_size(), 1);
  for (int round = 0; round < 3; ++round) {
    absl::Time woke;
    int claimed = -1;
    std::thread waiting([&] {
      claimed =
          Claim(*stub, 1, absl::Seconds(60), absl::Seconds(10)).jobs_size();
      woke = absl::Now();
    });
    // The waiting claim's 1 s recheck would come 400 ms after the enqueue.
    absl::SleepFor(absl::Milliseconds(600));
    const absl::Time enqueued = absl::Now();
    ASSERT_TRUE(Enqueue(*stub, absl::StrCat("r", round)).ok());
    waiting.join();
    EXPECT_EQ(claimed, 1);
    EXPECT_LT(woke - enqueued, absl::Milliseconds(250))
        << "woke " << absl::FormatDuration(woke - enqueued)
        << " after the enqueue: no notification, the recheck found it";
    std::cerr << "round " << round << ": woke "
              << absl::FormatDuration(woke - enqueued) << " after enqueue\n";
  }
}

TEST_P(PoolerTest, CompletionRescueAndRetention) {
  InProcessServer::Options o = Options();
  o.maintenance_interval = absl::Milliseconds(100);
  o.retention = absl::Milliseconds(1);
  auto server = Server(o);
  ASSERT_NE(server, nullptr);
  auto stub = server->NewStub();
  std::string done_id, lapsed_id;
  ASSERT_TRUE(Enqueue(*stub, "a", &done_id).ok());
  ASSERT_TRUE(Enqueue(*stub, "b", &lapsed_id).ok());
  v1::ClaimJobsResponse claimed = Claim(*stub, 2, absl::Seconds(1));
  ASSERT_EQ(claimed.jobs_size(), 2);
  for (const v1::Job& job : claimed.jobs()) {
    if (job.id() != done_id) continue;
    v1::CompleteJobRequest complete;
    complete.set_job_id(job.id());
    complete.set_lease_token(job.lease_token());
    v1::Job completed;
    grpc::Status s =
        stub->CompleteJob(CallContext().get(), complete, &completed);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(completed.status(), v1::JOB_STATUS_COMPLETE);
  }
  // The maintenance loop returns the lapsed lease and deletes the completed
  // job past its retention.
  bool rescued = false, deleted = false;
  for (absl::Time end = absl::Now() + absl::Seconds(15);
       absl::Now() < end && !(rescued && deleted);
       absl::SleepFor(absl::Milliseconds(100))) {
    v1::GetJobRequest get;
    v1::Job job;
    get.set_id(lapsed_id);
    if (stub->GetJob(CallContext().get(), get, &job).ok()) {
      rescued = job.status() == v1::JOB_STATUS_PENDING &&
                absl::StrContains(job.last_error(), "lease expired");
    }
    get.set_id(done_id);
    deleted = stub->GetJob(CallContext().get(), get, &job).error_code() ==
              grpc::StatusCode::NOT_FOUND;
  }
  EXPECT_TRUE(rescued) << "the lapsed lease was not returned to pending";
  EXPECT_TRUE(deleted) << "the completed job was not deleted";
  EXPECT_EQ(Claim(*stub, 1, absl::Seconds(60)).jobs_size(), 1)
      << "the rescued job is claimable again";
}

TEST_P(PoolerTest, TwoReplicasNeverClaimTheSameJob) {
  InProcessServer::Options o = Options();
  o.maintenance_interval = absl::Milliseconds(100);
  auto one = Server(o);
  auto two = Server(o);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  constexpr int kJobs = 400;
  {
    auto stub = one->NewStub();
    for (int i = 0; i < kJobs; ++i) {
      ASSERT_TRUE(Enqueue(*stub, absl::StrCat("c", i % 20)).ok());
    }
  }
  absl::Mutex mu;
  std::map<std::string, int> claims;
  std::atomic<int> errors{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 8; ++w) {
    workers.emplace_back([&, w] {
      auto stub = (w % 2 == 0 ? one : two)->NewStub();
      for (int idle = 0; idle < 3;) {
        grpc::Status s;
        // In conversation order, as the service claims by default. (Claims
        // of 10 ignoring the order deadlocked now and then against each
        // other, with or without a pooler: a separate issue.)
        v1::ClaimJobsResponse r =
            Claim(*stub, 10, absl::Seconds(60), absl::ZeroDuration(), &s,
                  /*in_order=*/true);
        if (!s.ok()) ++errors;
        if (r.jobs_size() == 0) {
          ++idle;
          continue;
        }
        idle = 0;
        for (const v1::Job& job : r.jobs()) {
          {
            absl::MutexLock lock(&mu);
            ++claims[job.id()];
          }
          v1::CompleteJobRequest complete;
          complete.set_job_id(job.id());
          complete.set_lease_token(job.lease_token());
          v1::Job completed;
          if (!stub->CompleteJob(CallContext().get(), complete, &completed)
                   .ok()) {
            ++errors;
          }
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claims.size(), static_cast<size_t>(kJobs));
  for (const auto& [id, n] : claims) EXPECT_EQ(n, 1) << id << " claimed twice";
  pqxx::connection c(db_->url());
  EXPECT_EQ(pqxx::nontransaction(c)
                .exec1("SELECT count(*) FROM jobs WHERE status = 'complete'")[0]
                .as<int>(),
            kJobs);
}

// Tests of transaction pooling alone: the same fixture, instantiated with
// "transaction" only.
class TransactionPoolerTest : public PoolerTest {};

TEST_P(TransactionPoolerTest,
       WithoutListenUrlTransactionPoolingPollsAndSaysSo) {
  auto server = Server({.database_url = url_,
                        .database_pooling = DatabasePooling::kTransaction});
  ASSERT_NE(server, nullptr);
  httplib::Client client(absl::StrCat("http://", server->metrics_address()));
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_TRUE(absl::StrContains(metrics->body, "jobqueue_notifier_polling 1"))
      << metrics->body;
  auto stub = server->NewStub();
  int claimed = -1;
  std::thread waiting([&] {
    claimed = Claim(*stub, 1, absl::Seconds(60), absl::Seconds(10)).jobs_size();
  });
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time enqueued = absl::Now();
  ASSERT_TRUE(Enqueue(*stub, "p").ok());
  waiting.join();
  EXPECT_EQ(claimed, 1);
  EXPECT_LT(absl::Now() - enqueued, absl::Seconds(5))
      << "the 1 s recheck finds the job, well before the 60 s wait ends";
}

TEST_P(TransactionPoolerTest, ListeningThroughTheTransactionPoolerIsRefused) {
  auto server =
      InProcessServer::Start({.database_url = url_,
                              .database_pooling = DatabasePooling::kTransaction,
                              .listen_database_url = url_});
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(server.status().message(), "db.<ref>.supabase.co:5432"))
      << server.status();
}

TEST(PoolerStartTest, SupabaseTransactionPoolerNeedsTransactionPooling) {
  const std::string pooler =
      "postgresql://postgres.ref:pw@aws-0-eu-west-1.pooler.supabase.com:6543/"
      "postgres";
  auto session = InProcessServer::Start({.database_url = pooler});
  ASSERT_FALSE(session.ok());
  EXPECT_TRUE(absl::StrContains(session.status().message(),
                                "--database_pooling=transaction"))
      << session.status();
  auto listen =
      InProcessServer::Start({.database_url = pooler,
                              .database_pooling = DatabasePooling::kTransaction,
                              .listen_database_url = pooler});
  ASSERT_FALSE(listen.ok());
  EXPECT_TRUE(absl::StrContains(listen.status().message(), "session pooler"))
      << listen.status();
}

TEST_P(PoolerTest, DirectMetricSaysListening) {
  auto server = Server(Options());
  ASSERT_NE(server, nullptr);
  httplib::Client client(absl::StrCat("http://", server->metrics_address()));
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_TRUE(absl::StrContains(metrics->body, "jobqueue_notifier_polling 0"))
      << metrics->body;
}

INSTANTIATE_TEST_SUITE_P(Modes, PoolerTest,
                         ::testing::Values("session", "transaction"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Modes, TransactionPoolerTest,
                         ::testing::Values("transaction"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace jobqueue
