#include "tests/fault/soak.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tests/fault/history.h"
#include "tests/fault/private_postgres.h"
#include "tests/fault/rss_slope.h"
#include "tests/fault/workload.h"

namespace jobqueue::fault {

SoakResult RunSoak(const SoakOptions& options, std::ostream& log) {
  SoakResult result;
  auto fail = [&](const std::string& why) {
    result.problems.push_back(why);
    return result;
  };
  auto pg = PrivatePostgres::Start();
  if (!pg.ok())
    return fail(absl::StrCat("private PostgreSQL: ", pg.status().ToString()));
  auto url = (*pg)->CreateMigratedDatabase("jobqueue");
  if (!url.ok()) return fail(url.status().ToString());
  std::vector<std::string> addresses;
  std::vector<std::unique_ptr<ChildProcess>> servers;
  std::vector<std::unique_ptr<v1::JobQueue::Stub>> stubs;
  for (int i = 0; i < 2; ++i) {
    addresses.push_back(absl::StrCat("127.0.0.1:", UnusedTcpPort()));
    auto server = StartServer(options.server_binary, *url, addresses[i]);
    if (!server.ok()) return fail(server.status().ToString());
    servers.push_back(std::move(*server));
    stubs.push_back(v1::JobQueue::NewStub(
        grpc::CreateChannel(addresses[i], grpc::InsecureChannelCredentials())));
  }
  std::vector<v1::JobQueue::Stub*> both = {stubs[0].get(), stubs[1].get()};

  History history;
  std::atomic<bool> done{false};
  const absl::Time start = absl::Now();
  const absl::Time stop = start + options.duration;
  std::vector<std::thread> threads;
  for (int c = 0; c < options.enqueuers; ++c) {
    threads.emplace_back([&, c] {
      RunEnqueuer(both,
                  {.name = absl::StrCat("e", c),
                   .conversations = 24,
                   .max_jobs = 10000000,
                   .deadline = absl::Seconds(2),
                   .pause = absl::Milliseconds(20)},
                  stop, history);
    });
  }
  for (int w = 0; w < options.workers; ++w) {
    threads.emplace_back([&, w] {
      RunWorker(both,
                {.name = absl::StrCat("w", w),
                 .seed = 5000u + w,
                 .max_claims = 100000000},
                stop, done, history);
    });
  }

  // Faults in turn, and a sample of each server every second; each
  // process's samples since its first, for its RSS slope at the end.
  struct Sampled {
    pid_t pid = 0;
    absl::Time born;
    long first_rss_kib = 0;
    RssSeries series;
  };
  std::vector<Sampled> sampled(servers.size());
  absl::Time next_fault = start + options.fault_every;
  int kills = 0;
  for (int tick = 0; absl::Now() < stop && tick < 100000000; ++tick) {
    std::string line =
        absl::StrCat("t=", absl::ToInt64Seconds(absl::Now() - start), "s");
    for (size_t i = 0; i < servers.size(); ++i) {
      const ProcessUsage u = Usage(servers[i]->pid());
      const absl::Time now = absl::Now();
      if (sampled[i].pid != servers[i]->pid()) {
        sampled[i] = {
            .pid = servers[i]->pid(), .born = now, .first_rss_kib = u.rss_kib};
      }
      sampled[i].series.Add(now - sampled[i].born, u.rss_kib);
      result.most_rss_kib = std::max(result.most_rss_kib, u.rss_kib);
      result.most_threads = std::max(result.most_threads, u.threads);
      absl::StrAppend(&line, " server", i, " pid=", servers[i]->pid(),
                      " rss_kib=", u.rss_kib, " threads=", u.threads);
    }
    absl::StrAppend(&line, " calls=", history.size());
    log << line << std::endl;
    if (absl::Now() >= next_fault && absl::Now() + absl::Seconds(3) < stop) {
      const std::string kind =
          options.faults.empty()
              ? ""
              : options.faults[result.faults % options.faults.size()];
      ++result.faults;
      if (kind.empty()) {
        --result.faults;
      } else if (kind == "kill") {
        const int i = kills++ % 2;
        log << "fault: SIGKILL server" << i << std::endl;
        servers[i]->Signal(SIGKILL).IgnoreError();
        servers[i]->Wait(absl::Seconds(5)).IgnoreError();
        auto server = StartServer(options.server_binary, *url, addresses[i]);
        if (!server.ok()) {
          result.problems.push_back(server.status().ToString());
          break;
        }
        servers[i] = std::move(*server);
      } else if (kind == "crash") {
        log << "fault: PostgreSQL crash (immediate stop) and restart"
            << std::endl;
        const absl::Time crash = absl::Now();
        absl::Status s = (*pg)->Crash();
        const absl::Time stopped = absl::Now();
        absl::SleepFor(absl::Milliseconds(500));
        const absl::Time restart = absl::Now();
        if (s.ok()) s = (*pg)->Restart();
        log << "  immediate stop took " << (stopped - crash)
            << ", restart (with recovery) " << (absl::Now() - restart)
            << std::endl;
        if (!s.ok()) {
          result.problems.push_back(s.ToString());
          break;
        }
      } else if (kind == "pause") {
        log << "fault: PostgreSQL paused (SIGSTOP) for 2 s" << std::endl;
        (*pg)->Pause().IgnoreError();
        absl::SleepFor(absl::Seconds(2));
        (*pg)->Resume().IgnoreError();
      }
      next_fault = absl::Now() + options.fault_every;
    }
    absl::SleepFor(absl::Seconds(1));
  }
  done = true;
  for (std::thread& t : threads) t.join();
  for (size_t i = 0; i < servers.size(); ++i) {
    if (servers[i]->Wait(absl::ZeroDuration()).ok()) {
      result.problems.push_back(absl::StrCat(
          "server", i, " exited on its own: ", servers[i]->output()));
    }
  }

  const std::vector<Call> calls = history.Snapshot();
  result.calls = calls.size();
  for (const Call& c : calls) {
    result.enqueued += c.kind == Call::kEnqueue && c.ok;
    result.completed += c.kind == Call::kComplete && c.ok;
  }
  std::set<std::string> complete;
  auto table = JobsTable(*url, &complete);
  if (!table.ok()) return fail(table.status().ToString());
  for (const std::vector<std::string>& found :
       {CheckHistory(calls), CheckEnqueues(calls, *table),
        CheckCompletions(calls, complete)}) {
    result.problems.insert(result.problems.end(), found.begin(), found.end());
  }
  for (size_t i = 0; i < servers.size(); ++i) {
    const Sampled& p = sampled[i];
    const std::optional<double> slope =
        p.series.SlopeKibPerMinute(options.rss_warmup);
    result.rss_slopes.push_back(slope);
    log << "server" << i << " (pid " << p.pid << "): VmRSS " << p.first_rss_kib
        << " KiB at its first sample, " << Usage(p.pid).rss_kib
        << " KiB at the end; "
        << (slope ? absl::StrFormat("%.1f KiB/min", *slope)
                  : std::string("no slope"))
        << " after its " << options.rss_warmup << " warm-up (it lived "
        << absl::Trunc(p.series.age(), absl::Seconds(1)) << "; bound "
        << options.max_rss_slope << " KiB/min)" << std::endl;
    if (slope && *slope > options.max_rss_slope) {
      result.problems.push_back(absl::StrFormat(
          "server%d's RSS grew %.1f KiB/min after its %s warm-up, past the "
          "bound of %g KiB/min",
          i, *slope, absl::FormatDuration(options.rss_warmup),
          options.max_rss_slope));
    }
  }
  log << "soak: " << absl::FormatDuration(absl::Now() - start) << ", "
      << result.faults << " faults, " << result.calls << " calls, "
      << result.enqueued << " enqueues and " << result.completed
      << " completions acknowledged, " << table->size() << " jobs ("
      << complete.size() << " complete); most VmRSS " << result.most_rss_kib
      << " KiB, most threads " << result.most_threads << "; "
      << result.problems.size() << " violations" << std::endl;
  for (const std::string& p : result.problems) {
    log << "VIOLATION: " << p << std::endl;
  }
  return result;
}

}  // namespace jobqueue::fault
