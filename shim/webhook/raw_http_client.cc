#include "shim/webhook/raw_http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace jobqueue::shim {
namespace {

int PollMillis(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60 * 1000));
}

}  // namespace

std::unique_ptr<RawHttpConnection> RawHttpConnection::Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address),
              sizeof(address)) != 0) {
    close(fd);
    return nullptr;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return std::unique_ptr<RawHttpConnection>(new RawHttpConnection(fd));
}

RawHttpConnection::~RawHttpConnection() { close(fd_); }

bool RawHttpConnection::Send(absl::string_view data, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!data.empty()) {
    pollfd p = {fd_, POLLOUT, 0};
    if (poll(&p, 1, PollMillis(deadline)) <= 0) return false;
    const ssize_t sent =
        send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

bool RawHttpConnection::Readable(absl::Duration timeout) {
  if (!pending_.empty()) return true;
  pollfd p = {fd_, POLLIN, 0};
  return poll(&p, 1, PollMillis(absl::Now() + timeout)) > 0;
}

bool RawHttpConnection::Fill(absl::Time deadline) {
  pollfd p = {fd_, POLLIN, 0};
  if (poll(&p, 1, PollMillis(deadline)) <= 0) return false;
  char buffer[16 << 10];
  const ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n <= 0) return n < 0 && (errno == EAGAIN || errno == EINTR);
  pending_.append(buffer, static_cast<size_t>(n));
  return true;
}

std::optional<RawHttpResponse> RawHttpConnection::ReadResponse(
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t header_end;
  while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (absl::Now() >= deadline || !Fill(deadline)) return std::nullopt;
  }
  RawHttpResponse response;
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(pending_).substr(0, header_end), "\r\n");
  // "HTTP/1.1 200 OK"
  std::vector<absl::string_view> status_line =
      absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  if (status_line.size() < 2 ||
      !absl::SimpleAtoi(status_line[1], &response.status)) {
    return std::nullopt;
  }
  size_t content_length = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    if (name == "content-length" && !absl::SimpleAtoi(value, &content_length)) {
      return std::nullopt;
    }
    response.headers[name] = value;
  }
  const size_t body_start = header_end + 4;
  while (pending_.size() < body_start + content_length) {
    if (absl::Now() >= deadline || !Fill(deadline)) return std::nullopt;
  }
  response.body = pending_.substr(body_start, content_length);
  pending_.erase(0, body_start + content_length);
  return response;
}

bool RawHttpConnection::WaitForClose(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buffer[16 << 10];
  while (true) {
    pollfd p = {fd_, POLLIN, 0};
    if (poll(&p, 1, PollMillis(deadline)) <= 0) return false;
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
  }
}

}  // namespace jobqueue::shim
