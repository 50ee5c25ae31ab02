#include "tests/support/pgbouncer.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace jobqueue {
namespace {

constexpr char kBinary[] = "/usr/sbin/pgbouncer";

struct UrlParts {
  std::string scheme_and_user;  // "postgresql://user@" (or without user)
  std::string host;
  std::string port;
  std::string rest;  // "/database?..."
};

// postgresql://[user[:password]@]host[:port][/database][?params]
absl::StatusOr<UrlParts> Split(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("not a URL: ", url));
  }
  size_t start = scheme + 3;
  const size_t slash = url.find('/', start);
  const size_t end = slash == std::string::npos ? url.size() : slash;
  const size_t at = url.rfind('@', end);
  if (at != std::string::npos && at >= start) start = at + 1;
  UrlParts parts{url.substr(0, start), url.substr(start, end - start), "5432",
                 url.substr(end)};
  if (const size_t colon = parts.host.rfind(':'); colon != std::string::npos) {
    parts.port = parts.host.substr(colon + 1);
    parts.host = parts.host.substr(0, colon);
  }
  if (parts.host.empty()) parts.host = "127.0.0.1";
  return parts;
}

// PgBouncer's config and user list in `dir`, for `server` on `port`.
void WriteConfig(const std::string& dir, const UrlParts& server,
                 const std::string& pool_mode, int port) {
  {
    std::ofstream users(dir + "/userlist.txt");
    // trust still wants every user listed; a wildcard is not accepted.
    for (const char* user :
         {"postgres", "anon", "authenticated", "service_role", "jobqueue"}) {
      users << '"' << user << "\" \"\"\n";
    }
    std::ofstream ini(dir + "/pgbouncer.ini");
    ini << "[databases]\n"
        << "* = host=" << server.host << " port=" << server.port << "\n"
        << "[pgbouncer]\n"
        << "listen_addr = 127.0.0.1\n"
        << "listen_port = " << port << "\n"
        << "unix_socket_dir =\n"
        << "auth_type = trust\n"
        << "auth_file = " << dir << "/userlist.txt\n"
        << "pool_mode = " << pool_mode << "\n"
        << "max_client_conn = 1000\n"
        << "default_pool_size = 40\n"
        << "max_db_connections = 60\n"
        << "server_lifetime = 3600\n"
        << "logfile =\n"
        << "pidfile =\n"
        << "ignore_startup_parameters = extra_float_digits\n";
  }
  chmod((dir + "/pgbouncer.ini").c_str(), 0644);
  chmod((dir + "/userlist.txt").c_str(), 0644);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgBouncer>> PgBouncer::Start(
    const std::string& server_url, const std::string& pool_mode) {
  if (access(kBinary, X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(kBinary,
                     " is missing: run tools/setup (package "
                     "pgbouncer)"));
  }
  absl::StatusOr<UrlParts> server = Split(server_url);
  if (!server.ok()) return server.status();
  // Under /tmp, not $TEST_TMPDIR: the postgres user must reach the config
  // when PgBouncer runs as it, and the test's directory may be private.
  std::string dir =
      absl::StrCat("/tmp/jobqueue-pgbouncer-", pool_mode, "-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", dir, " failed"));
  }
  chmod(dir.c_str(), 0755);
  // The port is picked before PgBouncer binds it (it cannot be told 0), so
  // another process may take it in between: then PgBouncer says "nowhere
  // to listen on" and exits, and another port is tried.
  for (int attempt = 1;; ++attempt) {
    const int port = UnusedTcpPort();
    WriteConfig(dir, *server, pool_mode, port);
    std::vector<std::string> args;
    if (geteuid() == 0) args = {"-u", "postgres"};
    args.push_back(dir + "/pgbouncer.ini");
    absl::StatusOr<std::unique_ptr<ChildProcess>> process =
        ChildProcess::Start(kBinary, args);
    if (!process.ok()) return process.status();
    // Up, or a FATAL line (it exits then), within 10 s.
    for (int i = 0; i < 100; ++i) {
      if ((*process)->WaitForOutput("process up", absl::Milliseconds(100))) {
        return std::unique_ptr<PgBouncer>(
            new PgBouncer(*std::move(process), std::move(dir), port));
      }
      if (absl::StrContains((*process)->output(), "FATAL")) break;
    }
    (*process)->Signal(SIGINT).IgnoreError();
    (*process)->Wait(absl::Seconds(5)).IgnoreError();
    const std::string output = (*process)->output();
    if (attempt == 3 || !absl::StrContains(output, "nowhere to listen")) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
      return absl::UnavailableError(
          absl::StrCat("pgbouncer did not start:\n", output));
    }
  }
}

PgBouncer::~PgBouncer() {
  process_->Signal(SIGINT).IgnoreError();
  process_->Wait(absl::Seconds(5)).IgnoreError();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PgBouncer::Url(const std::string& url) const {
  absl::StatusOr<UrlParts> parts = Split(url);
  if (!parts.ok()) return url;
  return absl::StrCat(parts->scheme_and_user, "127.0.0.1:", port_, parts->rest);
}

}  // namespace jobqueue
