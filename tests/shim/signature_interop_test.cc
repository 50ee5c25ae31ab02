// The shim's signature code and Twilio's own Node library agree: each signs
// what the other accepts, including repeated keys, non-ASCII text, query
// strings, default ports and JSON bodies.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "shim/webhook/webhook_signature.h"
#include "tests/support/twilio_node.h"

namespace jobqueue::shim {
namespace {

constexpr char kToken[] = "interop-auth-token";

std::vector<TwilioNodeRequest> Cases() {
  return {
      {"https://example.com/twilio/messages",
       {{"Body", "Hello"}, {"From", "+14158675309"}},
       {},
       {}},
      {"https://example.com:443/twilio/messages?tenant=a%20b&x=1",
       {{"Body", "caf\xC3\xA9 \xF0\x9F\x91\x8B & = + %"}, {"To", ""}},
       {},
       {}},
      {"http://127.0.0.1:8080/twilio/conversations",
       {{"Digits", "5678"},
        {"Sid", "CA1"},
        {"Digits", "1234"},
        {"Digits", "1234"}},
       {},
       {}},
      {"https://hooks.example.test/prefix/twilio/messages",
       {{"MediaUrl0", "https://api.twilio.com/x?y=z"},
        {"NumMedia", "1"},
        {"a", "lower sorts after upper"},
        {"B", "upper"}},
       {},
       {}},
  };
}

FormParams ToForm(const TwilioNodeRequest& request) {
  return FormParams(request.params.begin(), request.params.end());
}

TEST(SignatureInteropTest, TheShimAcceptsWhatTwilioSigns) {
  const std::vector<TwilioNodeRequest> cases = Cases();
  absl::StatusOr<std::vector<TwilioNodeResult>> signed_by_twilio =
      RunTwilioNode(kToken, cases);
  ASSERT_TRUE(signed_by_twilio.ok()) << signed_by_twilio.status();
  const WebhookSignatureVerifier verifier(kToken);
  for (size_t i = 0; i < cases.size(); ++i) {
    const TwilioNodeRequest& request = cases[i];
    EXPECT_TRUE(verifier.VerifyForm((*signed_by_twilio)[i].signature,
                                    request.url, ToForm(request)))
        << request.url;
  }
}

TEST(SignatureInteropTest, TwilioAcceptsWhatTheShimSigns) {
  std::vector<TwilioNodeRequest> requests = Cases();
  for (TwilioNodeRequest& request : requests) {
    request.signature =
        ComputeTwilioSignature(kToken, request.url, ToForm(request));
  }
  // And a wrong one, which both must refuse.
  TwilioNodeRequest forged = Cases()[0];
  forged.signature =
      ComputeTwilioSignature("other-token", forged.url, ToForm(forged));
  requests.push_back(forged);

  absl::StatusOr<std::vector<TwilioNodeResult>> checked =
      RunTwilioNode(kToken, requests);
  ASSERT_TRUE(checked.ok()) << checked.status();
  for (size_t i = 0; i + 1 < requests.size(); ++i) {
    EXPECT_EQ((*checked)[i].valid, true) << requests[i].url;
  }
  EXPECT_EQ(checked->back().valid, false);
}

TEST(SignatureInteropTest, PortVariantsMatchTwilio) {
  // Twilio's validator accepts a signature over the URL without its port
  // for a URL with one, and the other way round; so must the shim.
  TwilioNodeRequest without_port = {
      "https://example.com/hook", {{"A", "1"}}, {}, {}};
  TwilioNodeRequest with_port = {
      "https://example.com:443/hook", {{"A", "1"}}, {}, {}};
  without_port.signature =
      ComputeTwilioSignature(kToken, with_port.url, ToForm(with_port));
  with_port.signature =
      ComputeTwilioSignature(kToken, without_port.url, ToForm(without_port));
  absl::StatusOr<std::vector<TwilioNodeResult>> checked =
      RunTwilioNode(kToken, {without_port, with_port});
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ((*checked)[0].valid, true);
  EXPECT_EQ((*checked)[1].valid, true);
  const WebhookSignatureVerifier verifier(kToken);
  EXPECT_TRUE(verifier.VerifyForm(*without_port.signature, without_port.url,
                                  ToForm(without_port)));
  EXPECT_TRUE(verifier.VerifyForm(*with_port.signature, with_port.url,
                                  ToForm(with_port)));
}

TEST(SignatureInteropTest, JsonBodiesMatchTwilio) {
  const std::string body = R"({"Body":"caf\u00e9","Index":1})";
  absl::StatusOr<std::vector<TwilioNodeResult>> signed_by_twilio =
      RunTwilioNode(
          kToken,
          {{"https://example.com/twilio/conversations?x=1", {}, body, {}}});
  ASSERT_TRUE(signed_by_twilio.ok()) << signed_by_twilio.status();
  const TwilioNodeResult& result = (*signed_by_twilio)[0];
  EXPECT_EQ(result.url,
            "https://example.com/twilio/conversations?x=1&"
            "bodySHA256=" +
                BodySha256Hex(body));
  const WebhookSignatureVerifier verifier(kToken);
  EXPECT_TRUE(verifier.VerifyJsonBody(result.signature, result.url, body));
  EXPECT_FALSE(
      verifier.VerifyJsonBody(result.signature, result.url, body + " "));
}

}  // namespace
}  // namespace jobqueue::shim
