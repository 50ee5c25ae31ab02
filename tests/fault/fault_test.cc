// The fault suite: real jobqueue_server processes over a real PostgreSQL,
// under load, while the server is SIGKILLed, the database crashes
// (pg_ctl stop -m immediate, in a private cluster) or is paused (SIGSTOP),
// each scenario checked from its own recorded history (tests/fault/history.h)
// and the jobs table afterwards. Every loop is bounded in count and time.
//
// Elsewhere: a database that hangs behind a proxy (deadlines, threads,
// SIGTERM) is tests/hung_database_test.cc; the Twilio shim's outage and
// restart are tests/shim/twilio_shim_fault_test.cc.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <pqxx/pqxx>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/fault/history.h"
#include "tests/fault/private_postgres.h"
#include "tests/fault/stream_worker.h"
#include "tests/fault/workload.h"
#include "tests/support/child_process.h"
#include "tests/support/test_database.h"
#include "tests/support/time_budget.h"

namespace jobqueue::fault {
namespace {

std::string Server() { return RunfilePath("service/jobqueue_server"); }

std::unique_ptr<v1::JobQueue::Stub> StubFor(const std::string& address) {
  return v1::JobQueue::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

void ExpectClean(const std::vector<std::string>& problems) {
  EXPECT_TRUE(problems.empty()) << problems.size() << " violations:\n"
                                << absl::StrJoin(problems, "\n");
}

int Count(const std::vector<Call>& calls, Call::Kind kind, bool ok) {
  int n = 0;
  for (const Call& c : calls) n += c.kind == kind && c.ok == ok;
  return n;
}

// SIGKILL of the server, twice, while 32 callers enqueue with idempotency
// keys and retry ambiguous answers with the same key: every acknowledged job
// is in the table, and no key made two jobs. The load goes on until each
// restarted server has acknowledged an enqueue (at most until a hard cap).
TEST(FaultTest, ServerKilledWhileCallersEnqueue) {
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
  auto server = StartServer(Server(), (*db)->url(), address);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = StubFor(address);

  History history;
  std::atomic<bool> done{false};
  constexpr int kCallers = 32;
  const absl::Time cap = absl::Now() + TimeBudget(absl::Seconds(40));
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      RunEnqueuer({stub.get()},
                  {.name = absl::StrCat("caller", c),
                   .max_jobs = 100000,
                   .deadline = absl::Seconds(1),
                   .retry_for = absl::Seconds(15)},
                  cap, history, &done);
    });
  }
  std::vector<absl::Time> serving_again;
  for (int kill = 0; kill < 2; ++kill) {
    absl::SleepFor(absl::Seconds(2));
    ASSERT_TRUE((*server)->Signal(SIGKILL).ok());
    ASSERT_TRUE((*server)->Wait(absl::Seconds(5)).ok());
    absl::SleepFor(absl::Milliseconds(300));
    server = StartServer(Server(), (*db)->url(), address);
    ASSERT_TRUE(server.ok()) << server.status();
    serving_again.push_back(absl::Now());
  }
  const absl::Status progress =
      WaitForProgress(history, {.since = serving_again, .enqueues = 201}, cap);
  done = true;
  for (std::thread& t : callers) t.join();
  EXPECT_TRUE(progress.ok()) << progress.message();

  const std::vector<Call> calls = history.Snapshot();
  auto table = JobsTable((*db)->url());
  ASSERT_TRUE(table.ok()) << table.status();
  ExpectClean(CheckEnqueues(calls, *table));
  const int acked = Count(calls, Call::kEnqueue, true);
  const int failed = Count(calls, Call::kEnqueue, false);
  EXPECT_GT(failed, 0) << "the kills should have cut some calls";
  // How long after the new process said "serving on" the callers got an
  // answer again: the client channel's reconnect backoff, not the server.
  for (absl::Time t : serving_again) {
    absl::Time first = absl::InfiniteFuture();
    for (const Call& c : calls) {
      if (c.kind == Call::kEnqueue && c.ok && c.start >= t) {
        first = std::min(first, c.end);
      }
    }
    std::cout << "first enqueue answered " << (first - t)
              << " after the restarted server served\n";
  }
  std::cout << acked << " enqueues acknowledged, " << failed
            << " failed and retried; " << table->size() << " rows\n";
}

