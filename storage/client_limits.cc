#include "storage/client_limits.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace jobqueue {
namespace {

// Seconds to connect; then keepalive probes after 10 s idle, every 5 s, 3
// unanswered ending the connection; and 15 s for sent data to be
// acknowledged.
constexpr std::pair<const char*, const char*> kLimits[] = {
    {"connect_timeout", "5"},  {"keepalives", "1"},
    {"keepalives_idle", "10"}, {"keepalives_interval", "5"},
    {"keepalives_count", "3"}, {"tcp_user_timeout", "15000"},
};

}  // namespace

std::string WithClientLimits(const std::string& url) {
  const bool uri = absl::StartsWith(url, "postgresql://") ||
                   absl::StartsWith(url, "postgres://");
  std::string out = url;
  for (const auto& [key, value] : kLimits) {
    if (absl::StrContains(url, absl::StrCat(key, "="))) continue;
    if (uri) {
      absl::StrAppend(&out, absl::StrContains(out, "?") ? "&" : "?", key, "=",
                      value);
    } else {
      absl::StrAppend(&out, out.empty() ? "" : " ", key, "=", value);
    }
  }
  return out;
}

}  // namespace jobqueue
