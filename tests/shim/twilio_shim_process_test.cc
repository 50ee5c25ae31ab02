// twilio_shim as an operator starts and stops it: required settings, the
// ready line, a graceful stop on SIGINT/SIGTERM, one process per spool.

#include <signal.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/support/child_process.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

std::unique_ptr<ChildProcess> StartShim(
    const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& env) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> shim =
      ChildProcess::Start(RunfilePath("shim/twilio_shim"), args, env);
  EXPECT_TRUE(shim.ok()) << shim.status();
  return shim.ok() ? *std::move(shim) : nullptr;
}

std::string SpoolDir(absl::string_view name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

TEST(TwilioShimProcessTest, RefusesToStartWithoutTheAuthToken) {
  std::unique_ptr<ChildProcess> shim =
      StartShim({"--listen=127.0.0.1:0", "--spool_dir=" + SpoolDir("none")},
                {{"TWILIO_AUTH_TOKEN", ""}});
  ASSERT_NE(shim, nullptr);
  EXPECT_EQ(shim->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_THAT(shim->output(), HasSubstr("TWILIO_AUTH_TOKEN is not set"));
}

TEST(TwilioShimProcessTest, RefusesABadListenAddress) {
  std::unique_ptr<ChildProcess> shim =
      StartShim({"--listen=localhost"}, {{"TWILIO_AUTH_TOKEN", "t"}});
  ASSERT_NE(shim, nullptr);
  EXPECT_EQ(shim->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_THAT(shim->output(), HasSubstr("--listen=localhost"));
}

TEST(TwilioShimProcessTest, SaysWhereItListensAndStopsOnSignals) {
  for (const int sig : {SIGINT, SIGTERM}) {
    std::unique_ptr<ChildProcess> shim =
        StartShim({"--listen=127.0.0.1:0", "--backend=127.0.0.1:1",
                   "--spool_dir=" + SpoolDir(absl::StrCat("signal-", sig))},
                  {{"TWILIO_AUTH_TOKEN", "secret-auth-token"}});
    ASSERT_NE(shim, nullptr);
    ASSERT_TRUE(shim->WaitForOutput(
        "twilio_shim: listening on http://127.0.0.1:", absl::Seconds(30)))
        << shim->output();
    ASSERT_TRUE(shim->Signal(sig).ok());
    EXPECT_EQ(shim->Wait(absl::Seconds(20)).value_or(-1), 0) << shim->output();
    EXPECT_THAT(shim->output(), HasSubstr("twilio_shim: stopped"));
    EXPECT_THAT(shim->output(), Not(HasSubstr("secret-auth-token")));
  }
}

TEST(TwilioShimProcessTest, OneShimPerSpoolDirectory) {
  const std::string spool = "--spool_dir=" + SpoolDir("shared");
  std::unique_ptr<ChildProcess> first =
      StartShim({"--listen=127.0.0.1:0", "--backend=127.0.0.1:1", spool},
                {{"TWILIO_AUTH_TOKEN", "t"}});
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->WaitForOutput("listening on", absl::Seconds(30)))
      << first->output();
  std::unique_ptr<ChildProcess> second =
      StartShim({"--listen=127.0.0.1:0", "--backend=127.0.0.1:1", spool},
                {{"TWILIO_AUTH_TOKEN", "t"}});
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->Wait(absl::Seconds(10)).value_or(-1), 1);
  EXPECT_THAT(second->output(), HasSubstr("in use by another process"));
}

TEST(TwilioShimProcessTest, RefusesToSendTheTokenInPlaintextOverANetwork) {
  const std::vector<std::pair<std::string, std::string>> env = {
      {"TWILIO_AUTH_TOKEN", "t"}, {"JOBQUEUE_BEARER_TOKEN", "secret-bearer"}};
  std::unique_ptr<ChildProcess> shim =
      StartShim({"--listen=127.0.0.1:0", "--backend=10.11.12.13:50051",
                 "--spool_dir=" + SpoolDir("plaintext")},
                env);
  ASSERT_NE(shim, nullptr);
  EXPECT_EQ(shim->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_THAT(shim->output(),
              HasSubstr("refusing to send JOBQUEUE_BEARER_TOKEN in plaintext "
                        "to --backend=10.11.12.13:50051"));
  EXPECT_THAT(shim->output(), HasSubstr("--backend_tls"));
  EXPECT_THAT(shim->output(), HasSubstr("--allow_plaintext_token"));
  EXPECT_THAT(shim->output(), Not(HasSubstr("secret-bearer")));

  // Each way out starts: TLS, the explicit permission, or no token at all.
  const std::vector<std::pair<std::vector<std::string>,
                              std::vector<std::pair<std::string, std::string>>>>
      accepted = {{{"--backend_tls"}, env},
                  {{"--allow_plaintext_token"}, env},
                  {{}, {{"TWILIO_AUTH_TOKEN", "t"}}}};
  int n = 0;
  for (const auto& [flags, accepted_env] : accepted) {
    std::vector<std::string> args = {
        "--listen=127.0.0.1:0", "--backend=10.11.12.13:50051",
        "--spool_dir=" + SpoolDir(absl::StrCat("plaintext-", ++n))};
    args.insert(args.end(), flags.begin(), flags.end());
    std::unique_ptr<ChildProcess> ok = StartShim(args, accepted_env);
    ASSERT_NE(ok, nullptr);
    EXPECT_TRUE(ok->WaitForOutput("listening on", absl::Seconds(30)))
        << ok->output();
    ASSERT_TRUE(ok->Signal(SIGTERM).ok());
    EXPECT_EQ(ok->Wait(absl::Seconds(20)).value_or(-1), 0) << ok->output();
  }
}

// The webhook port faces the internet; the metrics have their own address,
// printed at start like the webhook URL.
TEST(TwilioShimProcessTest, ServesMetricsOnlyOnTheMetricsAddress) {
  std::unique_ptr<ChildProcess> shim =
      StartShim({"--listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                 "--backend=127.0.0.1:1", "--spool_dir=" + SpoolDir("metrics")},
                {{"TWILIO_AUTH_TOKEN", "t"}});
  ASSERT_NE(shim, nullptr);
  ASSERT_TRUE(shim->WaitForOutput("twilio_shim: listening on http://",
                                  absl::Seconds(30)))
      << shim->output();
  const std::string webhooks =
      TextAfter(shim->output(), "twilio_shim: listening on ");
  const std::string metrics =
      TextAfter(shim->output(), "twilio_shim: metrics on ");
  ASSERT_THAT(metrics, MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/metrics"))
      << shim->output();
  ASSERT_NE(metrics, absl::StrCat(webhooks, "/metrics"));

  httplib::Client webhook_client(webhooks);
  httplib::Result public_scrape = webhook_client.Get("/metrics");
  ASSERT_TRUE(public_scrape) << httplib::to_string(public_scrape.error());
  EXPECT_EQ(public_scrape->status, 404);
  EXPECT_THAT(public_scrape->body, Not(HasSubstr("twilio_shim_")));

  httplib::Client metrics_client(metrics.substr(0, metrics.rfind('/')));
  httplib::Result scrape = metrics_client.Get("/metrics");
  ASSERT_TRUE(scrape) << httplib::to_string(scrape.error());
  EXPECT_EQ(scrape->status, 200);
  EXPECT_EQ(scrape->get_header_value("Content-Type"),
            "text/plain; version=0.0.4");
  EXPECT_THAT(scrape->body, HasSubstr("twilio_shim_spool_depth 0\n"));
  ASSERT_TRUE(shim->Signal(SIGTERM).ok());
  EXPECT_EQ(shim->Wait(absl::Seconds(20)).value_or(-1), 0) << shim->output();
}

TEST(TwilioShimProcessTest, AnEmptyMetricsAddressServesNoMetrics) {
  std::unique_ptr<ChildProcess> shim = StartShim(
      {"--listen=127.0.0.1:0", "--metrics_listen=", "--backend=127.0.0.1:1",
       "--spool_dir=" + SpoolDir("no-metrics")},
      {{"TWILIO_AUTH_TOKEN", "t"}});
  ASSERT_NE(shim, nullptr);
  ASSERT_TRUE(shim->WaitForOutput("twilio_shim: listening on http://",
                                  absl::Seconds(30)))
      << shim->output();
  EXPECT_THAT(shim->output(), Not(HasSubstr("metrics on")));
  httplib::Client client(
      TextAfter(shim->output(), "twilio_shim: listening on "));
  httplib::Result scrape = client.Get("/metrics");
  ASSERT_TRUE(scrape) << httplib::to_string(scrape.error());
  EXPECT_EQ(scrape->status, 404);
}

TEST(TwilioShimProcessTest, RefusesABadMetricsAddress) {
  std::unique_ptr<ChildProcess> shim =
      StartShim({"--listen=127.0.0.1:0", "--metrics_listen=localhost",
                 "--spool_dir=" + SpoolDir("bad-metrics")},
                {{"TWILIO_AUTH_TOKEN", "t"}});
  ASSERT_NE(shim, nullptr);
  EXPECT_EQ(shim->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_THAT(shim->output(), HasSubstr("--metrics_listen=localhost"));
}

TEST(TwilioShimProcessTest, TlsSettingsNeedTlsAndAReadableCaFile) {
  std::unique_ptr<ChildProcess> shim = StartShim(
      {"--listen=127.0.0.1:0", "--backend_ca_file=/nonexistent/ca.pem"},
      {{"TWILIO_AUTH_TOKEN", "t"}});
  ASSERT_NE(shim, nullptr);
  EXPECT_EQ(shim->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_THAT(shim->output(), HasSubstr("need --backend_tls"));
  shim = StartShim({"--listen=127.0.0.1:0", "--backend_tls",
                    "--backend_ca_file=/nonexistent/ca.pem"},
                   {{"TWILIO_AUTH_TOKEN", "t"}});
  ASSERT_NE(shim, nullptr);
  EXPECT_EQ(shim->Wait(absl::Seconds(10)).value_or(-1), 2);
  EXPECT_THAT(shim->output(), HasSubstr("/nonexistent/ca.pem"));
}

}  // namespace
}  // namespace jobqueue::shim
