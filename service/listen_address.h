// The "host:port" addresses the servers listen on (--listen,
// --metrics_listen), and whether one can only be reached from this machine.
// Pure: no name is looked up.
//
//   absl::StatusOr<HostPort> address = SplitHostPort("[::1]:0");
//   address->host == "::1", address->port == 0
//   IsLoopbackListenAddress("127.0.0.1:50051")  // true
//   IsLoopbackListenAddress("0.0.0.0:50051")    // false: every interface

#ifndef JOBQUEUE_SERVICE_LISTEN_ADDRESS_H_
#define JOBQUEUE_SERVICE_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jobqueue {

struct HostPort {
  std::string host;  // without the brackets of an IPv6 address
  int port = 0;      // 0: any free port
};

// Splits "host:port", with an IPv6 host in brackets ("[::1]:8080"); the port
// is 0 to 65535. INVALID_ARGUMENT for anything else (no port, no host, an
// IPv6 host without brackets).
absl::StatusOr<HostPort> SplitHostPort(absl::string_view address);

// "host:port", with an IPv6 host in brackets: what SplitHostPort takes.
std::string JoinHostPort(absl::string_view host, int port);

// True when `host` names only this machine: localhost, 127.0.0.0/8 or ::1
// (in any spelling, also as ::ffff:127.x.y.z). Any other name is false, even
// one that resolves to a loopback address, and so are 0.0.0.0 and ::, which
// mean every interface.
bool IsLoopbackHost(absl::string_view host);

// True when a server listening on `listen` (host:port, or gRPC's unix:PATH
// and unix-abstract:NAME) can only be reached from this machine. False for
// an address SplitHostPort refuses.
bool IsLoopbackListenAddress(absl::string_view listen);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_LISTEN_ADDRESS_H_
