// twilio_shim talking TLS to jobqueue_server (which serves TLS with a
// throwaway self-signed certificate made here with the openssl command): a
// delivery becomes a job through TLS, and a certificate the shim does not
// trust is refused, the delivery waiting in the spool instead.

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/shim_stack.h"
#include "tests/support/twilio_node.h"

namespace jobqueue::shim {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

struct CertificateFiles {
  std::string cert;
  std::string key;
};

// A self-signed certificate for 127.0.0.1 (and jobs.test), in TEST_TMPDIR.
CertificateFiles MakeCertificate(const std::string& name) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  CertificateFiles files = {absl::StrCat(dir, "/", name, ".crt"),
                            absl::StrCat(dir, "/", name, ".key")};
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=", name,
      " -addext subjectAltName=IP:127.0.0.1,DNS:jobs.test -keyout ", files.key,
      " -out ", files.cert, " 2>/dev/null");
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return files;
}

// POSTs a signed SMS; the HTTP status.
int PostSms(ShimStack& stack, const std::string& sid) {
  const std::vector<std::pair<std::string, std::string>> params = {
      {"MessageSid", sid},
      {"From", "+14158675309"},
      {"To", "+18005551212"},
      {"Body", "over TLS"}};
  absl::StatusOr<std::vector<TwilioNodeResult>> signed_request =
      RunTwilioNode(ShimStack::kAuthToken,
                    {{stack.PublicUrl("/twilio/messages"), params, {}, {}}});
  EXPECT_TRUE(signed_request.ok()) << signed_request.status();
  if (!signed_request.ok()) return -1;
  httplib::Result result = stack.Post("/twilio/messages", FormEncode(params),
                                      (*signed_request)[0].signature);
  return result ? result->status : -1;
}

TEST(TwilioShimTlsTest, DeliversThroughTlsWithItsOwnCa) {
  const CertificateFiles service = MakeCertificate("jobqueue-service");
  absl::StatusOr<std::unique_ptr<ShimStack>> started = ShimStack::Start(
      {.shim_flags = {"--backend_tls", "--backend_ca_file=" + service.cert},
       .service_tls_cert_file = service.cert,
       .service_tls_key_file = service.key});
  ASSERT_TRUE(started.ok()) << started.status();
  ShimStack& stack = **started;
  EXPECT_THAT(stack.Outputs(), HasSubstr("(TLS)"));

  httplib::Result health = stack.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << stack.Outputs();
  ASSERT_EQ(PostSms(stack, "SM00000000000000000000000000000tls"), 200);
  absl::StatusOr<std::vector<v1::Job>> jobs = stack.ListAllJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_THAT(*jobs, SizeIs(1)) << stack.Outputs();
  EXPECT_EQ((*jobs)[0].idempotency_key(), "SM00000000000000000000000000000tls");
  httplib::Result metrics = stack.GetMetrics();
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("twilio_shim_spool_depth 0\n"));
}

TEST(TwilioShimTlsTest, NamesTheServerWhenTheTargetIsAnAddress) {
  const CertificateFiles service = MakeCertificate("jobqueue-named");
  absl::StatusOr<std::unique_ptr<ShimStack>> started = ShimStack::Start(
      {.shim_flags = {"--backend_tls", "--backend_ca_file=" + service.cert,
                      "--backend_tls_server_name=jobs.test"},
       .service_tls_cert_file = service.cert,
       .service_tls_key_file = service.key});
  ASSERT_TRUE(started.ok()) << started.status();
  ShimStack& stack = **started;
  ASSERT_EQ(PostSms(stack, "SM000000000000000000000000000named"), 200);
  absl::StatusOr<std::vector<v1::Job>> jobs = stack.ListAllJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_THAT(*jobs, SizeIs(1)) << stack.Outputs();
}

TEST(TwilioShimTlsTest, ACertificateFromAnotherCaIsRefused) {
  const CertificateFiles service = MakeCertificate("jobqueue-real");
  const CertificateFiles other = MakeCertificate("jobqueue-other");
  absl::StatusOr<std::unique_ptr<ShimStack>> started = ShimStack::Start(
      {.shim_flags = {"--backend_tls", "--backend_ca_file=" + other.cert},
       .service_tls_cert_file = service.cert,
       .service_tls_key_file = service.key});
  ASSERT_TRUE(started.ok()) << started.status();
  ShimStack& stack = **started;

  httplib::Result health = stack.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  // Still answered: the delivery waits in the spool, never sent in the clear.
  ASSERT_EQ(PostSms(stack, "SM0000000000000000000000000000other"), 200);
  absl::SleepFor(absl::Seconds(2));
  absl::StatusOr<std::vector<v1::Job>> jobs = stack.ListAllJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_THAT(*jobs, IsEmpty());
  httplib::Result metrics = stack.GetMetrics();
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("twilio_shim_spool_depth 1\n"));
}

}  // namespace
}  // namespace jobqueue::shim
