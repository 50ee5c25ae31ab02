#include "shim/webhook/webhook_signature.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jobqueue::shim {
namespace {

using ::testing::ElementsAre;

// Known-answer vectors from the test suites of Twilio's own libraries.
constexpr char kToken[] = "12345";
constexpr char kUrl[] = "https://mycompany.com/myapp.php?foo=1&bar=2";
constexpr char kJsonBody[] = R"({"property": "value", "boolean": true})";
constexpr char kJsonBodyHash[] =
    "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

const FormParams& CallParams() {
  static const FormParams* params = new FormParams{
      {"CallSid", "CA1234567890ABCDE"},
      {"Caller", "+14158675309"},
      {"Digits", "1234"},
      {"From", "+14158675309"},
      {"To", "+18005551212"},
  };
  return *params;
}

TEST(ComputeTwilioSignatureTest, MatchesTwilioVector) {
  EXPECT_EQ(ComputeTwilioSignature(kToken, kUrl, CallParams()),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}

TEST(ComputeTwilioSignatureTest, MatchesTwilioVectorWithRepeatedKeys) {
  const FormParams params = {{"Sid", "CA123"},
                             {"SidAccount", "AC123"},
                             {"Digits", "5678"},
                             {"Digits", "1234"}};
  EXPECT_EQ(ComputeTwilioSignature(kToken, kUrl, params),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
}

TEST(ComputeTwilioSignatureTest, ParameterOrderDoesNotMatter) {
  FormParams reversed(CallParams().rbegin(), CallParams().rend());
  EXPECT_EQ(ComputeTwilioSignature(kToken, kUrl, reversed),
            ComputeTwilioSignature(kToken, kUrl, CallParams()));
}

TEST(ComputeTwilioSignatureTest, RepeatedIdenticalValuesCountOnce) {
  // As twilio-node and twilio-python do: each distinct value once.
  const FormParams once = {{"Digits", "1234"}};
  const FormParams twice = {{"Digits", "1234"}, {"Digits", "1234"}};
  EXPECT_EQ(ComputeTwilioSignature(kToken, kUrl, twice),
            ComputeTwilioSignature(kToken, kUrl, once));
}

TEST(SignedUrlCandidatesTest, AddsOrRemovesTheDefaultPort) {
  EXPECT_THAT(SignedUrlCandidates("https://example.com/a?b=1"),
              ElementsAre("https://example.com/a?b=1",
                          "https://example.com:443/a?b=1"));
  EXPECT_THAT(SignedUrlCandidates("http://example.com:80/a"),
              ElementsAre("http://example.com/a", "http://example.com:80/a"));
  EXPECT_THAT(SignedUrlCandidates("http://u:p@[::1]:8080"),
              ElementsAre("http://u:p@[::1]", "http://u:p@[::1]:8080"));
  EXPECT_THAT(SignedUrlCandidates("HTTPS://Example.com?x=1:2"),
              ElementsAre("HTTPS://Example.com?x=1:2",
                          "HTTPS://Example.com:443?x=1:2"));
}

TEST(WebhookSignatureVerifierTest, AcceptsTheTwilioVectors) {
  WebhookSignatureVerifier verifier(kToken);
  EXPECT_TRUE(
      verifier.VerifyForm("RSOYDt4T1cUTdK1PDd93/VVr8B8=", kUrl, CallParams()));
  EXPECT_TRUE(verifier.VerifyForm("IK+Dwps556ElfBT0I3Rgjkr1wJU=", kUrl,
                                  {{"Digits", "1234"},
                                   {"Digits", "5678"},
                                   {"SidAccount", "AC123"},
                                   {"Sid", "CA123"}}));
}

TEST(WebhookSignatureVerifierTest, AcceptsUrlWithOrWithoutDefaultPort) {
  WebhookSignatureVerifier verifier(kToken);
  const std::string signed_with_port = ComputeTwilioSignature(
      kToken, "https://mycompany.com:443/myapp.php?foo=1&bar=2", CallParams());
  EXPECT_TRUE(verifier.VerifyForm(signed_with_port, kUrl, CallParams()));

  const std::string signed_without_port =
      ComputeTwilioSignature(kToken, "http://mycompany.com/hook", CallParams());
  EXPECT_TRUE(verifier.VerifyForm(
      signed_without_port, "http://mycompany.com:80/hook", CallParams()));
  EXPECT_TRUE(verifier.VerifyForm(signed_without_port,
                                  "http://mycompany.com/hook", CallParams()));
}

TEST(WebhookSignatureVerifierTest, RejectsAnotherExplicitPort) {
  WebhookSignatureVerifier verifier(kToken);
  const std::string signature = ComputeTwilioSignature(
      kToken, "https://mycompany.com:443/hook", CallParams());
  EXPECT_FALSE(verifier.VerifyForm(signature, "https://mycompany.com:8443/hook",
                                   CallParams()));
}

TEST(WebhookSignatureVerifierTest, RejectsTamperedParams) {
  WebhookSignatureVerifier verifier(kToken);
  FormParams changed_value = CallParams();
  changed_value[2].second = "9999";
  EXPECT_FALSE(
      verifier.VerifyForm("RSOYDt4T1cUTdK1PDd93/VVr8B8=", kUrl, changed_value));
  FormParams added = CallParams();
  added.emplace_back("Body", "extra");
  EXPECT_FALSE(
      verifier.VerifyForm("RSOYDt4T1cUTdK1PDd93/VVr8B8=", kUrl, added));
  FormParams dropped(CallParams().begin(), CallParams().end() - 1);
  EXPECT_FALSE(
      verifier.VerifyForm("RSOYDt4T1cUTdK1PDd93/VVr8B8=", kUrl, dropped));
}

TEST(WebhookSignatureVerifierTest, RejectsTamperedUrl) {
  WebhookSignatureVerifier verifier(kToken);
  for (const char* url : {"https://mycompany.com/myapp.php?foo=1&bar=3",
                          "https://mycompany.com/myapp.php",
                          "http://mycompany.com/myapp.php?foo=1&bar=2",
                          "https://evil.com/myapp.php?foo=1&bar=2"}) {
    EXPECT_FALSE(
        verifier.VerifyForm("RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, CallParams()))
        << url;
  }
}

TEST(WebhookSignatureVerifierTest, RejectsWrongTokenAndMalformedSignatures) {
  EXPECT_FALSE(WebhookSignatureVerifier("54321").VerifyForm(
      "RSOYDt4T1cUTdK1PDd93/VVr8B8=", kUrl, CallParams()));
  WebhookSignatureVerifier verifier(kToken);
  EXPECT_FALSE(verifier.VerifyForm("", kUrl, CallParams()));
  EXPECT_FALSE(
      verifier.VerifyForm("RSOYDt4T1cUTdK1PDd93/VVr8B8", kUrl, CallParams()));
  EXPECT_FALSE(
      verifier.VerifyForm("rsoydt4t1cutdk1pdd93/vvr8b8=", kUrl, CallParams()));
}

TEST(BodySha256HexTest, MatchesTwilioVector) {
  EXPECT_EQ(BodySha256Hex(kJsonBody), kJsonBodyHash);
}

TEST(WebhookSignatureVerifierTest, AcceptsJsonBodyVector) {
  WebhookSignatureVerifier verifier(kToken);
  const std::string url = std::string(kUrl) + "&bodySHA256=" + kJsonBodyHash;
  EXPECT_TRUE(
      verifier.VerifyJsonBody("a9nBmqA0ju/hNViExpshrM61xv4=", url, kJsonBody));
}

TEST(WebhookSignatureVerifierTest, RejectsTamperedJsonBody) {
  WebhookSignatureVerifier verifier(kToken);
  const std::string url = std::string(kUrl) + "&bodySHA256=" + kJsonBodyHash;
  EXPECT_FALSE(
      verifier.VerifyJsonBody("a9nBmqA0ju/hNViExpshrM61xv4=", url,
                              R"({"property": "value", "boolean": false})"));
  EXPECT_FALSE(WebhookSignatureVerifier("54321").VerifyJsonBody(
      "a9nBmqA0ju/hNViExpshrM61xv4=", url, kJsonBody));
}

TEST(WebhookSignatureVerifierTest, JsonBodyNeedsTheHashInTheUrl) {
  WebhookSignatureVerifier verifier(kToken);
  EXPECT_FALSE(verifier.VerifyJsonBody(ComputeTwilioSignature(kToken, kUrl, {}),
                                       kUrl, kJsonBody));
}

}  // namespace
}  // namespace jobqueue::shim
