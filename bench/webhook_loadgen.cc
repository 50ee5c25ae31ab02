// webhook_loadgen: posts signed Twilio SMS webhooks to the shim from many
// connections at once and prints one result line (see recorder.h). A 200
// means the delivery is durable: a job, or fsync'd in the shim's spool.
//
//   webhook_loadgen --shim=http://127.0.0.1:8080 --auth_token=TOKEN
//       --concurrency=16 --duration=10s

#include <atomic>
#include <cctype>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/recorder.h"
#include "httplib.h"
#include "service/twilio/webhook_signature.h"

ABSL_FLAG(std::string, shim, "http://127.0.0.1:8080", "the shim's base URL");
ABSL_FLAG(std::string, public_base_url, "",
          "the URL the shim checks signatures against; defaults to --shim");
ABSL_FLAG(std::string, auth_token, "", "the shim's TWILIO_AUTH_TOKEN");
ABSL_FLAG(int, concurrency, 16, "connections posting at once");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "run time");

namespace {

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

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string shim = absl::GetFlag(FLAGS_shim);
  std::string base = absl::GetFlag(FLAGS_public_base_url);
  if (base.empty()) base = shim;
  const std::string url = base + "/twilio/messages";
  const std::string token = absl::GetFlag(FLAGS_auth_token);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);

  jobqueue::bench::Recorder recorder;
  std::atomic<int64_t> n{absl::ToUnixMicros(absl::Now())};
  const absl::Time start = absl::Now();
  const absl::Time until = start + absl::GetFlag(FLAGS_duration);
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      httplib::Client client(shim);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      while (absl::Now() < until) {
        const int64_t i = n++;
        const jobqueue::twilio::FormParams params = {
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
        httplib::Headers headers = {
            {"X-Twilio-Signature",
             jobqueue::twilio::ComputeTwilioSignature(token, url, params)}};
        const absl::Time begin = absl::Now();
        auto response =
            client.Post("/twilio/messages", headers, absl::StrJoin(pairs, "&"),
                        "application/x-www-form-urlencoded");
        recorder.Add(absl::Now() - begin, response && response->status == 200);
      }
    });
  }
  for (auto& t : threads) t.join();
  recorder.Print(absl::StrCat("scenario=webhooks concurrency=", concurrency),
                 absl::Now() - start);
  return 0;
}
