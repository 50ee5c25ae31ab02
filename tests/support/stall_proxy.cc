#include "tests/support/stall_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jobqueue {
namespace {

constexpr int kPollMs = 50;

// Waits up to kPollMs for `fd` to be readable.
bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, kPollMs) > 0;
}

int ConnectTo(const std::string& host, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (fd < 0 || inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

// [scheme://][user@]host[:port][/...]: the span of host[:port].
bool Authority(const std::string& url, size_t* begin, size_t* end) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  *end = url.find_first_of("/?", scheme + 3);
  if (*end == std::string::npos) *end = url.size();
  const size_t at = url.rfind('@', *end);
  *begin = at != std::string::npos && at > scheme ? at + 1 : scheme + 3;
  return *end > *begin;
}

}  // namespace

bool HostAndPort(const std::string& url, std::string* host, int* port) {
  size_t begin, end;
  if (!Authority(url, &begin, &end)) return false;
  const std::string authority = url.substr(begin, end - begin);
  const size_t colon = authority.rfind(':');
  *host = authority.substr(0, colon);
  *port = 5432;
  return colon == std::string::npos ||
         absl::SimpleAtoi(authority.substr(colon + 1), port);
}

std::string WithHostAndPort(const std::string& url, const std::string& host,
                            int port) {
  size_t begin, end;
  if (!Authority(url, &begin, &end)) return url;
  return absl::StrCat(url.substr(0, begin), host, ":", port, url.substr(end));
}

absl::StatusOr<std::unique_ptr<StallProxy>> StallProxy::Start(
    const std::string& target_host, int target_port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(fd, 128) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError("cannot listen on loopback");
  }
  return std::unique_ptr<StallProxy>(
      new StallProxy(fd, ntohs(addr.sin_port), target_host, target_port));
}

StallProxy::StallProxy(int listen_fd, int port, std::string target_host,
                       int target_port)
    : listen_fd_(listen_fd),
      port_(port),
      target_host_(std::move(target_host)),
      target_port_(target_port),
      acceptor_([this] { Accept(); }) {}

StallProxy::~StallProxy() {
  stopping_ = true;
  acceptor_.join();
  close(listen_fd_);
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

void StallProxy::Stall() {
  stalled_ = true;
  // Copies already past their check finish first.
  usleep(3 * kPollMs * 1000);
}

void StallProxy::Accept() {
  while (!stopping_) {
    if (!Readable(listen_fd_)) continue;
    const int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    absl::MutexLock lock(&mu_);
    threads_.emplace_back([this, client] { Serve(client); });
  }
}

void StallProxy::Serve(int client) {
  while (stalled_ && !stopping_) usleep(kPollMs * 1000);
  const int server = stopping_ ? -1 : ConnectTo(target_host_, target_port_);
  if (server >= 0) {
    std::thread back([this, server, client] { Pump(server, client); });
    Pump(client, server);
    back.join();
    close(server);
  }
  close(client);
}

void StallProxy::Pump(int from, int to) {
  char buffer[16384];
  while (!stopping_) {
    if (stalled_) {
      usleep(kPollMs * 1000);
      continue;
    }
    if (!Readable(from) || stalled_) continue;
    const ssize_t n = read(from, buffer, sizeof(buffer));
    if (n <= 0) break;
    for (ssize_t sent = 0; sent < n;) {
      const ssize_t w = write(to, buffer + sent, n - sent);
      if (w <= 0) return;
      sent += w;
    }
  }
  shutdown(to, SHUT_WR);
}

}  // namespace jobqueue
