// The checker flags each kind of bad history, and passes a good one.

#include "tests/fault/history.h"

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobqueue::fault {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);
absl::Time T(int ms) { return kT0 + absl::Milliseconds(ms); }

Call Enqueue(int start, int end, const std::string& channel,
             const std::string& job, const std::string& key = "") {
  Call c{.kind = Call::kEnqueue, .start = T(start), .end = T(end), .ok = true};
  c.channel = channel;
  c.key = key;
  c.returned_job_id = job;
  return c;
}

Call Claim(int start, int end, const std::string& worker,
           std::vector<Lease> leases) {
  Call c{.kind = Call::kClaim, .start = T(start), .end = T(end), .ok = true};
  c.worker = worker;
  c.leases = std::move(leases);
  return c;
}

Lease L(const std::string& job, const std::string& channel,
        const std::string& token, int expires) {
  return {job, channel, token, T(expires)};
}

Call Use(Call::Kind kind, int start, int end, const std::string& job,
         const std::string& token, bool ok) {
  Call c{.kind = kind, .start = T(start), .end = T(end), .ok = ok};
  c.job_id = job;
  c.token = token;
  return c;
}

// Two jobs of one conversation, handed out one after the other, with a
// lapsed lease, a heartbeat and a stale completion refused.
std::vector<Call> Good() {
  return {
      Enqueue(0, 5, "c", "j1"),
      Enqueue(10, 15, "c", "j2"),
      Claim(20, 25, "w1", {L("j1", "c", "t1", 1020)}),
      Use(Call::kExtend, 500, 505, "j1", "t1", true),
      // the lease (extended to 1500) lapses; w2 gets j1 again
      Claim(1600, 1605, "w2", {L("j1", "c", "t2", 2600)}),
      Use(Call::kComplete, 1700, 1705, "j1", "t1", false),  // stale: refused
      Use(Call::kComplete, 1710, 1715, "j1", "t2", true),
      Claim(1720, 1725, "w1", {L("j2", "c", "t3", 2720)}),
      Use(Call::kFail, 1800, 1805, "j2", "t3", true),
      Use(Call::kRetry, 1810, 1815, "j2", "", true),
      Claim(1820, 1825, "w1", {L("j2", "c", "t4", 2820)}),
      Use(Call::kComplete, 1900, 1905, "j2", "t4", true),
  };
}

void SetExtendExpiry(std::vector<Call>& h) { h[3].expires = T(1500); }

TEST(HistoryTest, AGoodHistoryPasses) {
  std::vector<Call> h = Good();
  SetExtendExpiry(h);
  EXPECT_THAT(CheckHistory(h), IsEmpty())
      << absl::StrJoin(CheckHistory(h), "\n");
}

TEST(HistoryTest, FlagsAJobCompletedTwice) {
  std::vector<Call> h = Good();
  SetExtendExpiry(h);
  h.push_back(Claim(2000, 2005, "w3", {L("j1", "c", "t9", 3000)}));
  h.push_back(Use(Call::kComplete, 2010, 2015, "j1", "t9", true));
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("job j1 completed 2 times"));
}

TEST(HistoryTest, FlagsAStaleTokenAnsweredOk) {
  std::vector<Call> h = Good();
  SetExtendExpiry(h);
  h[5].ok = true;  // w1's completion after w2's claim
  const std::string problems = absl::StrJoin(CheckHistory(h), "\n");
  EXPECT_THAT(problems, HasSubstr("answered OK with stale token t1"));
}

TEST(HistoryTest, FlagsATokenUsedAfterItsCompletion) {
  std::vector<Call> h = Good();
  SetExtendExpiry(h);
  h.push_back(Use(Call::kFail, 1950, 1955, "j2", "t4", true));
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("already used up"));
}

TEST(HistoryTest, FlagsATokenNoClaimHandedOut) {
  std::vector<Call> h = Good();
  SetExtendExpiry(h);
  h.push_back(Use(Call::kExtend, 1950, 1955, "j2", "forged", true));
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("a token no claim handed out"));
}

TEST(HistoryTest, FlagsTwoJobsOfAConversationLeasedAtOnce) {
  std::vector<Call> h = {
      Enqueue(0, 5, "c", "j1"),
      Enqueue(0, 6, "c", "j2"),  // concurrent: no order between them
      Claim(20, 25, "w1", {L("j1", "c", "t1", 1020)}),
      Claim(30, 35, "w2", {L("j2", "c", "t2", 1030)}),
  };
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("was claimed by w2"));
  // The same, once j1's completion began before j2's claim ended: fine.
  h.push_back(Use(Call::kComplete, 26, 40, "j1", "t1", true));
  EXPECT_THAT(CheckHistory(h), IsEmpty());
}