// PostgreSQL crashes (immediate stop: no checkpoint, backends killed) and
// comes back, twice, under enqueue and work load (unary and streaming
// workers; a stream outlives the crashes): nothing acknowledged is
// lost (enqueues and completions), the history stays clean, and the same
// server process serves again without a restart. The load goes on until an
// enqueue was acknowledged after each restart (at most until a hard cap),
// not for a fixed time a slow build may not reach the second restart in.
TEST(FaultTest, PostgresCrashesAndRestartsUnderLoad) {
  auto pg = PrivatePostgres::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto url = (*pg)->CreateMigratedDatabase("jobqueue");
  ASSERT_TRUE(url.ok()) << url.status();
  const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
  auto server = StartServer(Server(), *url, address);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = StubFor(address);

  History history;
  std::atomic<bool> done{false};
  const absl::Time cap = absl::Now() + TimeBudget(absl::Seconds(40));
  std::vector<std::thread> threads;
  for (int c = 0; c < 8; ++c) {
    threads.emplace_back([&, c] {
      RunEnqueuer({stub.get()},
                  {.name = absl::StrCat("e", c),
                   .conversations = 8,
                   .max_jobs = 100000,
                   .deadline = absl::Seconds(2),
                   .pause = absl::Milliseconds(20),
                   .retry_for = absl::Seconds(20)},
                  cap, history, &done);
    });
  }
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      RunWorker({stub.get()}, {.name = absl::StrCat("w", w), .seed = 100u + w},
                cap, done, history);
    });
  }
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      RunStreamWorker({stub.get()},
                      {.name = absl::StrCat("s", w),
                       .seed = 300u + w,
                       .max_outstanding = 2 + w},
                      cap, done, history);
    });
  }
  std::vector<absl::Time> restarted_at;
  for (int crash = 0; crash < 2; ++crash) {
    absl::SleepFor(absl::Seconds(2.5));
    ASSERT_TRUE((*pg)->Crash().ok());
    absl::SleepFor(absl::Milliseconds(700));
    absl::Status restarted = (*pg)->Restart();
    ASSERT_TRUE(restarted.ok()) << restarted;
    restarted_at.push_back(absl::Now());
  }
  const absl::Status progress = WaitForProgress(
      history, {.since = restarted_at, .enqueues = 101, .completions = 51},
      cap);
  done = true;
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(progress.ok()) << progress.message();

  // The same process serves again, within a bounded time.
  ASSERT_FALSE((*server)->Wait(absl::ZeroDuration()).ok())
      << "the server exited: " << (*server)->output();
  const absl::Time since_restart = absl::Now();
  bool served = false;
  for (int i = 0; i < 1000 && !served &&
                  absl::Now() < since_restart + TimeBudget(absl::Seconds(10));
       ++i) {
    History probe;
    served = RunEnqueuer({stub.get()},
                         {.name = absl::StrCat("probe", i),
                          .max_jobs = 1,
                          .deadline = absl::Seconds(1),
                          .retry_for = absl::ZeroDuration()},
                         absl::InfiniteFuture(), probe) == 1;
    if (!served) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(served) << "no enqueue succeeded within "
                      << TimeBudget(absl::Seconds(10)) << " of the restart";

  const std::vector<Call> calls = history.Snapshot();
  std::set<std::string> complete;
  auto table = JobsTable(*url, &complete);
  ASSERT_TRUE(table.ok()) << table.status();
  ExpectClean(CheckEnqueues(calls, *table));
  ExpectClean(CheckCompletions(calls, complete));
  ExpectClean(CheckHistory(calls));
  // How soon after each restart the server acknowledged an enqueue again
  // (its pool must notice the dead connections and reconnect).
  for (absl::Time restart : restarted_at) {
    absl::Time first = absl::InfiniteFuture();
    for (const Call& c : calls) {
      if (c.kind == Call::kEnqueue && c.ok && c.start >= restart) {
        first = std::min(first, c.end);
      }
    }
    EXPECT_LT(first - restart, TimeBudget(absl::Seconds(3)))
        << "the server took long to serve again after the database restart";
    std::cout << "served again " << (first - restart)
              << " after a database restart\n";
  }
  std::cout << Count(calls, Call::kEnqueue, true) << " enqueues and "
            << Count(calls, Call::kComplete, true)
            << " completions acknowledged across 2 crashes; "
            << Count(calls, Call::kEnqueue, false)
            << " enqueue attempts failed\n";
}

