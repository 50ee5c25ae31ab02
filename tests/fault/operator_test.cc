// An operator's SQL beside a loaded queue: while enqueuers and 16 workers
// run against two jobqueue_server replicas (retries back off 60 s), another
// session holds conversation and job rows in open transactions (some past
// the servers' lock timeout), keeps a REPEATABLE READ snapshot open, pushes
// heads' run_after later and back to now, and deletes and fails heads. Then,
// while an open transaction holds one conversation whose head's lease has
// lapsed, the operator sets run_after to now (after an outage, say): every
// other conversation drains before any backoff would have ended, and the
// held one once the transaction ends. The recorded history
// (tests/fault/history.h), with each removal in it, stays clean: single
// delivery, no stale token answered OK, one job per conversation at a time,
// acknowledged order; and the counts return to zero. Every loop is bounded
// in count and time.

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/fault/history.h"
#include "tests/fault/workload.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue::fault {
namespace {

constexpr int kConversations = 16;

// The head (pending or processing job with the lowest position) of
// conversation `channel`, as a subquery.
std::string Head(const std::string& channel) {
  return absl::StrCat(
      "(SELECT id FROM jobs WHERE source_channel_id = '", channel,
      "' AND status IN ('pending', 'processing') ORDER BY position LIMIT 1)");
}

// What the operator did, by action.
using Tally = std::map<std::string, int>;

// Operator action `action` (0 to 5) on a random conversation; removals go
// into `history`.
// Every pending job due now, as an operator would after an outage; recorded,
// since it cuts snoozes short.
void MakeAllDue(pqxx::connection& c, History& history) {
  Call call{.kind = Call::kMakeDue, .start = absl::Now(), .worker = "sql"};
  pqxx::nontransaction(c).exec(
      "UPDATE jobs SET run_after = now()"
      " WHERE status = 'pending' AND run_after > now()");
  call.end = absl::Now();
  call.ok = true;
  history.Add(call);
}

void Act(int action, pqxx::connection& c, std::mt19937& random,
         History& history, Tally& tally) {
  const std::string channel = absl::StrCat("fault-", random() % kConversations);
  const std::string active = "status IN ('pending', 'processing')";
  switch (action) {
    case 0: {  // holds the conversation's row, sometimes past lock_timeout
      pqxx::work hold(c);
      hold.exec(absl::StrCat(
          "SELECT 1 FROM conversations WHERE source_channel_id = '", channel,
          "' FOR UPDATE"));
      absl::SleepFor(random() % 4 == 0 ? absl::Milliseconds(2500)
                                       : absl::Milliseconds(600));
      hold.commit();
      ++tally["held a conversation row"];
      return;
    }
    case 1: {  // an open transaction that touched one job
      pqxx::work touch(c);
      touch.exec(
          absl::StrCat("UPDATE jobs SET last_error = 'operator note'"
                       " WHERE id = ",
                       Head(channel)));
      absl::SleepFor(absl::Milliseconds(800));
      touch.commit();
      ++tally["held a job row"];
      return;
    }
    case 2:
      pqxx::nontransaction(c).exec(absl::StrCat(
          "UPDATE jobs SET run_after = now() + interval '2 seconds'"
          " WHERE id = ",
          Head(channel), " AND status = 'pending'"));
      ++tally["pushed run_after later"];
      return;
    case 3:
      MakeAllDue(c, history);
      ++tally["set run_after to now"];
      return;
    default: {  // deletes or fails the head, pending or processing
      const bool remove = random() % 2 == 0;
      Call call{.kind = Call::kRemove, .start = absl::Now(), .worker = "sql"};
      pqxx::result r = pqxx::nontransaction(c).exec(
          remove
              ? absl::StrCat("DELETE FROM jobs WHERE id = ", Head(channel),
                             " AND ", active, " RETURNING id")
              : absl::StrCat("UPDATE jobs SET status = 'failed',"
                             " lease_token = NULL, lease_expires_at = NULL"
                             " WHERE id = ",
                             Head(channel), " AND ", active, " RETURNING id"));
      call.end = absl::Now();
      if (r.empty()) return;
      call.ok = true;
      call.job_id = r[0][0].as<std::string>();
      history.Add(call);
      ++tally[remove ? "deleted a head" : "failed a head"];
      return;
    }
  }
}

using OperatorTest = PgTest;

TEST_F(OperatorTest, AnOperatorsSqlBesideSixteenWorkers) {
  const std::string url = db_->url();
  std::vector<std::unique_ptr<ChildProcess>> servers;
  std::vector<std::unique_ptr<v1::JobQueue::Stub>> stubs;
  for (int s = 0; s < 2; ++s) {
    const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
    auto server = StartServer(RunfilePath("service/jobqueue_server"), url,
                              address, {"--retry_base_delay=60s"});
    ASSERT_TRUE(server.ok()) << server.status();
    servers.push_back(*std::move(server));
    stubs.push_back(v1::JobQueue::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
  }
  std::vector<v1::JobQueue::Stub*> both = {stubs[0].get(), stubs[1].get()};

  // A dump's snapshot, held for the whole run.
  pqxx::connection dump_connection(url);
  pqxx::work dump(dump_connection, "pg_dump");
  dump.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
  dump.exec("SELECT count(*) FROM jobs");

  History history;
  std::atomic<bool> done{false};
  const absl::Time stop = absl::Now() + absl::Seconds(12);
  std::vector<std::thread> load;
  for (int e = 0; e < 4; ++e) {
    load.emplace_back([&, e] {
      RunEnqueuer(both,
                  {.name = absl::StrCat("e", e),
                   .conversations = kConversations,
                   .max_jobs = 400,
                   .deadline = absl::Seconds(5),
                   .pause = absl::Milliseconds(15)},
                  stop, history);
    });
  }
  // Workers run until the drain below ends (done), within 3 minutes.
  std::vector<std::thread> workers;
  for (int w = 0; w < 16; ++w) {
    workers.emplace_back([&, w] {
      RunWorker(both,
                {.name = absl::StrCat("w", w),
                 .deadline = absl::Seconds(5),
                 .seed = 300u + w,
                 .pause_percent = 4},
                stop + absl::Seconds(180), done, history);
    });
  }
  Tally tally;
  load.emplace_back([&] {
    pqxx::connection c(url);
    std::mt19937 random(19);
    for (int i = 0; i < 400 && absl::Now() < stop; ++i) {
      Act(i % 6, c, random, history, tally);
      absl::SleepFor(absl::Milliseconds(50 + random() % 100));
    }
  });
  for (std::thread& t : load) t.join();
  dump.abort();
  std::cout << "load ended; holding conversation 'held'" << std::endl;

  // A conversation an open transaction holds, whose head's lease lapsed
  // (its worker is gone), with jobs behind it; written by plain SQL.
  pqxx::connection c(url);
  pqxx::nontransaction(c).exec(
      "INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone,"
      " payload, status, attempts, lease_token, lease_expires_at, worker_id)"
      " VALUES ('+15551234567', 'held', 'dm', '+15551234567', '{}',"
      " 'processing', 1, gen_random_uuid(), now() - interval '1 second',"
      " 'gone')");
  pqxx::nontransaction(c).exec(
      "INSERT INTO jobs (user_id, source_channel_id, source_type, user_phone,"
      " payload) SELECT '+15551234567', 'held', 'dm', '+15551234567', '{}'"
      " FROM generate_series(1, 3)");
  pqxx::connection operator_connection(url);
  pqxx::work held(operator_connection);
  held.exec(
      "UPDATE jobs SET status = 'failed' WHERE id = (SELECT id FROM jobs"
      " WHERE source_channel_id = 'held' ORDER BY position DESC LIMIT 1)");

  // Every other conversation drains within 50 s, less than one backoff
  // (a budget that holds under the sanitizers' slowdown),
  // while the operator sets run_after to now twice a second.
  const std::string others_left =
      "SELECT count(*) FROM jobs WHERE status IN ('pending', 'processing')"
      " AND source_channel_id <> 'held'";
  const absl::Time others_by = absl::Now() + absl::Seconds(50);
  while (SqlInt(others_left) > 0 && absl::Now() < others_by) {
    MakeAllDue(c, history);
    absl::SleepFor(absl::Milliseconds(500));
  }
  const std::string waiting =
      "SELECT count(*) || ' jobs, the first: ' || coalesce(string_agg("
      "source_channel_id || ' ' || status || ' ' || run_after || ' position '"
      " || position || ' lease ' || coalesce(lease_expires_at::text, '-') ||"
      " ' worker ' || coalesce(worker_id, '-') || ' attempts ' || attempts ||"
      " ' (conversation: ' || c::text || ')', ', ')"
      " FILTER (WHERE n <= 20), '') || '; clock: ' || (SELECT k::text FROM"
      " conversation_clock k) || '; now ' || now() FROM (SELECT j.*,"
      " row_number() OVER (ORDER BY j.source_channel_id, j.position) AS n"
      " FROM jobs j WHERE status IN ('pending', 'processing')) w"
      " LEFT JOIN conversations c USING (source_channel_id)";
  EXPECT_EQ(SqlInt(others_left), 0)
      << "while one conversation was held, others did not drain in 50 s:\n"
      << pqxx::nontransaction(c).exec1(waiting)[0].c_str();
  if (SqlInt(others_left) > 0) {
    for (const auto& server : servers) {
      const std::string out = server->output();
      std::cout << "server output (last 3000 bytes):\n"
                << out.substr(out.size() > 3000 ? out.size() - 3000 : 0)
                << "\n";
    }
  }
  held.commit();
  std::cout << "others drained; 'held' released" << std::endl;

  // Then the held one too.
  const std::string left =
      "SELECT count(*) FROM jobs WHERE status IN ('pending', 'processing')";
  const absl::Time drain_by = absl::Now() + absl::Seconds(30);
  while (SqlInt(left) > 0 && absl::Now() < drain_by) {
    MakeAllDue(c, history);
    absl::SleepFor(absl::Milliseconds(200));
  }
  std::cout << "drained; stopping the workers" << std::endl;
  done = true;
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(SqlInt(left), 0)
      << "jobs still waiting 30 s after the transaction ended:\n"
      << pqxx::nontransaction(c).exec1(waiting)[0].c_str();
  EXPECT_EQ(SqlInt("SELECT count(*) FROM conversations"
                   " WHERE pending_jobs <> 0 OR processing_jobs <> 0"),
            0)
      << "counts drifted";

  const std::vector<Call> calls = history.Snapshot();
  std::set<std::string> complete;
  auto table = JobsTable(url, &complete);
  ASSERT_TRUE(table.ok()) << table.status();
  for (const auto& problems :
       {CheckHistory(calls), CheckCompletions(calls, complete)}) {
    EXPECT_TRUE(problems.empty()) << problems.size() << " violations:\n"
                                  << absl::StrJoin(problems, "\n");
  }
  // Deleted jobs are gone from the table: check enqueues against it with
  // them put back.
  for (const Call& call : calls) {
    if (call.kind == Call::kRemove) table->emplace(call.job_id, "");
  }
  std::vector<std::string> enqueues = CheckEnqueues(calls, *table);
  EXPECT_TRUE(enqueues.empty()) << absl::StrJoin(enqueues, "\n");

  int completions = 0;
  for (const Call& call : calls) completions += call.kind == Call::kComplete;
  EXPECT_GT(completions, 200);
  EXPECT_GE(tally["deleted a head"] + tally["failed a head"], 3);
  EXPECT_GT(tally["held a conversation row"], 3);
  std::cout << calls.size() << " calls, " << completions
            << " completions; the operator:";
  for (const auto& [action, n] : tally) std::cout << " " << action << " " << n;
  std::cout << "\n";
}

}  // namespace
}  // namespace jobqueue::fault
