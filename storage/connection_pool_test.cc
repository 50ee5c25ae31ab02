#include "storage/connection_pool.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

class ConnectionPoolTest : public PgTest {
 protected:
  ConnectionPoolTest() : PgTest(kEmpty) {}
};

int BackendPid(ConnectionPool::Lease& lease) {
  pqxx::nontransaction txn(lease.connection());
  return txn.exec1("SELECT pg_backend_pid()")[0].as<int>();
}

TEST_F(ConnectionPoolTest, ReusesAReturnedConnection) {
  ConnectionPool pool({.url = db_->url(), .max_size = 2});
  int first_pid;
  {
    auto lease = pool.Acquire(absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(lease.ok()) << lease.status();
    EXPECT_TRUE(lease->fresh());
    first_pid = BackendPid(*lease);
  }
  auto lease = pool.Acquire(absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(lease.ok());
  EXPECT_FALSE(lease->fresh());
  EXPECT_EQ(BackendPid(*lease), first_pid);
}

TEST_F(ConnectionPoolTest, WaitsNoLongerThanTheDeadlineWhenAllAreInUse) {
  ConnectionPool pool({.url = db_->url(), .max_size = 1});
  auto held = pool.Acquire(absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(held.ok());
  const absl::Time start = absl::Now();
  auto second = pool.Acquire(start + absl::Milliseconds(200));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(190));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST_F(ConnectionPoolTest, AWaiterGetsTheConnectionWhenItIsReturned) {
  ConnectionPool pool({.url = db_->url(), .max_size = 1});
  auto held = std::make_unique<ConnectionPool::Lease>(
      *pool.Acquire(absl::Now() + absl::Seconds(5)));
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(100));
    held.reset();
  });
  auto second = pool.Acquire(absl::Now() + absl::Seconds(5));
  releaser.join();
  EXPECT_TRUE(second.ok()) << second.status();
}

TEST_F(ConnectionPoolTest, ABrokenConnectionIsReplaced) {
  ConnectionPool pool({.url = db_->url(), .max_size = 1});
  int first_pid;
  {
    auto lease = pool.Acquire(absl::Now() + absl::Seconds(5));
    ASSERT_TRUE(lease.ok());
    first_pid = BackendPid(*lease);
    lease->MarkBroken();
  }
  auto lease = pool.Acquire(absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_TRUE(lease->fresh());
  EXPECT_NE(BackendPid(*lease), first_pid);
}

TEST_F(ConnectionPoolTest, UnreachableDatabaseIsUnavailable) {
  ConnectionPool pool(
      {.url = "postgresql://postgres@127.0.0.1:1/none", .max_size = 1});
  auto lease = pool.Acquire(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kUnavailable);
  // The failed attempt does not use up the pool's only slot.
  EXPECT_EQ(pool.Acquire(absl::Now() + absl::Seconds(5)).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ConnectionPoolTest, ClosedPoolRefuses) {
  ConnectionPool pool({.url = db_->url(), .max_size = 1});
  pool.Close();
  EXPECT_EQ(pool.Acquire(absl::Now() + absl::Seconds(1)).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ConnectionPoolTest, StatsCountLeasedIdleAndWaiting) {
  ConnectionPool pool({.url = db_->url(), .max_size = 1});
  EXPECT_EQ(pool.stats().max_size, 1);
  auto held = std::make_unique<ConnectionPool::Lease>(
      *pool.Acquire(absl::Now() + absl::Seconds(5)));
  EXPECT_EQ(pool.stats().in_use, 1);
  EXPECT_EQ(pool.stats().idle, 0);
  std::thread waiter(
      [&] { EXPECT_TRUE(pool.Acquire(absl::Now() + absl::Seconds(5)).ok()); });
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (pool.stats().waiting == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(pool.stats().waiting, 1);
  held.reset();
  waiter.join();
  EXPECT_EQ(pool.stats().waiting, 0);
  EXPECT_EQ(pool.stats().in_use, 0);
  EXPECT_EQ(pool.stats().idle, 1);
}

TEST_F(ConnectionPoolTest, EachPoolReportsOnlyItsOwnConnections) {
  ConnectionPool a({.url = db_->url(), .max_size = 2});
  ConnectionPool b({.url = db_->url(), .max_size = 3});
  auto lease = a.Acquire(absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(a.stats().in_use, 1);
  EXPECT_EQ(a.stats().max_size, 2);
  EXPECT_EQ(b.stats().in_use, 0);
  EXPECT_EQ(b.stats().max_size, 3);
}

// The pool's owner (PgJobStore) gives an on_connect that uses the owner. A
// connection abandoned by a timed-out Acquire goes on opening on its own
// thread; once the pool is destroyed (and the owner with it) that on_connect
// must have ended and must not start. Under ASan the old code read the freed
// PgJobStore here (job_queue_api_test).
TEST_F(ConnectionPoolTest, NoOnConnectRunsAfterThePoolIsDestroyed) {
  struct Shared {
    std::atomic<bool> pool_gone{false};
    std::atomic<bool> ran_after{false};
    std::atomic<bool> started{false};
  };
  auto shared = std::make_shared<Shared>();
  const absl::Time start = absl::Now();
  {
    ConnectionPool pool({.url = db_->url(),
                         .max_size = 1,
                         .on_connect = [shared](pqxx::connection& c) {
                           shared->started = true;
                           try {
                             pqxx::nontransaction(c).exec("SELECT pg_sleep(3)");
                           } catch (...) {
                           }
                           if (shared->pool_gone) shared->ran_after = true;
                         }});
    auto lease = pool.Acquire(absl::Now() + absl::Milliseconds(300));
    EXPECT_EQ(lease.status().code(), absl::StatusCode::kDeadlineExceeded)
        << lease.status();
    EXPECT_TRUE(shared->started);
  }
  shared->pool_gone = true;
  // The destructor cut the running on_connect short instead of waiting 3 s.
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  absl::SleepFor(absl::Seconds(3));
  EXPECT_FALSE(shared->ran_after);
}

}  // namespace
}  // namespace jobqueue
