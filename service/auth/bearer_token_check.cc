#include "service/auth/bearer_token_check.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/match.h"

namespace jobqueue {
namespace {

constexpr absl::string_view kScheme = "Bearer ";

std::string Digest(absl::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

}  // namespace

BearerTokenCheck::BearerTokenCheck(absl::string_view token)
    : enabled_(!token.empty()), token_digest_(Digest(token)) {}

absl::Status BearerTokenCheck::Check(
    const grpc::ServerContextBase& context) const {
  if (!enabled_) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError(
        "missing authorization metadata; send 'authorization: Bearer "
        "<token>'");
  }
  return CheckHeader(absl::string_view(it->second.data(), it->second.size()));
}

absl::Status BearerTokenCheck::CheckHeader(
    absl::string_view authorization) const {
  if (!enabled_) return absl::OkStatus();
  if (!absl::StartsWithIgnoreCase(authorization, kScheme)) {
    return absl::UnauthenticatedError("authorization must be 'Bearer <token>'");
  }
  const std::string presented = Digest(authorization.substr(kScheme.size()));
  if (CRYPTO_memcmp(presented.data(), token_digest_.data(),
                    token_digest_.size()) != 0) {
    return absl::UnauthenticatedError("wrong bearer token");
  }
  return absl::OkStatus();
}

}  // namespace jobqueue
