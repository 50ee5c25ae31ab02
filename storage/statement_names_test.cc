// The store names each statement it runs, by its block in storage/queries,
// to its StatementObserver and in the log line of a statement that failed.
// Against a real PostgreSQL.

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "storage/pg_job_store.h"
#include "storage/statement_observer.h"
#include "tests/support/store_fixture.h"

namespace jobqueue {
namespace {

// Counts runs by statement name and outcome.
class Counting final : public StatementObserver {
 public:
  std::unique_ptr<Sink> ForStatement(const std::string& name) override {
    return std::make_unique<Counter>(this, name);
  }

  int runs(const std::string& name, bool ok) {
    absl::MutexLock lock(&mu_);
    return runs_[{name, ok}];
  }

 private:
  class Counter final : public Sink {
   public:
    Counter(Counting* counting, std::string name)
        : counting_(counting), name_(std::move(name)) {}
    void Observe(bool ok, absl::Duration) override {
      absl::MutexLock lock(&counting_->mu_);
      ++counting_->runs_[{name_, ok}];
    }

   private:
    Counting* const counting_;
    const std::string name_;
  };

  absl::Mutex mu_;
  std::map<std::pair<std::string, bool>, int> runs_ ABSL_GUARDED_BY(mu_);
};

class StatementNamesTest : public StoreFixture {
 protected:
  PgJobStore::Options StoreOptions(const std::string& url) override {
    PgJobStore::Options options = StoreFixture::StoreOptions(url);
    options.statement_observer = &counting_;
    return options;
  }
  // The store goes first: it holds counting_'s sinks.
  void TearDown() override { store_.reset(); }

  Counting counting_;
};

TEST_F(StatementNamesTest, TheObserverHearsEachRunByName) {
  const std::string id = Enqueue("c");
  ASSERT_TRUE(store_->GetJob(id, Deadline()).ok());
  EXPECT_EQ(counting_.runs("enqueue_keep_name", true), 1);
  EXPECT_EQ(counting_.runs("get_job", true), 1);
  EXPECT_EQ(counting_.runs("get_job", false), 0);
  // Each new connection of the pool is set up by one.
  EXPECT_GE(counting_.runs("session_settings", true), 1);
}

TEST_F(StatementNamesTest, AFailedStatementIsLoggedAndCountedByName) {
  testing::internal::CaptureStderr();
  absl::StatusOr<UpsertUserResult> user =
      store_->UpsertUser("not a phone number", "", Deadline());
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(user.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(log.find("jobqueue: database error kind=sql "
                     "statement=upsert_user sqlstate=23514"),
            std::string::npos)
      << log;
  EXPECT_EQ(counting_.runs("upsert_user", false), 1);
}

}  // namespace
}  // namespace jobqueue
