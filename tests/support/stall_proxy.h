// A TCP proxy on loopback in front of PostgreSQL that can stop passing
// bytes, which is how a hung database (paused, or its packets dropped)
// looks to its clients: connections stay open and nothing comes back.
//
//   auto proxy = StallProxy::Start("127.0.0.1", 54329);
//   ... connect to 127.0.0.1:(*proxy)->port() ...
//   (*proxy)->Stall();   // every connection, old and new, hangs
//   (*proxy)->Resume();

#ifndef JOBQUEUE_TESTS_SUPPORT_STALL_PROXY_H_
#define JOBQUEUE_TESTS_SUPPORT_STALL_PROXY_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace jobqueue {

class StallProxy {
 public:
  static absl::StatusOr<std::unique_ptr<StallProxy>> Start(
      const std::string& target_host, int target_port);
  // Closes every connection.
  ~StallProxy();

  int port() const { return port_; }
  // From now on no byte passes, and new connections are accepted but not
  // connected through.
  void Stall();
  void Resume() { stalled_ = false; }

 private:
  StallProxy(int listen_fd, int port, std::string target_host, int target_port);
  void Accept();
  void Serve(int client_fd);
  // Copies from `from` to `to` until either closes or the proxy stops.
  void Pump(int from, int to);

  const int listen_fd_;
  const int port_;
  const std::string target_host_;
  const int target_port_;
  std::atomic<bool> stalled_{false};
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::thread acceptor_;
};

// `url` (postgresql://user@host:port/db...) with host and port replaced.
std::string WithHostAndPort(const std::string& url, const std::string& host,
                            int port);
// The host and port a postgresql:// URL names (port 5432 when absent).
bool HostAndPort(const std::string& url, std::string* host, int* port);

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_STALL_PROXY_H_
