// twilio_shim keeps each sender's messages in order across an outage: once
// the service is back, a new delivery does not overtake the older ones still
// waiting in the spool.

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/shim_stack.h"
#include "tests/support/twilio_node.h"

namespace jobqueue::shim {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr char kSender[] = "+14155550123";

struct Signed {
  std::string body;
  std::string signature;
  std::string sid;
};

// SMS number `first` to `first + count - 1` from kSender, signed by Twilio's
// Node library.
std::vector<Signed> SignFromOneSender(const ShimStack& stack, int first,
                                      int count) {
  std::vector<Signed> deliveries;
  std::vector<TwilioNodeRequest> requests;
  for (int i = first; i < first + count; ++i) {
    const std::string sid = absl::StrFormat("SM%032d", i);
    const Params params = {{"MessageSid", sid},
                           {"AccountSid", "AC00000000000000000000000000000000"},
                           {"From", kSender},
                           {"To", "+18005551212"},
                           {"Body", absl::StrCat("message number ", i)},
                           {"NumMedia", "0"}};
    deliveries.push_back({FormEncode(params), "", sid});
    requests.push_back({stack.PublicUrl("/twilio/messages"), params, {}, {}});
  }
  absl::StatusOr<std::vector<TwilioNodeResult>> results =
      RunTwilioNode(ShimStack::kAuthToken, requests);
  EXPECT_TRUE(results.ok()) << results.status();
  if (!results.ok() || results->size() != deliveries.size()) return {};
  for (size_t i = 0; i < deliveries.size(); ++i) {
    deliveries[i].signature = (*results)[i].signature;
  }
  return deliveries;
}

// Posts each delivery after the previous one was answered; how many got 200.
int PostInTurn(ShimStack& stack, const std::vector<Signed>& deliveries) {
  int answered = 0;
  for (const Signed& delivery : deliveries) {
    httplib::Result result =
        stack.Post("/twilio/messages", delivery.body, delivery.signature);
    if (result && result->status == 200) ++answered;
  }
  return answered;
}

// The idempotency keys of kSender's jobs in their conversation's order,
// once there are `count` of them (bounded wait).
std::vector<std::string> ConversationOrder(ShimStack& stack, size_t count) {
  std::vector<std::string> keys;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    keys.clear();
    pqxx::connection connection(stack.database_url());
    pqxx::work transaction(connection);
    for (const auto& row : transaction.exec_params(
             "SELECT idempotency_key FROM jobs WHERE source_channel_id = $1 "
             "ORDER BY position",
             kSender)) {
      keys.push_back(row[0].as<std::string>());
    }
    if (keys.size() >= count) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  return keys;
}

// How many replay passes failed so far, by the shim's log.
int PausedPasses(const std::string& output) {
  int count = 0;
  for (size_t at = output.find("spool replay paused"); at != std::string::npos;
       at = output.find("spool replay paused", at + 1)) {
    ++count;
  }
  return count;
}

TEST(TwilioShimOrderTest, NewDeliveriesQueueBehindTheSpooledOnes) {
  // Replayed calls give up fast while the service is down, so that the
  // replayer's backoff grows within seconds.
  absl::StatusOr<std::unique_ptr<ShimStack>> started =
      ShimStack::Start({.shim_flags = {"--replay_rpc_timeout=200ms",
                                       "--replay_max_backoff=60s"}});
  ASSERT_TRUE(started.ok()) << started.status();
  ShimStack& stack = **started;
  const std::vector<Signed> deliveries = SignFromOneSender(stack, 1, 10);
  ASSERT_EQ(deliveries.size(), 10u);
  const std::vector<Signed> during(deliveries.begin(), deliveries.begin() + 5);
  const std::vector<Signed> after(deliveries.begin() + 5, deliveries.end());

  ASSERT_TRUE(stack.StopService().ok()) << stack.Outputs();
  ASSERT_EQ(PostInTurn(stack, during), 5) << stack.Outputs();
  httplib::Result metrics = stack.GetMetrics();
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("twilio_shim_spool_depth 5\n"));

  // The outage lasts until the replayer waits at least 8 s between tries
  // (the 7th failed pass): the service will be back well before it tries
  // again by itself.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (PausedPasses(stack.Outputs()) < 7 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GE(PausedPasses(stack.Outputs()), 7) << stack.Outputs();

  ASSERT_TRUE(stack.StartService().ok()) << stack.Outputs();
  // The shim's channel is connected again: a direct call could succeed now
  // (the channel reconnects within its capped backoff; the replayer still
  // waits out its own).
  int health = 0;
  for (int attempt = 0; attempt < 200 && health != 200; ++attempt) {
    httplib::Result result = stack.Get("/healthz");
    health = result ? result->status : -1;
    if (health != 200) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(health, 200) << stack.Outputs();
  ASSERT_EQ(PostInTurn(stack, after), 5) << stack.Outputs();

  std::vector<std::string> sent;
  for (const Signed& delivery : deliveries) sent.push_back(delivery.sid);
  EXPECT_THAT(ConversationOrder(stack, sent.size()), ElementsAreArray(sent))
      << stack.Outputs();
}

}  // namespace
}  // namespace jobqueue::shim
