// A bare HTTP/1.1 client over one TCP connection, for tests that must send
// what a well-behaved client library would not: a byte at a time, chunked
// bodies that never end, thousands of header fields. Every wait is bounded.
//
//   std::unique_ptr<RawHttpConnection> connection =
//       RawHttpConnection::Connect(port);
//   connection->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
//   std::optional<RawHttpResponse> answer =
//       connection->ReadResponse(absl::Seconds(5));
#ifndef JOBQUEUE_SHIM_WEBHOOK_RAW_HTTP_CLIENT_H_
#define JOBQUEUE_SHIM_WEBHOOK_RAW_HTTP_CLIENT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jobqueue::shim {

struct RawHttpResponse {
  int status = 0;
  // Lowercased names.
  std::map<std::string, std::string> headers;
  std::string body;

  std::string header(const std::string& lowercase_name) const {
    auto it = headers.find(lowercase_name);
    return it == headers.end() ? "" : it->second;
  }
};

class RawHttpConnection {
 public:
  // Connects to 127.0.0.1:`port`; null when that fails.
  static std::unique_ptr<RawHttpConnection> Connect(int port);
  ~RawHttpConnection();

  // Sends all of `data`, waiting at most `timeout` for room; false when the
  // connection failed (closed or reset by the server) or the time ran out.
  bool Send(absl::string_view data, absl::Duration timeout = absl::Seconds(5));
  // True when the server sent something (or closed) within `timeout`.
  bool Readable(absl::Duration timeout);
  // Reads one whole response (Content-Length framed); nullopt when the
  // connection closed first or `timeout` passed.
  std::optional<RawHttpResponse> ReadResponse(absl::Duration timeout);
  // True when the server closed the connection (end of stream or reset)
  // within `timeout`; what it sent before is dropped.
  bool WaitForClose(absl::Duration timeout);

  int fd() const { return fd_; }

 private:
  explicit RawHttpConnection(int fd) : fd_(fd) {}
  // Reads what is there into `pending_`; false on close, error or timeout.
  bool Fill(absl::Time deadline);

  const int fd_;
  std::string pending_;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_WEBHOOK_RAW_HTTP_CLIENT_H_
