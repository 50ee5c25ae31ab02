#include "console/request_guard.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "service/listen_address.h"

namespace jobqueue::console {
namespace {

absl::Status Denied(absl::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat("console: ", why));
}

}  // namespace

absl::Status CheckHost(const std::string& host, bool token_required) {
  if (host.empty()) return Denied("no Host header");
  if (token_required) return absl::OkStatus();
  absl::StatusOr<HostPort> split = SplitHostPort(host);
  const std::string name = split.ok() ? split->host : host;
  if (!IsLoopbackHost(name)) {
    return Denied(absl::StrCat(
        "Host ", host,
        " is not a loopback address, and without a token the console "
        "answers loopback names only"));
  }
  return absl::OkStatus();
}

absl::Status CheckApiRequest(const RequestFacts& facts, bool token_required) {
  if (absl::Status host = CheckHost(facts.host, token_required); !host.ok()) {
    return host;
  }
  const absl::string_view type =
      absl::StripAsciiWhitespace(absl::string_view(facts.content_type)
                                     .substr(0, facts.content_type.find(';')));
  if (!absl::EqualsIgnoreCase(type, "application/json")) {
    return Denied("Content-Type must be application/json");
  }
  if (facts.console_header != "1") {
    return Denied("the X-Jobqueue-Console: 1 header is missing");
  }
  if (!facts.origin.empty() &&
      facts.origin != absl::StrCat("http://", facts.host) &&
      facts.origin != absl::StrCat("https://", facts.host)) {
    return Denied(absl::StrCat("Origin ", facts.origin,
                               " is not this console's (cross-site request)"));
  }
  if (!facts.sec_fetch_site.empty() && facts.sec_fetch_site != "same-origin" &&
      facts.sec_fetch_site != "none") {
    return Denied(absl::StrCat("Sec-Fetch-Site is ", facts.sec_fetch_site,
                               " (cross-site request)"));
  }
  return absl::OkStatus();
}

}  // namespace jobqueue::console