// The private database paused (SIGSTOP of the postmaster and every backend)
// for 3 s under load: every call ends by its deadline, the server's threads
// stay bounded, and once the database resumes the server serves again
// without a restart (the load goes on until it has, at most until a hard
// cap); SIGTERM then ends it within its grace. (The hung-proxy variant
// without the recovery is tests/hung_database_test.cc.)
TEST(FaultTest, PausedDatabaseThenItResumes) {
  auto pg = PrivatePostgres::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  auto url = (*pg)->CreateMigratedDatabase("jobqueue");
  ASSERT_TRUE(url.ok()) << url.status();
  const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
  auto server = StartServer(Server(), *url, address);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = StubFor(address);
  const ProcessUsage before = Usage((*server)->pid());

  History history;
  std::atomic<bool> done{false};
  const absl::Time cap = absl::Now() + TimeBudget(absl::Seconds(30));
  std::vector<std::thread> threads;
  for (int c = 0; c < 16; ++c) {
    threads.emplace_back([&, c] {
      RunEnqueuer({stub.get()},
                  {.name = absl::StrCat("e", c),
                   .max_jobs = 100000,
                   .deadline = absl::Seconds(1),
                   .pause = absl::Milliseconds(10),
                   .retry_for = absl::Seconds(15)},
                  cap, history, &done);
    });
  }
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      RunWorker({stub.get()},
                {.name = absl::StrCat("w", w),
                 .deadline = absl::Seconds(1),
                 .seed = 7u + w},
                cap, done, history);
    });
  }
  absl::SleepFor(absl::Seconds(1.5));
  ASSERT_TRUE((*pg)->Pause().ok());
  const absl::Time paused = absl::Now();
  int most_threads = 0;
  while (absl::Now() < paused + absl::Seconds(3)) {
    most_threads = std::max(most_threads, Usage((*server)->pid()).threads);
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE((*pg)->Resume().ok());
  const absl::Time resumed = absl::Now();
  const absl::Status progress =
      WaitForProgress(history, {.since = {resumed}}, cap);
  done = true;
  for (std::thread& t : threads) t.join();
  EXPECT_TRUE(progress.ok()) << "nothing was served after the database "
                                "resumed: "
                             << progress.message();

  const std::vector<Call> calls = history.Snapshot();
  absl::Duration longest;
  int acked_after = 0;
  for (const Call& c : calls) {
    longest = std::max(longest, c.end - c.start);
    acked_after += c.kind == Call::kEnqueue && c.ok && c.start > resumed;
  }
  // Deadlines are 1 s; ClaimJobs waits at most 200 ms inside that, and a
  // call needs 500 ms past it on a plain build to come back.
  EXPECT_LT(longest, absl::Seconds(1) + TimeBudget(absl::Milliseconds(500)))
      << "a call outlived its 1 s deadline by far";
  EXPECT_LT(most_threads, before.threads + 100)
      << "threads grew from " << before.threads << " to " << most_threads;
  auto table = JobsTable(*url);
  ASSERT_TRUE(table.ok()) << table.status();
  ExpectClean(CheckEnqueues(calls, *table));
  ExpectClean(CheckHistory(calls));

  const absl::Time term = absl::Now();
  ASSERT_TRUE((*server)->Signal(SIGTERM).ok());
  absl::StatusOr<int> code = (*server)->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.ok()) << "still running 15 s after SIGTERM";
  EXPECT_EQ(*code, 0);
  // The 2 s grace, and 2 s on a plain build to stop.
  EXPECT_LT(absl::Now() - term,
            absl::Seconds(2) + TimeBudget(absl::Seconds(2)));
  std::cout << "threads " << before.threads << " -> at most " << most_threads
            << "; longest call " << longest << "; " << acked_after
            << " enqueues acknowledged after the pause\n";
}

