// twilio_shim while the JobQueue service is down: every signed delivery still
// gets its 200 from the spool, and once the service is back each becomes
// exactly one job — also across a restart of the shim, when a record of
// the spool is damaged on disk, and under concurrent webhook load while the
// shim and the service are SIGKILLed and the database crashes.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fault/private_postgres.h"
#include "tests/support/file_names.h"
#include "tests/support/shim_stack.h"
#include "tests/support/twilio_node.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;
using Params = std::vector<std::pair<std::string, std::string>>;

// `count` distinct SMS deliveries from 10 senders, signed by Twilio's Node
// library for POST /twilio/messages.
struct SignedDeliveries {
  std::vector<std::string> bodies;
  std::vector<std::string> signatures;
  std::vector<std::string> message_sids;
};

SignedDeliveries SignSms(const ShimStack& stack, int first, int count) {
  SignedDeliveries deliveries;
  std::vector<TwilioNodeRequest> requests;
  for (int i = first; i < first + count; ++i) {
    const std::string sid = absl::StrFormat("SM%032d", i);
    const Params params = {{"MessageSid", sid},
                           {"AccountSid", "AC00000000000000000000000000000000"},
                           {"From", absl::StrFormat("+1415555%04d", i % 10)},
                           {"To", "+18005551212"},
                           {"Body", absl::StrCat("message number ", i)},
                           {"NumMedia", "0"}};
    deliveries.bodies.push_back(FormEncode(params));
    deliveries.message_sids.push_back(sid);
    requests.push_back({stack.PublicUrl("/twilio/messages"), params, {}, {}});
  }
  absl::StatusOr<std::vector<TwilioNodeResult>> results =
      RunTwilioNode(ShimStack::kAuthToken, requests);
  EXPECT_TRUE(results.ok()) << results.status();
  if (results.ok()) {
    for (const TwilioNodeResult& result : *results) {
      deliveries.signatures.push_back(result.signature);
    }
  }
  return deliveries;
}

// Posts every delivery; how many got 200 with TwiML.
int PostAll(ShimStack& stack, const SignedDeliveries& deliveries) {
  int answered = 0;
  for (size_t i = 0; i < deliveries.signatures.size(); ++i) {
    httplib::Result result = stack.Post(
        "/twilio/messages", deliveries.bodies[i], deliveries.signatures[i]);
    if (result && result->status == 200 &&
        result->body.find("<Response/>") != std::string::npos) {
      ++answered;
    }
  }
  return answered;
}