// A claim answered after its lease ended (a push read late) proves no
// lease held then; one answered in time does.
TEST(HistoryTest, AnAnswerThatCameAfterItsLeaseEndedHoldsNothing) {
  std::vector<Call> h = {
      Enqueue(0, 5, "c", "j1"),
      Enqueue(0, 6, "c", "j2"),
      Claim(20, 1500, "s1", {L("j2", "c", "t2", 1020)}),
      Claim(1100, 1105, "w1", {L("j1", "c", "t1", 2100)}),
  };
  EXPECT_THAT(CheckHistory(h), IsEmpty());
  h[2] = Claim(20, 1500, "s1", {L("j2", "c", "t2", 1600)});
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("was claimed by s1"));
}

// Unordered jobs ("" conversation) and another queue's conversation of the
// same channel run beside a leased head; the same queue's next job may not.
TEST(HistoryTest, UnorderedJobsAndOtherQueuesRunBesideAHead) {
  std::vector<Call> h = {
      Enqueue(0, 5, "default c", "j1"),
      Enqueue(10, 15, "", "u1"),
      Enqueue(20, 25, "media c", "m1"),
      Enqueue(30, 35, "default c", "j2"),
      Claim(40, 45, "w1", {L("j1", "default c", "t1", 1040)}),
      Claim(50, 55, "w2",
            {L("u1", "", "t2", 1050), L("m1", "media c", "t3", 1050)}),
  };
  EXPECT_THAT(CheckHistory(h), IsEmpty());
  h.push_back(Claim(60, 65, "w3", {L("j2", "default c", "t4", 1060)}));
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("conversation default c: job j2 was claimed by w3"));
}

TEST(HistoryTest, AnExtendedLeaseCountsUntilItsNewExpiry) {
  std::vector<Call> h = Good();
  SetExtendExpiry(h);
  h[4] = Claim(1400, 1405, "w2", {L("j1", "c", "t2", 2400)});
  // j2 of the same conversation claimed while j1 is leased to w1 (to 1500).
  h.push_back(Claim(1410, 1420, "w3", {L("j2", "c", "t8", 2400)}));
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("while job j1 was leased"));
}

TEST(HistoryTest, AnAmbiguousCompletionMayHaveEndedTheLease) {
  std::vector<Call> h = {
      Enqueue(0, 5, "c", "j1"),
      Enqueue(0, 6, "c", "j2"),
      Claim(20, 25, "w1", {L("j1", "c", "t1", 1020)}),
      Use(Call::kComplete, 26, 1026, "j1", "t1", false),
      Claim(30, 35, "w2", {L("j2", "c", "t2", 1030)}),
  };
  EXPECT_THAT(CheckHistory(h), SizeIs(1));
  h[3].ambiguous = true;
  EXPECT_THAT(CheckHistory(h), IsEmpty());
}

TEST(HistoryTest, FlagsAJobThatOvertookOneAcknowledgedBeforeIt) {
  std::vector<Call> h = {
      Enqueue(0, 5, "c", "j1"),
      Enqueue(10, 15, "c", "j2"),
      Claim(20, 25, "w1", {L("j2", "c", "t2", 1020)}),
      Use(Call::kComplete, 30, 35, "j2", "t2", true),
      Claim(40, 45, "w1", {L("j1", "c", "t1", 1040)}),
  };
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("job j2 was handed out before job j1"));
  // Overlapping enqueues promise no order.
  h[1] = Enqueue(3, 15, "c", "j2");
  EXPECT_THAT(CheckHistory(h), IsEmpty());
}

// A claim whose answer was lost may have handed out, unseen, only jobs whose
// enqueue began before it ended: order stays judged for every later job.
TEST(HistoryTest, ALostClaimAnswerExcusesOnlyJobsItCouldHaveSeen) {
  Call lost{
      .kind = Call::kClaim, .start = T(1), .end = T(8), .ambiguous = true};
  std::vector<Call> h = {
      lost,
      Enqueue(10, 15, "c", "j1"),
      Enqueue(20, 25, "c", "j2"),
      Claim(30, 35, "w1", {L("j2", "c", "t2", 1030)}),
      Use(Call::kComplete, 40, 45, "j2", "t2", true),
  };
  // j1 was never handed out, and no lost claim could have had it.
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("job j2 was handed out before job j1"));
  // A lost claim that ended after j1's enqueue began may have leased j1 unseen
  // (and j1 then failed for good once its attempts ran out).
  h[0].end = T(12);
  EXPECT_THAT(CheckHistory(h), IsEmpty());
}

