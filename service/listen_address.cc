#include "service/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace jobqueue {

absl::StatusOr<HostPort> SplitHostPort(absl::string_view address) {
  const absl::Status malformed = absl::InvalidArgumentError(
      absl::StrCat("\"", address,
                   "\" is not host:port (an IPv6 host in brackets: [::1]:80)"));
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return malformed;
  absl::string_view host = address.substr(0, colon);
  const absl::string_view port_text = address.substr(colon + 1);
  if (absl::ConsumePrefix(&host, "[")) {
    if (!absl::ConsumeSuffix(&host, "]")) return malformed;
  } else if (absl::StrContains(host, ':') || absl::StrContains(host, ']')) {
    return malformed;
  }
  HostPort result;
  if (host.empty() || port_text.empty() ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return absl::ascii_isdigit(c); }) ||
      !absl::SimpleAtoi(port_text, &result.port) || result.port > 65535) {
    return malformed;
  }
  result.host = std::string(host);
  return result;
}

std::string JoinHostPort(absl::string_view host, int port) {
  return absl::StrContains(host, ':') ? absl::StrCat("[", host, "]:", port)
                                      : absl::StrCat(host, ":", port);
}

bool IsLoopbackHost(absl::string_view host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string text(host);
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) ||
           (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

bool IsLoopbackListenAddress(absl::string_view listen) {
  if (absl::StartsWith(listen, "unix:") ||
      absl::StartsWith(listen, "unix-abstract:")) {
    return true;
  }
  absl::StatusOr<HostPort> address = SplitHostPort(listen);
  return address.ok() && IsLoopbackHost(address->host);
}

}  // namespace jobqueue
