// Decides whether the console may answer a request, before anything is
// read or changed: the checks against cross-site requests (CSRF) and DNS
// rebinding. Pure: it sees only the request's headers.
//
// An API call (POST /console/api/...) must carry
//   Content-Type: application/json and X-Jobqueue-Console: 1 — a page on
//   another site cannot send either without a CORS preflight, which the
//   console never answers;
//   no Origin, or the console's own (http://<Host>);
//   no Sec-Fetch-Site, or same-origin / none.
// Without a token (auth off, allowed on loopback only) the Host must also be
// a loopback address, so a rebound DNS name cannot reach it from a browser.
//
//   RequestFacts facts{.host = req.get_header_value("Host"), ...};
//   if (absl::Status s = CheckApiRequest(facts, token_set); !s.ok()) 403

#ifndef JOBQUEUE_CONSOLE_REQUEST_GUARD_H_
#define JOBQUEUE_CONSOLE_REQUEST_GUARD_H_

#include <string>

#include "absl/status/status.h"

namespace jobqueue::console {

struct RequestFacts {
  std::string host;            // Host header
  std::string origin;          // Origin header, empty when absent
  std::string sec_fetch_site;  // Sec-Fetch-Site header, empty when absent
  std::string content_type;    // Content-Type header
  std::string console_header;  // X-Jobqueue-Console header
};

// OK, or PERMISSION_DENIED naming the header that is wrong.
absl::Status CheckApiRequest(const RequestFacts& facts, bool token_required);

// OK, or PERMISSION_DENIED when the Host is not a loopback address while no
// token is required (pages and assets are checked this way too).
absl::Status CheckHost(const std::string& host, bool token_required);

}  // namespace jobqueue::console

#endif  // JOBQUEUE_CONSOLE_REQUEST_GUARD_H_
