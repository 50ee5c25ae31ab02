// webhook_loadgen: posts signed Twilio SMS webhooks to the shim from many
// connections at once and prints one result line (see recorder.h). A 200
// means the delivery is durable: a job, or fsync'd in the shim's spool.
//
//   webhook_loadgen --shim=http://127.0.0.1:8080 --twilio_auth_token=TOKEN
//       --concurrency=16 --duration=10s [--rate=1000]
//
// Without --rate (or --rate=0) it is closed-loop: each of the --concurrency
// connections posts its next webhook as soon as the last one is answered.
// With --rate=R it is open-loop: webhook i is due at start + i/R, and the
// --concurrency connections send them in turn. Latency is measured from the
// due time, not the send time, so the wait when every connection is busy
// counts (no coordinated omission). Webhooks not yet sent when --duration
// ends are errors. The result line adds target_rate=R and late=N, the number
// sent more than 5 ms after their due time.

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/recorder.h"
#include "httplib.h"
#include "shim/webhook/webhook_signature.h"

ABSL_FLAG(std::string, shim, "http://127.0.0.1:8080", "the shim's base URL");
ABSL_FLAG(std::string, public_base_url, "",
          "the URL the shim checks signatures against; defaults to --shim");
ABSL_FLAG(std::string, twilio_auth_token, "", "the shim's TWILIO_AUTH_TOKEN");
ABSL_FLAG(int, concurrency, 16, "connections posting at once");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "run time");
ABSL_FLAG(double, rate, 0,
          "webhooks per second, sent at fixed intervals; 0: closed-loop");

namespace {

// Sent later than this after its due time, a webhook counts as late.
constexpr absl::Duration kLate = absl::Milliseconds(5);

// application/x-www-form-urlencoded escaping of one name or value.
std::string Encode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return out;
}

// A signed webhook for message number i.
struct Webhook {
  httplib::Headers headers;
  std::string body;
};

Webhook MakeWebhook(const std::string& token, const std::string& url,
                    int64_t i) {
  const jobqueue::shim::FormParams params = {
      {"AccountSid", "ACbench"},
      {"Body", "benchmark message body of a typical size"},
      {"From", absl::StrCat("+1555", 2000000 + i % 1000)},
      {"MessageSid", absl::StrCat("SMbench", i)},
      {"NumMedia", "0"},
      {"To", "+15550000000"},
  };
  std::vector<std::string> pairs;
  for (const auto& [k, v] : params) {
    pairs.push_back(absl::StrCat(Encode(k), "=", Encode(v)));
  }
  return {{{"X-Twilio-Signature",
            jobqueue::shim::ComputeTwilioSignature(token, url, params)}},
          absl::StrJoin(pairs, "&")};
}

// Posts a webhook; true when the shim answered 200.
bool Post(httplib::Client& client, const Webhook& webhook) {
  auto response = client.Post("/twilio/messages", webhook.headers, webhook.body,
                              "application/x-www-form-urlencoded");
  return response && response->status == 200;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string shim = absl::GetFlag(FLAGS_shim);
  std::string base = absl::GetFlag(FLAGS_public_base_url);
  if (base.empty()) base = shim;
  const std::string url = base + "/twilio/messages";
  const std::string token = absl::GetFlag(FLAGS_twilio_auth_token);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const double rate = absl::GetFlag(FLAGS_rate);

  jobqueue::bench::Recorder recorder;
  // MessageSids unique across runs, so the shim never sees a repeat.
  const int64_t first_sid = absl::ToUnixMicros(absl::Now());
  std::atomic<int64_t> n{0};  // The next message, counted from first_sid.
  std::atomic<int> late{0};
  const absl::Time start = absl::Now();
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Time until = start + duration;
  // In rate mode, the messages due before the end.
  const int64_t total =
      static_cast<int64_t>(rate * absl::ToDoubleSeconds(duration));
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      httplib::Client client(shim);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      if (rate <= 0) {
        while (absl::Now() < until) {
          const Webhook webhook = MakeWebhook(token, url, first_sid + n++);
          const absl::Time begin = absl::Now();
          const bool ok = Post(client, webhook);
          recorder.Add(absl::Now() - begin, ok);
        }
        return;
      }
      for (int64_t i = n++; i < total; i = n++) {
        const absl::Time due = start + absl::Seconds(i) / rate;
        const Webhook webhook = MakeWebhook(token, url, first_sid + i);
        absl::SleepFor(due - absl::Now());  // Returns at once if overdue.
        const absl::Time sent = absl::Now();
        if (sent >= until) {  // Too far behind to send it in the run.
          recorder.Add(absl::ZeroDuration(), false);
          continue;
        }
        if (sent - due > kLate) ++late;
        const bool ok = Post(client, webhook);
        recorder.Add(absl::Now() - due, ok);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::string head =
      absl::StrCat("scenario=webhooks concurrency=", concurrency);
  if (rate > 0) {
    absl::StrAppend(&head, " target_rate=", rate, " late=", late.load());
  }
  // The last message in rate mode is due 1/R before the end: still divide by
  // the whole run.
  recorder.Print(head, std::max(absl::Now() - start, duration));
  return 0;
}
