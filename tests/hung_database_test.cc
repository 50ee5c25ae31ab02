// jobqueue_server against a database that stops answering (a proxy that
// passes no more bytes): every call ends by its deadline on the server, the
// server's threads stay bounded, and SIGTERM ends it within its grace.

#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/pg_fixture.h"
#include "tests/support/stall_proxy.h"

namespace jobqueue {
namespace {

int ThreadCount(pid_t pid) {
  DIR* dir = opendir(absl::StrCat("/proc/", pid, "/task").c_str());
  if (dir == nullptr) return 0;
  int n = 0;
  while (dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

grpc::Status Enqueue(v1::JobQueue::Stub& stub, absl::Duration timeout, int n) {
  v1::EnqueueJobRequest r;
  r.set_user_phone("+15551234567");
  r.set_source_channel_id(absl::StrCat("c", n % 16));
  r.set_source_type(v1::SOURCE_TYPE_DM);
  r.set_idempotency_key(absl::StrCat("key-", n));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::EnqueueJobResponse response;
  return stub.EnqueueJob(&context, r, &response);
}

// The longest server-side duration among the request log's EnqueueJob lines.
double LongestEnqueueMs(const std::string& log, int* lines) {
  double longest = 0;
  *lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (line.find("method=EnqueueJob") == absl::string_view::npos) continue;
    const size_t at = line.find(" ms=");
    if (at == absl::string_view::npos) continue;
    double ms = 0;
    absl::string_view rest = line.substr(at + 4);
    if (absl::SimpleAtod(rest.substr(0, rest.find(' ')), &ms)) {
      longest = std::max(longest, ms);
      ++*lines;
    }
  }
  return longest;
}

using HungDatabaseTest = PgTest;

TEST_F(HungDatabaseTest, CallsEndByTheirDeadlineAndSigtermEndsInTime) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(HostAndPort(url(), &host, &port)) << url();
  auto proxy =
      StallProxy::Start(host == "localhost" ? "127.0.0.1" : host, port);
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
  auto server = ChildProcess::Start(
      RunfilePath("service/jobqueue_server"),
      {"serve",
       "--database_url=" +
           WithHostAndPort(url(), "127.0.0.1", (*proxy)->port()),
       "--listen=" + address, "--metrics_listen=", "--log_requests=all",
       "--shutdown_grace=2s"});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->WaitForOutput("serving on", absl::Seconds(20)))
      << (*server)->output();
  auto stub = v1::JobQueue::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(Enqueue(*stub, absl::Seconds(10), i).ok());
  }
  // The server logs a call after answering it: wait for the 16 lines so none
  // of them lands among the stalled calls' lines.
  int warm_lines = 0;
  for (const absl::Time until = absl::Now() + absl::Seconds(10);
       absl::Now() < until; absl::SleepFor(absl::Milliseconds(20))) {
    LongestEnqueueMs((*server)->output(), &warm_lines);
    if (warm_lines >= 16) break;
  }
  ASSERT_EQ(warm_lines, 16) << (*server)->output();
  const int before = ThreadCount((*server)->pid());
  const size_t log_before = (*server)->output().size();

  (*proxy)->Stall();
  constexpr int kCallers = 64;
  const absl::Time stop_at = absl::Now() + absl::Seconds(4);
  std::atomic<int> calls{0}, ok{0};
  std::atomic<int> most_threads{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int i = 0; absl::Now() < stop_at && i < 20; ++i) {
        ok += Enqueue(*stub, absl::Seconds(1), 1000 * (c + 1) + i).ok();
        ++calls;
      }
    });
  }
  while (absl::Now() < stop_at) {
    most_threads = std::max(most_threads.load(), ThreadCount((*server)->pid()));
    absl::SleepFor(absl::Milliseconds(100));
  }
  for (std::thread& t : callers) t.join();
  absl::SleepFor(absl::Milliseconds(1500));  // the last handlers finish

  int lines = 0;
  const double longest =
      LongestEnqueueMs((*server)->output().substr(log_before), &lines);
  EXPECT_EQ(ok, 0) << "a call succeeded against a database that hangs";
  EXPECT_EQ(lines, calls.load())
      << "calls still running on the server after their deadline";
  EXPECT_LT(longest, 1600) << "a call ran " << longest
                           << " ms on the server; its deadline was 1000 ms";
  EXPECT_LT(most_threads, before + kCallers + 100)
      << "threads grew from " << before << " to " << most_threads;

  // Calls with long deadlines are in flight when SIGTERM comes.
  std::vector<std::thread> long_calls;
  for (int i = 0; i < 8; ++i) {
    long_calls.emplace_back([&, i] {
      Enqueue(*stub, absl::Seconds(30), 900000 + i).IgnoreError();
    });
  }
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time term = absl::Now();
  ASSERT_TRUE((*server)->Signal(SIGTERM).ok());
  absl::StatusOr<int> code = (*server)->Wait(absl::Seconds(15));
  ASSERT_TRUE(code.ok()) << "still running 15 s after SIGTERM";
  EXPECT_EQ(*code, 0) << (*server)->output().substr(log_before);
  EXPECT_LT(absl::Now() - term, absl::Seconds(5))
      << "SIGTERM took longer than the 2 s grace plus a little";
  for (std::thread& t : long_calls) t.join();
  (*proxy)->Resume();
}

}  // namespace
}  // namespace jobqueue
