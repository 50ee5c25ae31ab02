#include "shim/webhook/webhook_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace jobqueue::shim {
namespace {

// The parts of "scheme://authority/rest" that a port change touches, without
// normalizing anything else: the signed string must stay byte for byte.
struct UrlParts {
  absl::string_view scheme;     // "https://"
  absl::string_view user_info;  // "user:pass@" or empty
  absl::string_view host;       // "example.com" or "[::1]"
  absl::string_view port;       // ":8443" or empty
  absl::string_view rest;       // "/path?query"
};

bool SplitUrl(absl::string_view url, UrlParts* parts) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos || scheme_end == 0) return false;
  parts->scheme = url.substr(0, scheme_end + 3);
  const absl::string_view after_scheme = url.substr(scheme_end + 3);
  const size_t authority_end = after_scheme.find_first_of("/?#");
  const absl::string_view authority = after_scheme.substr(0, authority_end);
  parts->rest = authority_end == absl::string_view::npos
                    ? absl::string_view()
                    : after_scheme.substr(authority_end);
  const size_t at = authority.rfind('@');
  const size_t host_start = at == absl::string_view::npos ? 0 : at + 1;
  parts->user_info = authority.substr(0, host_start);
  const absl::string_view host_and_port = authority.substr(host_start);
  // In an IPv6 literal the port's colon comes after the closing bracket.
  const size_t bracket = host_and_port.rfind(']');
  const size_t colon = host_and_port.find(
      ':', bracket == absl::string_view::npos ? 0 : bracket + 1);
  parts->host = host_and_port.substr(0, colon);
  parts->port = colon == absl::string_view::npos ? absl::string_view()
                                                 : host_and_port.substr(colon);
  return true;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // The length of a signature or hash is fixed by its algorithm, not secret.
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The value of query parameter `name` in `url`, decoded; empty when absent.
std::string QueryParameter(absl::string_view url, absl::string_view name) {
  const size_t question = url.find('?');
  if (question == absl::string_view::npos) return "";
  absl::string_view query = url.substr(question + 1);
  query = query.substr(0, query.find('#'));
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded(query);
  if (!params.ok()) return "";
  for (const auto& [key, value] : *params) {
    if (key == name) return value;
  }
  return "";
}

}  // namespace

std::string ComputeTwilioSignature(absl::string_view twilio_auth_token,
                                   absl::string_view url,
                                   const FormParams& params) {
  std::map<std::string, std::set<std::string>> sorted;
  for (const auto& [name, value] : params) sorted[name].insert(value);
  std::string data(url);
  for (const auto& [name, values] : sorted) {
    for (const std::string& value : values) absl::StrAppend(&data, name, value);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  HMAC(EVP_sha1(), twilio_auth_token.data(),
       static_cast<int>(twilio_auth_token.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest,
       &digest_length);
  return absl::Base64Escape(
      absl::string_view(reinterpret_cast<const char*>(digest), digest_length));
}

std::vector<std::string> SignedUrlCandidates(absl::string_view url) {
  UrlParts parts;
  if (!SplitUrl(url, &parts)) return {std::string(url)};
  std::vector<std::string> candidates = {
      absl::StrCat(parts.scheme, parts.user_info, parts.host, parts.rest)};
  if (parts.port.empty()) {
    const bool https = absl::EqualsIgnoreCase(parts.scheme, "https://");
    candidates.push_back(absl::StrCat(parts.scheme, parts.user_info, parts.host,
                                      https ? ":443" : ":80", parts.rest));
  } else {
    candidates.push_back(std::string(url));
  }
  return candidates;
}

std::string BodySha256Hex(absl::string_view body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

WebhookSignatureVerifier::WebhookSignatureVerifier(
    std::string twilio_auth_token)
    : twilio_auth_token_(std::move(twilio_auth_token)) {}

bool WebhookSignatureVerifier::VerifyForm(absl::string_view signature,
                                          absl::string_view url,
                                          const FormParams& params) const {
  bool valid = false;
  // Every candidate is computed, so timing does not tell which one matched.
  for (const std::string& candidate : SignedUrlCandidates(url)) {
    valid |= ConstantTimeEquals(
        signature,
        ComputeTwilioSignature(twilio_auth_token_, candidate, params));
  }
  return valid;
}

bool WebhookSignatureVerifier::VerifyJsonBody(absl::string_view signature,
                                              absl::string_view url,
                                              absl::string_view body) const {
  const std::string expected_hash = QueryParameter(url, "bodySHA256");
  if (expected_hash.empty()) return false;
  const bool hash_matches =
      ConstantTimeEquals(expected_hash, BodySha256Hex(body));
  return VerifyForm(signature, url, FormParams()) && hash_matches;
}

}  // namespace jobqueue::shim
