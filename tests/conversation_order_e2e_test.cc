// Conversation order under concurrency, end to end: 32 conversations whose
// messages are fired a few milliseconds apart without waiting, through two
// jobqueue_server processes (each with its own pool and group commit, both
// running maintenance), while 8 workers (tests/fault/workload) claim from the
// start and pause past their leases, heartbeat, fail (an operator retries what
// fails for good), and try stale tokens. The fault suite's checker over the
// recorded history proves that no conversation ever had two jobs leased at
// once, that a message acknowledged before another was sent was handed out
// first, that no job completed twice and no stale call was answered OK; then
// every message must have completed.

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/fault/history.h"
#include "tests/fault/workload.h"
#include "tests/support/child_process.h"
#include "tests/support/in_process_server.h"
#include "tests/support/pg_fixture.h"

namespace jobqueue {
namespace {

using fault::Call;
using fault::History;

constexpr int kConversations = 32;
constexpr int kMessages = 8;
constexpr int kWorkers = 8;

class ConversationOrderE2eTest : public PgTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PgTest::SetUp());
    for (int i = 0; i < 2; ++i) {
      const std::string address = absl::StrCat("127.0.0.1:", UnusedTcpPort());
      auto server = fault::StartServer(RunfilePath("service/jobqueue_server"),
                                       db_->url(), address);
      ASSERT_TRUE(server.ok()) << server.status();
      servers_.push_back(std::move(*server));
      stubs_.push_back(v1::JobQueue::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
    }
  }

  // Jobs complete in the history (answered OK).
  static size_t Completed(const std::vector<Call>& calls) {
    std::set<std::string> done;
    for (const Call& c : calls) {
      if (c.kind == Call::kComplete && c.ok) done.insert(c.job_id);
    }
    return done.size();
  }

  std::vector<std::unique_ptr<ChildProcess>> servers_;
  std::vector<std::unique_ptr<v1::JobQueue::Stub>> stubs_;
};

TEST_F(ConversationOrderE2eTest, NoTwoAtOnceAndAcknowledgedOrderKept) {
  History history;
  std::atomic<bool> done{false};
  const absl::Time give_up = absl::Now() + absl::Seconds(90);
  std::vector<v1::JobQueue::Stub*> stubs = {stubs_[0].get(), stubs_[1].get()};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      // Few pauses: five lapsed leases in a row fail a job for good, and
      // every message must complete.
      fault::RunWorker(stubs,
                       {.name = absl::StrCat("w", w),
                        .seed = 1u + w,
                        .pause_percent = 4,
                        .fail_percent = 8},
                       give_up, done, history);
    });
  }

  // Each conversation's messages a few milliseconds apart, none waiting for
  // the one before, alternating servers; each recorded when answered.
  std::atomic<int> in_flight{0};
  for (int m = 0; m < kMessages; ++m) {
    for (int c = 0; c < kConversations; ++c) {
      struct Pending {
        grpc::ClientContext context;
        v1::EnqueueJobResponse response;
        Call call;
      };
      auto* pending = new Pending;
      pending->context.set_deadline(
          absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
      v1::EnqueueJobRequest r;
      r.set_user_phone("+15551234567");
      r.set_source_channel_id(absl::StrCat("conversation-", c));
      r.set_source_type(v1::SOURCE_TYPE_GROUP);
      pending->call = {.kind = Call::kEnqueue, .start = absl::Now()};
      pending->call.channel = r.source_channel_id();
      ++in_flight;
      stubs[(m + c) % 2]->async()->EnqueueJob(
          &pending->context, &r, &pending->response,
          [&, pending](grpc::Status s) {
            EXPECT_TRUE(s.ok()) << s.error_message();
            pending->call.end = absl::Now();
            pending->call.ok = s.ok();
            pending->call.returned_job_id = pending->response.job().id();
            history.Add(pending->call);
            delete pending;
            --in_flight;
          });
    }
    absl::SleepFor(absl::Milliseconds(3));
  }
  while (!done && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(100));
    done = Completed(history.Snapshot()) == kConversations * kMessages;
  }
  done = true;
  for (auto& t : workers) t.join();
  while (in_flight > 0) absl::SleepFor(absl::Milliseconds(10));

  const std::vector<Call> calls = history.Snapshot();
  const std::vector<std::string> problems = fault::CheckHistory(calls);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n");
  EXPECT_EQ(Completed(calls), kConversations * kMessages) << "timed out";
  std::set<std::string> complete;
  auto table = fault::JobsTable(db_->url(), &complete);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), kConversations * kMessages);
  EXPECT_EQ(complete.size(), kConversations * kMessages);
}

}  // namespace
}  // namespace jobqueue
