#include "service/handlers/token_turns.h"

#include "gtest/gtest.h"

namespace jobqueue {
namespace {

TEST(TokenTurnsTest, WaitersOfOneQueueTakeOneTokenEach) {
  TokenTurns turns;
  const absl::Time due = absl::Now() + absl::Milliseconds(20);
  const absl::Duration every = absl::Milliseconds(20);
  EXPECT_EQ(turns.Take({"sms"}, due, every), due);
  EXPECT_EQ(turns.Take({"sms"}, due, every), due + every);
  EXPECT_EQ(turns.Take({"sms"}, due, every), due + 2 * every);
  // Other queues have turns of their own.
  EXPECT_EQ(turns.Take({"sms", "default"}, due, every), due);
  EXPECT_EQ(turns.Take({"mail"}, due, every), due);
  // Once the turns taken are past, the token's own time again.
  const absl::Time later = due + absl::Seconds(1);
  EXPECT_EQ(turns.Take({"sms"}, later, every), later);
}

// A waiter that leaves before its turn gives it back: the next waiter
// takes it instead of a turn at the end of the line, so each token still
// has a claim of this process waiting for it.
TEST(TokenTurnsTest, ATurnGivenBackIsTakenByTheNextWaiter) {
  TokenTurns turns;
  const absl::Time due = absl::Now() + absl::Milliseconds(20);
  const absl::Duration every = absl::Milliseconds(20);
  turns.Take({"sms"}, due, every);
  const absl::Time second = turns.Take({"sms"}, due, every);
  turns.Take({"sms"}, due, every);
  turns.Give({"sms"}, second);
  EXPECT_EQ(turns.Take({"sms"}, due, every), second);
  EXPECT_EQ(turns.Take({"sms"}, due, every), due + 3 * every);
  // Another set of queues' turn is not this line's.
  turns.Give({"mail"}, second);
  EXPECT_EQ(turns.Take({"sms"}, due, every), due + 4 * every);
}

// A turn given back before the next token is due would find none: it is
// dropped, not handed on.
TEST(TokenTurnsTest, ATurnGivenBackBeforeTheTokenIsDropped) {
  TokenTurns turns;
  const absl::Time due = absl::Now() + absl::Milliseconds(20);
  const absl::Duration every = absl::Milliseconds(20);
  const absl::Time first = turns.Take({"sms"}, due, every);
  turns.Take({"sms"}, due, every);
  turns.Give({"sms"}, first);
  // Another process took the token: the next is due a token later.
  EXPECT_EQ(turns.Take({"sms"}, due + every, every), due + 2 * every);
}

}  // namespace
}  // namespace jobqueue