// 16 workers with 1 s leases over two server processes running lease rescue
// every 100 ms: random pauses (leases lapse), heartbeats, failures,
// operator retries and stale completions; beside them 4 workers over
// StreamJobs, each stream ended after a few jobs (one in five cancelled)
// with the jobs it still held handed back. The checker proves no job
// completed twice, no stale token answered OK, no conversation had two jobs
// leased at once, and each conversation's jobs went out in order.
TEST(FaultTest, SixteenWorkersWithShortLeasesKeepTheirPromises) {
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  std::vector<std::unique_ptr<ChildProcess>> servers;
  std::vector<std::unique_ptr<v1::JobQueue::Stub>> stubs;
  for (int i = 0; i < 2; ++i) {
    const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
    auto server = StartServer(Server(), (*db)->url(), address);
    ASSERT_TRUE(server.ok()) << server.status();
    servers.push_back(std::move(*server));
    stubs.push_back(StubFor(address));
  }
  std::vector<v1::JobQueue::Stub*> both = {stubs[0].get(), stubs[1].get()};

  History history;
  std::atomic<bool> done{false};
  // The workload is counted, not timed: each enqueuer stops after its 60
  // jobs (about 3 s), the workers once every job is complete or failed for
  // good. These bounds only end a run that stalls.
  const absl::Time enqueue_until = absl::Now() + TimeBudget(absl::Seconds(30));
  const absl::Time stop = absl::Now() + TimeBudget(absl::Seconds(45));
  std::vector<std::thread> workers;
  for (int w = 0; w < 16; ++w) {
    workers.emplace_back([&, w] {
      RunWorker(both, {.name = absl::StrCat("w", w), .seed = 1000u + w}, stop,
                done, history);
    });
  }
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      RunStreamWorker(both,
                      {.name = absl::StrCat("s", w),
                       .seed = 2000u + w,
                       .max_outstanding = 1 + w % 3},
                      stop, done, history);
    });
  }
  std::vector<std::thread> enqueuers;
  for (int c = 0; c < 4; ++c) {
    enqueuers.emplace_back([&, c] {
      RunEnqueuer(both,
                  {.name = absl::StrCat("e", c),
                   .conversations = 12,
                   .max_jobs = 60,
                   .pause = absl::Milliseconds(40)},
                  enqueue_until, history);
    });
  }
  for (std::thread& t : enqueuers) t.join();
  // Workers go on until every job is complete or failed for good.
  while (absl::Now() < stop) {
    auto table = JobsTable((*db)->url());
    ASSERT_TRUE(table.ok());
    pqxx::connection c((*db)->url());
    if (pqxx::nontransaction(c)
            .exec1("SELECT count(*) FROM jobs WHERE status IN "
                   "('pending', 'processing')")[0]
            .as<int>() == 0) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  done = true;
  for (std::thread& t : workers) t.join();

  const std::vector<Call> calls = history.Snapshot();
  std::set<std::string> complete;
  auto table = JobsTable((*db)->url(), &complete);
  ASSERT_TRUE(table.ok()) << table.status();
  ExpectClean(CheckHistory(calls));
  ExpectClean(CheckEnqueues(calls, *table));
  ExpectClean(CheckCompletions(calls, complete));
  // The checker is not vacuous on this very history: a completion answered
  // twice, or every refused completion answered OK instead, is flagged.
  std::vector<Call> forged = calls;
  for (const Call& c : calls) {
    if (c.kind == Call::kComplete && c.ok) {
      Call again = c;
      again.start += absl::Seconds(30);
      again.end += absl::Seconds(30);
      forged.push_back(again);
      break;
    }
  }
  EXPECT_FALSE(CheckHistory(forged).empty());
  forged = calls;
  for (Call& c : forged) {
    if (c.kind == Call::kComplete && !c.ok && !c.ambiguous) c.ok = true;
  }
  EXPECT_FALSE(CheckHistory(forged).empty());
  int stale_refused = 0;
  for (const Call& c : calls) {
    stale_refused += (c.kind == Call::kComplete || c.kind == Call::kFail) &&
                     !c.ok && !c.ambiguous;
  }
  // The stream workers took part: completions, handed-back leases, and a
  // stale item refused.
  int streamed = 0, stream_refused = 0;
  for (const Call& c : calls) {
    if (c.worker.empty() || c.worker[0] != 's') continue;
    streamed += c.kind == Call::kComplete && c.ok;
    stream_refused += (c.kind == Call::kComplete || c.kind == Call::kFail) &&
                      !c.ok && !c.ambiguous;
  }
  EXPECT_GT(streamed, 20) << "the stream workers completed little";
  EXPECT_GT(
      Count(calls, Call::kRelease, false) + Count(calls, Call::kRelease, true),
      0)
      << "no stream ended holding a job";
  EXPECT_GT(stream_refused, 0) << "no stale item was sent over a stream";
  EXPECT_GT(Count(calls, Call::kComplete, true), 100);
  EXPECT_GT(stale_refused, 5) << "the stale calls were not exercised";
  EXPECT_GT(Count(calls, Call::kExtend, true), 10);
  std::cout << calls.size() << " calls; " << Count(calls, Call::kComplete, true)
            << " completions, " << stale_refused << " stale calls refused, "
            << Count(calls, Call::kExtend, true) << " heartbeats, "
            << Count(calls, Call::kRetry, true) << " retries; " << streamed
            << " completions over streams, "
            << Count(calls, Call::kRelease, true) +
                   Count(calls, Call::kRelease, false)
            << " leases handed back by a stream's end; " << complete.size()
            << "/" << table->size() << " complete\n";
}

}  // namespace
}  // namespace jobqueue::fault