// An operator's SQL that deleted or failed a job took it out of its
// conversation's line and ended its lease, no earlier than it began.
TEST(HistoryTest, AJobRemovedBySqlLeavesTheLineAndEndsItsLease) {
  Call remove{.kind = Call::kRemove, .start = T(20), .end = T(22), .ok = true};
  remove.job_id = "j1";
  std::vector<Call> h = {
      Enqueue(0, 5, "c", "j1"),
      Enqueue(10, 15, "c", "j2"),
      remove,
      Claim(30, 35, "w1", {L("j2", "c", "t2", 1030)}),
  };
  EXPECT_THAT(CheckHistory(h), IsEmpty());
  // Handed out before the removal began: still an overtaking.
  h[3] = Claim(16, 19, "w1", {L("j2", "c", "t2", 1016)});
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("job j2 was handed out before job j1"));

  // j1 leased, then removed while leased: j2 may go once the removal began.
  h = {
      Enqueue(0, 5, "c", "j1"),
      Enqueue(10, 15, "c", "j2"),
      Claim(16, 18, "w1", {L("j1", "c", "t1", 1016)}),
      remove,
      Claim(30, 35, "w2", {L("j2", "c", "t2", 1030)}),
      Use(Call::kComplete, 40, 45, "j1", "t1", false),
  };
  EXPECT_THAT(CheckHistory(h), IsEmpty());
  // A removal that began before the claim's answer came may still have
  // ended its lease: the claim committed first.
  h[3].start = T(17);
  EXPECT_THAT(CheckHistory(h), IsEmpty());
  h[3].ok = false;  // the removal failed: j1's lease still held j2 back
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("while job j1 was leased"));
}

TEST(HistoryTest, FlagsATokenHandedOutTwice) {
  std::vector<Call> h = {
      Claim(20, 25, "w1", {L("j1", "c", "t1", 1020)}),
      Claim(30, 35, "w2", {L("j1", "c", "t1", 1020)}),
  };
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("handed out twice"));
}

TEST(HistoryTest, EnqueuesAreCheckedAgainstTheTable) {
  std::vector<Call> h = {Enqueue(0, 5, "c", "j1", "k1"),
                         Enqueue(6, 9, "c", "j1", "k1"),
                         Enqueue(10, 15, "c", "j2", "k2")};
  EXPECT_THAT(CheckEnqueues(h, {{"j1", "k1"}, {"j2", "k2"}, {"j3", "k3"}}),
              IsEmpty());
  EXPECT_THAT(absl::StrJoin(CheckEnqueues(h, {{"j1", "k1"}}), "\n"),
              HasSubstr("acknowledged job j2 (key k2) is not in the table"));
  EXPECT_THAT(
      absl::StrJoin(
          CheckEnqueues(h, {{"j1", "k1"}, {"j2", "k2"}, {"j4", "k2"}}), "\n"),
      HasSubstr("key k2 has two jobs"));
  h.push_back(Enqueue(20, 25, "c", "j5", "k1"));
  EXPECT_THAT(
      absl::StrJoin(
          CheckEnqueues(h, {{"j1", "k1"}, {"j2", "k2"}, {"j5", "k1"}}), "\n"),
      HasSubstr("key k1 was answered with jobs j1 and j5"));
}

// A stream ended while it held j1's lease: the server handed j1 back, w2
// worked it, and j2 followed while the first lease had time left.
TEST(HistoryTest, AStreamsEndMayHandItsLeasesBack) {
  std::vector<Call> h = {
      Enqueue(0, 5, "c", "j1"),
      Enqueue(10, 15, "c", "j2"),
      Claim(20, 25, "s1", {L("j1", "c", "t1", 5000)}),
      Claim(400, 405, "w2", {L("j1", "c", "t2", 5400)}),
      Use(Call::kComplete, 500, 505, "j1", "t2", true),
      Claim(600, 605, "w2", {L("j2", "c", "t3", 5600)}),
  };
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("while job j1 was leased to s1"));
  Call release = Use(Call::kRelease, 300, 310, "j1", "t1", true);
  release.worker = "s1";
  h.push_back(release);
  EXPECT_THAT(CheckHistory(h), IsEmpty())
      << absl::StrJoin(CheckHistory(h), "\n");
}

}  // namespace
}  // namespace jobqueue::fault