// Waits, bounded, until the service holds `count` jobs; returns how many
// jobs each idempotency key has.
std::map<std::string, int> AwaitJobs(ShimStack& stack, size_t count,
                                     absl::Duration timeout) {
  std::map<std::string, int> per_key;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    absl::StatusOr<std::vector<v1::Job>> jobs = stack.ListAllJobs();
    if (jobs.ok() && jobs->size() >= count) {
      for (const v1::Job& job : *jobs) ++per_key[job.idempotency_key()];
      return per_key;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  absl::StatusOr<std::vector<v1::Job>> jobs = stack.ListAllJobs();
  if (jobs.ok()) {
    for (const v1::Job& job : *jobs) ++per_key[job.idempotency_key()];
  }
  return per_key;
}

void ExpectEachExactlyOnce(const std::map<std::string, int>& per_key,
                           const SignedDeliveries& deliveries) {
  EXPECT_EQ(per_key.size(), deliveries.message_sids.size());
  int wrong = 0;
  for (const std::string& sid : deliveries.message_sids) {
    const auto it = per_key.find(sid);
    const int jobs = it == per_key.end() ? 0 : it->second;
    if (jobs != 1 && ++wrong <= 5)
      ADD_FAILURE() << sid << " has " << jobs << " jobs";
  }
  EXPECT_EQ(wrong, 0) << "deliveries without exactly one job";
}

// The shim's GET /metrics text; empty when the scrape fails.
std::string Scrape(ShimStack& stack) {
  httplib::Result result = stack.GetMetrics();
  return result && result->status == 200 ? result->body : "";
}

// Waits, bounded, until a scrape holds every one of `lines`; returns the last
// scrape.
std::string AwaitMetrics(ShimStack& stack,
                         const std::vector<std::string>& lines,
                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string text;
  while (true) {
    text = Scrape(stack);
    bool all = true;
    for (const std::string& line : lines) {
      all = all && text.find(line + "\n") != std::string::npos;
    }
    if (all || absl::Now() >= deadline) return text;
    absl::SleepFor(absl::Milliseconds(250));
  }
}

TEST(TwilioShimFaultTest, DeliveriesDuringAnOutageAllBecomeJobsOnce) {
  absl::StatusOr<std::unique_ptr<ShimStack>> started = ShimStack::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  ShimStack& stack = **started;
  const SignedDeliveries before = SignSms(stack, 0, 1);
  const SignedDeliveries deliveries = SignSms(stack, 1, 100);
  ASSERT_EQ(deliveries.signatures.size(), 100u);
  // The shim is in use, its channel connected, when the service goes away.
  ASSERT_EQ(PostAll(stack, before), 1) << stack.Outputs();
  ASSERT_TRUE(stack.StopService().ok()) << stack.Outputs();
  const absl::Time start = absl::Now();
  EXPECT_EQ(PostAll(stack, deliveries), 100) << stack.Outputs();
  EXPECT_LT(absl::Now() - start, absl::Seconds(60))
      << "answers must come well within Twilio's budget";
  std::string metrics = Scrape(stack);
  EXPECT_THAT(metrics, HasSubstr("twilio_shim_spool_depth 100\n"));
  EXPECT_THAT(metrics, HasSubstr("twilio_shim_deliveries_spooled_total 100\n"));

  ASSERT_TRUE(stack.StartService().ok()) << stack.Outputs();
  std::map<std::string, int> per_key = AwaitJobs(stack, 101, absl::Seconds(60));
  EXPECT_EQ(per_key.erase(before.message_sids[0]), 1u);
  ExpectEachExactlyOnce(per_key, deliveries);
  metrics = AwaitMetrics(
      stack,
      {"twilio_shim_spool_depth 0", "twilio_shim_replays_succeeded_total 100"},
      absl::Seconds(10));
  EXPECT_THAT(metrics, HasSubstr("twilio_shim_spool_depth 0\n"));
  EXPECT_THAT(metrics, HasSubstr("twilio_shim_replays_succeeded_total 100\n"));

  // Twilio retrying all of them now changes nothing.
  EXPECT_EQ(PostAll(stack, deliveries), 100);
  per_key = AwaitJobs(stack, 101, absl::Seconds(5));
  EXPECT_EQ(per_key.erase(before.message_sids[0]), 1u);
  ExpectEachExactlyOnce(per_key, deliveries);
}

TEST(TwilioShimFaultTest, ARestartedShimResumesItsSpool) {
  absl::StatusOr<std::unique_ptr<ShimStack>> started = ShimStack::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  ShimStack& stack = **started;
  const SignedDeliveries deliveries = SignSms(stack, 1001, 20);
  ASSERT_EQ(deliveries.signatures.size(), 20u);

  ASSERT_TRUE(stack.StopService().ok()) << stack.Outputs();
  EXPECT_EQ(PostAll(stack, deliveries), 20) << stack.Outputs();
  EXPECT_THAT(Scrape(stack), HasSubstr("twilio_shim_spool_depth 20\n"));
  ASSERT_TRUE(stack.StopShim().ok()) << stack.Outputs();

  ASSERT_TRUE(stack.StartService().ok()) << stack.Outputs();
  ASSERT_TRUE(stack.StartShim().ok()) << stack.Outputs();
  ExpectEachExactlyOnce(AwaitJobs(stack, 20, absl::Seconds(60)), deliveries);
  // The restarted shim counted the spool it resumed.
  const std::string metrics = AwaitMetrics(
      stack,
      {"twilio_shim_spool_depth 0", "twilio_shim_replays_succeeded_total 20"},
      absl::Seconds(10));
  EXPECT_THAT(metrics, HasSubstr("twilio_shim_spool_depth 0\n"));
  EXPECT_THAT(metrics, HasSubstr("twilio_shim_replays_succeeded_total 20\n"));
}

// 8 concurrent "Twilio" senders while the service is SIGKILLed, then the
// shim, then the (private) database crashes: every delivery answered 200 is
// exactly one job once things settle, and no delivery is ever two jobs.
// Twilio retries a delivery that got no 200; so do these senders (bounded).
TEST(TwilioShimFaultTest, EveryAnswered200IsOneJobAcrossKillsAndACrash) {
  auto pg = fault::PrivatePostgres::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  absl::StatusOr<std::string> url = (*pg)->CreateMigratedDatabase("jobqueue");
  ASSERT_TRUE(url.ok()) << url.status();
  absl::StatusOr<std::unique_ptr<ShimStack>> started =
      ShimStack::Start({.database_url = *url});
  ASSERT_TRUE(started.ok()) << started.status();
  ShimStack& stack = **started;
  constexpr int kDeliveries = 240;
  const SignedDeliveries deliveries = SignSms(stack, 5000, kDeliveries);
  ASSERT_EQ(deliveries.signatures.size(), size_t{kDeliveries});

  std::vector<std::atomic<bool>> answered(kDeliveries);
  std::atomic<int> next{0}, refused{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&] {
      for (int i = next++; i < kDeliveries && !stop; i = next++) {
        for (int attempt = 0; attempt < 50 && !stop; ++attempt) {
          httplib::Client client("127.0.0.1", stack.shim_port());
          client.set_connection_timeout(std::chrono::seconds(2));
          client.set_read_timeout(std::chrono::seconds(15));
          httplib::Headers headers = {
              {"X-Twilio-Signature", deliveries.signatures[i]}};
          httplib::Result r =
              client.Post("/twilio/messages", headers, deliveries.bodies[i],
                          "application/x-www-form-urlencoded");
          if (r && r->status == 200) {
            answered[i] = true;
            break;
          }
          ++refused;
          absl::SleepFor(absl::Milliseconds(100));
        }
        // About 4 s of load in all, so every fault below lands inside it.
        absl::SleepFor(absl::Milliseconds(120));
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(400));
  ASSERT_TRUE(stack.KillService().ok()) << stack.Outputs();
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(stack.StartService().ok()) << stack.Outputs();
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(stack.KillShim().ok()) << stack.Outputs();
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(stack.StartShim().ok()) << stack.Outputs();
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE((*pg)->Crash().ok());
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE((*pg)->Restart().ok());
  const absl::Time give_up = absl::Now() + absl::Seconds(40);
  while (next < kDeliveries && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  stop = true;
  for (std::thread& t : senders) t.join();

  int answered_count = 0;
  for (const auto& a : answered) answered_count += a;
  EXPECT_EQ(answered_count, kDeliveries)
      << refused << " posts refused; " << stack.Outputs();
  std::map<std::string, int> per_key =
      AwaitJobs(stack, answered_count, absl::Seconds(40));
  int wrong = 0;
  for (int i = 0; i < kDeliveries; ++i) {
    const auto it = per_key.find(deliveries.message_sids[i]);
    const int jobs = it == per_key.end() ? 0 : it->second;
    if ((jobs > 1 || (answered[i] && jobs != 1)) && ++wrong <= 5) {
      ADD_FAILURE() << deliveries.message_sids[i] << " answered "
                    << (answered[i] ? "200" : "never") << " has " << jobs
                    << " jobs";
    }
  }
  EXPECT_EQ(wrong, 0) << stack.Outputs();
  EXPECT_GT(refused, 0) << "the shim's kill fell outside the load";
  std::cout << answered_count << " deliveries answered 200 (" << refused
            << " posts refused during the faults), " << per_key.size()
            << " keys with jobs\n";
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A signed Conversations delivery with a JSON body nested 40 levels deep:
// the shim's JSON parser reads it, but as a SpooledDelivery it is deeper than
// protobuf parses back.
std::string DeepConversationBody() {
  std::string nested = "1";
  for (int level = 2; level <= 40; ++level) {
    nested = level % 2 == 0 ? absl::StrCat("[", nested, "]")
                            : absl::StrCat(R"({"a":)", nested, "}");
  }
  return absl::StrCat(
      R"({"EventType":"onMessageAdded","ConversationSid":"CH00000000000000000000000000000040",)",
      R"("MessageSid":"IM00000000000000000000000000000040","Author":"+14158675309",)",
      R"("Body":"deep","Index":1,"Attributes":)", nested, "}");
}

TEST(TwilioShimFaultTest, ADamagedSpoolRecordLosesOnlyItself) {
  absl::StatusOr<std::unique_ptr<ShimStack>> started = ShimStack::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  ShimStack& stack = **started;
  const SignedDeliveries deliveries = SignSms(stack, 2001, 5);
  ASSERT_EQ(deliveries.signatures.size(), 5u);
  const std::string deep = DeepConversationBody();
  absl::StatusOr<std::vector<TwilioNodeResult>> deep_signed =
      RunTwilioNode(ShimStack::kAuthToken,
                    {{stack.PublicUrl("/twilio/conversations"), {}, deep, {}}});
  ASSERT_TRUE(deep_signed.ok()) << deep_signed.status();
  const std::string deep_target = (*deep_signed)[0].url.substr(
      std::string(ShimStack::kPublicBaseUrl).size());
  ASSERT_TRUE(absl::StrContains(deep_target, "bodySHA256="));

  ASSERT_TRUE(stack.StopService().ok()) << stack.Outputs();
  // Refused, not spooled: it could not be read back for the replay.
  httplib::Result refused = stack.Post(
      deep_target, deep, (*deep_signed)[0].signature, "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400) << stack.Outputs();
  EXPECT_THAT(refused->body, HasSubstr("levels"));
  EXPECT_EQ(PostAll(stack, deliveries), 5) << stack.Outputs();
  EXPECT_THAT(Scrape(stack), HasSubstr("twilio_shim_spool_depth 5\n"));
  ASSERT_TRUE(stack.StopShim().ok()) << stack.Outputs();

  // Damage, on disk, the middle delivery of the segment that holds the most
  // (the replayer may have sealed one segment while the others came in).
  std::string segment;
  std::vector<size_t> held;  // Indexes of the deliveries in it, in order.
  for (const std::string& name : FileNames(stack.spool_dir())) {
    if (!absl::StartsWith(name, "segment-")) continue;
    const std::string bytes = ReadBytes(stack.spool_dir() + "/" + name);
    std::vector<size_t> in_file;
    for (size_t i = 0; i < deliveries.message_sids.size(); ++i) {
      if (absl::StrContains(bytes, deliveries.message_sids[i])) {
        in_file.push_back(i);
      }
    }
    if (in_file.size() > held.size()) {
      segment = stack.spool_dir() + "/" + name;
      held = in_file;
    }
  }
  ASSERT_GE(held.size(), 3u) << "5 deliveries in at most 2 segments";
  const size_t damaged = held[held.size() / 2];
  {
    std::string bytes = ReadBytes(segment);
    const size_t at = bytes.find(deliveries.message_sids[damaged]);
    ASSERT_NE(at, std::string::npos);
    std::fstream file(segment, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(at));
    file.put(static_cast<char>(bytes[at] ^ 0x20));
    ASSERT_TRUE(file.good());
  }

  ASSERT_TRUE(stack.StartService().ok()) << stack.Outputs();
  ASSERT_TRUE(stack.StartShim().ok()) << stack.Outputs();
  SignedDeliveries kept;
  for (size_t i = 0; i < deliveries.message_sids.size(); ++i) {
    if (i != damaged) kept.message_sids.push_back(deliveries.message_sids[i]);
  }
  ExpectEachExactlyOnce(AwaitJobs(stack, 4, absl::Seconds(60)), kept);
  // In the order they were spooled.
  absl::StatusOr<std::vector<v1::Job>> jobs = stack.ListAllJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  std::sort(jobs->begin(), jobs->end(), [](const v1::Job& a, const v1::Job& b) {
    return std::make_pair(a.created_at().seconds(), a.created_at().nanos()) <
           std::make_pair(b.created_at().seconds(), b.created_at().nanos());
  });
  std::vector<std::string> order;
  for (const v1::Job& job : *jobs) order.push_back(job.idempotency_key());
  EXPECT_EQ(order, kept.message_sids);

  const std::string metrics = AwaitMetrics(
      stack,
      {"twilio_shim_spool_depth 0", "twilio_shim_replays_succeeded_total 4",
       "twilio_shim_spool_records_quarantined_total 1"},
      absl::Seconds(10));
  EXPECT_THAT(metrics, HasSubstr("twilio_shim_spool_depth 0\n"));
  EXPECT_THAT(metrics, HasSubstr("twilio_shim_replays_succeeded_total 4\n"));
  EXPECT_THAT(metrics,
              HasSubstr("twilio_shim_spool_records_quarantined_total 1\n"));
  // The damaged record alone is kept for a person; the segment is gone.
  const std::vector<std::string> corrupt =
      FileNames(stack.spool_dir() + "/corrupt");
  ASSERT_EQ(corrupt.size(), 1u) << stack.Outputs();
  EXPECT_THAT(ReadBytes(stack.spool_dir() + "/corrupt/" + corrupt[0]),
              HasSubstr(deliveries.message_sids[damaged].substr(1)));
  EXPECT_THAT(stack.Outputs(), HasSubstr("unreadable spool record at offset"));
  // The segment goes once its quarantine is counted; wait for it, bounded.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::vector<std::string> segments;
  do {
    segments.clear();
    for (const std::string& name : FileNames(stack.spool_dir())) {
      if (absl::StartsWith(name, "segment-")) segments.push_back(name);
    }
    if (segments.empty()) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  EXPECT_THAT(segments, ::testing::IsEmpty());
}

}  // namespace
}  // namespace jobqueue::shim
