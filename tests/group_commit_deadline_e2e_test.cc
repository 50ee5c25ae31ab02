// One caller's short deadline does not fail the others in its group commit,
// over real gRPC and PostgreSQL: an EnqueueJob with 30 s to go that shares a
// batch with one that has 200 ms, while the database is slow (a transaction
// holds their conversation's row), is answered OK and its job is written
// once; the impatient one gets DEADLINE_EXCEEDED at its own deadline.

#include <grpcpp/grpcpp.h>

#include <future>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/lock_waiters.h"
#include "tests/support/server_fixture.h"
#include "tests/support/time_budget.h"

namespace jobqueue {
namespace {

// An EnqueueJob without an idempotency key, on its own thread.
std::future<grpc::Status> Enqueue(v1::JobQueue::Stub& stub,
                                  const std::string& channel,
                                  const std::string& who,
                                  absl::Duration timeout) {
  v1::EnqueueJobRequest request;
  request.set_user_phone("+15551234567");
  request.set_source_channel_id(channel);
  request.set_source_type(v1::SOURCE_TYPE_DM);
  (*request.mutable_payload()->mutable_fields())["who"].set_string_value(who);
  auto context = CallContext(timeout);
  return std::async(std::launch::async,
                    [&stub, request, context = std::move(context)] {
                      v1::EnqueueJobResponse response;
                      return stub.EnqueueJob(context.get(), request, &response);
                    });
}

using GroupCommitDeadlineTest = ServerTest;

TEST_F(GroupCommitDeadlineTest, AShortDeadlineInTheBatchFailsOnlyItsOwnCall) {
  const absl::Duration patient = TimeBudget(absl::Seconds(30));
  for (const char* channel : {"hold", "slow"}) {
    ASSERT_TRUE(Enqueue(*stub_, channel, "seed", patient).get().ok());
  }

  // Two batches stuck on the "hold" row take both of the server's batch
  // slots (GroupCommitOptions' max_in_flight), so the next callers share a
  // batch.
  RowLock hold(url(), ConversationRow("hold"));
  RowLock slow(url(), ConversationRow("slow"));
  std::vector<std::future<grpc::Status>> blockers;
  for (int i = 0; i < 2; ++i) {
    blockers.push_back(Enqueue(*stub_, "hold", "blocker", patient));
  }
  const absl::Status stuck_on_lock = WaitForLockWaiters(url(), 2);
  ASSERT_TRUE(stuck_on_lock.ok()) << stuck_on_lock;

  // The impatient caller joins first, so that it led the batch before the
  // fix; these pauses order the calls and give no outcome any more time.
  const absl::Time start = absl::Now();
  auto impatient =
      Enqueue(*stub_, "slow", "impatient", absl::Milliseconds(200));
  absl::SleepFor(absl::Milliseconds(50));
  auto calm = Enqueue(*stub_, "slow", "patient", patient);
  absl::SleepFor(absl::Milliseconds(50));
  hold.Release();  // the batch of both is sent, and waits for "slow"

  const grpc::Status short_status = impatient.get();
  EXPECT_EQ(short_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << short_status.error_message();
  EXPECT_LT(absl::Now() - start, TimeBudget(absl::Seconds(2)));
  slow.Release();
  for (auto& blocker : blockers) EXPECT_TRUE(blocker.get().ok());
  const grpc::Status long_status = calm.get();
  EXPECT_TRUE(long_status.ok())
      << long_status.error_code() << ": " << long_status.error_message();
  EXPECT_EQ(SqlInt("SELECT count(*) FROM jobs "
                   "WHERE payload->>'who' = 'patient'"),
            1);
}

}  // namespace
}  // namespace jobqueue