namespace jobqueue::fault {
namespace {

// j1 claimed, snoozed until 1500, claimed again at `again`.
std::vector<Call> Snoozed(int again) {
  Call snooze = Use(Call::kSnooze, 100, 105, "j1", "t1", true);
  snooze.due = T(1500);
  return {
      Enqueue(0, 5, "c", "j1"),
      Claim(20, 25, "w1", {L("j1", "c", "t1", 1020)}),
      snooze,
      Claim(again, again + 5, "w2", {L("j1", "c", "t2", again + 1000)}),
      Use(Call::kComplete, again + 10, again + 15, "j1", "t2", true),
  };
}

TEST(HistoryTest, ASnoozedJobHandedOutWhenDuePasses) {
  EXPECT_THAT(CheckHistory(Snoozed(1500)), IsEmpty())
      << absl::StrJoin(CheckHistory(Snoozed(1500)), "\n");
  // A claim that may have taken it at 1500 (it ended then or later).
  EXPECT_THAT(CheckHistory(Snoozed(1496)), IsEmpty());
}

TEST(HistoryTest, FlagsASnoozedJobHandedOutEarly) {
  EXPECT_THAT(absl::StrJoin(CheckHistory(Snoozed(1200)), "\n"),
              HasSubstr("while snoozed until"));
}

TEST(HistoryTest, AnOperatorMayMakeASnoozedJobDue) {
  std::vector<Call> h = Snoozed(1200);
  h.push_back(Call{.kind = Call::kMakeDue, .start = T(1100), .end = T(1102)});
  EXPECT_THAT(CheckHistory(h), IsEmpty());
  // Not when it ran before the snooze began.
  h.back() = Call{.kind = Call::kMakeDue, .start = T(50), .end = T(60)};
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("while snoozed until"));
}

TEST(HistoryTest, FlagsACancelledJobHandedOutOrCompletedAfterTheCancel) {
  std::vector<Call> h = {
      Enqueue(0, 5, "c", "j1"),
      Call{.kind = Call::kCancel, .start = T(10), .end = T(15), .ok = true},
      Claim(20, 25, "w1", {L("j1", "c", "t1", 1020)}),
      Use(Call::kComplete, 30, 35, "j1", "t1", true),
  };
  h[1].job_id = "j1";
  const std::string problems = absl::StrJoin(CheckHistory(h), "\n");
  EXPECT_THAT(problems, HasSubstr("handed out to w1"));
  EXPECT_THAT(problems, HasSubstr("completed by"));
  // A claim and completion that began before the cancel was answered may
  // have come first; a cancelled job leaves its conversation's line.
  std::vector<Call> fine = {
      Enqueue(0, 5, "c", "j1"),
      Enqueue(6, 8, "c", "j2"),
      Claim(9, 12, "w1", {L("j1", "c", "t1", 1020)}),
      Call{.kind = Call::kCancel, .start = T(10), .end = T(15), .ok = true},
      Use(Call::kComplete, 11, 35, "j1", "t1", true),
      Claim(40, 45, "w1", {L("j2", "c", "t2", 1040)}),
  };
  fine[3].job_id = "j1";
  EXPECT_THAT(CheckHistory(fine), IsEmpty())
      << absl::StrJoin(CheckHistory(fine), "\n");
}

TEST(HistoryTest, FlagsACallAnsweredOkAfterTheRunTimeLimit) {
  Lease limited = L("j1", "c", "t1", 1000);
  limited.run_deadline = T(1000);
  std::vector<Call> h = {
      Enqueue(0, 5, "c", "j1"),
      Claim(20, 25, "w1", {limited}),
      Use(Call::kExtend, 500, 505, "j1", "t1", true),
      Use(Call::kComplete, 1200, 1205, "j1", "t1", true),
  };
  h[2].expires = T(1000);
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("after the job's run-time limit"));
  h[3].start = T(900);
  h[3].end = T(905);
  EXPECT_THAT(CheckHistory(h), IsEmpty());
}

TEST(HistoryTest, ASnoozeUsesUpItsToken) {
  std::vector<Call> h = Snoozed(1500);
  h.push_back(Use(Call::kComplete, 200, 205, "j1", "t1", true));
  EXPECT_THAT(absl::StrJoin(CheckHistory(h), "\n"),
              HasSubstr("already used up"));
}

}  // namespace
}  // namespace jobqueue::fault
