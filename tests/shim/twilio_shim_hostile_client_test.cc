// twilio_shim facing hostile clients over real sockets: an endless chunked
// body and a gzip bomb are refused without growing the process, and hundreds
// of slow connections do not keep a signed webhook from its 200.

#include <sys/types.h>
#include <zlib.h>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "shim/webhook/raw_http_client.h"
#include "shim/webhook/webhook_signature.h"
#include "tests/support/shim_stack.h"

namespace jobqueue::shim {
namespace {

// The shim's largest resident set so far, from /proc; -1 when unknown.
int64_t PeakRssKib(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "VmHWM:")) {
      int64_t kib = -1;
      rest = absl::StripAsciiWhitespace(rest);
      absl::ConsumeSuffix(&rest, " kB");
      return absl::SimpleAtoi(rest, &kib) ? kib : -1;
    }
  }
  return -1;
}

// The shim's peak in these tests: 21-28 MiB plain; under ASan, whose shadow
// memory and quarantine add to it, 68-105 MiB.
#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kMaxPeakRssKib = 200 << 10;
#else
constexpr int64_t kMaxPeakRssKib = 100 << 10;
#endif

// `size` zero bytes, gzip-compressed.
std::string GzipZeros(size_t size) {
  z_stream stream = {};
  EXPECT_EQ(
      deflateInit2(&stream, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY),
      Z_OK);
  const std::string zeros(1 << 20, '\0');
  std::string out;
  char buffer[1 << 16];
  size_t left = size;
  int flush = Z_NO_FLUSH;
  do {
    if (stream.avail_in == 0 && flush == Z_NO_FLUSH) {
      const size_t n = std::min(left, zeros.size());
      stream.next_in =
          reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
      stream.avail_in = static_cast<uInt>(n);
      left -= n;
      if (left == 0) flush = Z_FINISH;
    }
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    const int result = deflate(&stream, flush);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (result == Z_STREAM_END) break;
  } while (out.size() < size);
  deflateEnd(&stream);
  return out;
}

class TwilioShimHostileClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A short request deadline, so that the slow connections are cut off
    // within the test.
    absl::StatusOr<std::unique_ptr<ShimStack>> stack =
        ShimStack::Start({.shim_flags = {"--request_read_timeout=4s"}});
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
  }

  std::unique_ptr<RawHttpConnection> Connect() {
    return RawHttpConnection::Connect(stack_->shim_port());
  }

  // A request header for POST /twilio/messages with a forged signature.
  static std::string ForgedHeader(absl::string_view framing) {
    return absl::StrCat(
        "POST /twilio/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "X-Twilio-Signature: Zm9yZ2Vk\r\n",
        framing, "\r\n");
  }

  // Posts a properly signed SMS delivery; its status, or 0 without answer.
  int PostSigned(absl::string_view sid) {
    const std::string body = FormEncode({{"MessageSid", std::string(sid)},
                                         {"From", "+14155550100"},
                                         {"To", "+18005551212"},
                                         {"Body", "through the crowd"}});
    absl::StatusOr<FormParams> params = ParseFormUrlEncoded(body);
    EXPECT_TRUE(params.ok());
    const std::string signature = ComputeTwilioSignature(
        ShimStack::kAuthToken, stack_->PublicUrl("/twilio/messages"), *params);
    httplib::Result result = stack_->Post("/twilio/messages", body, signature);
    return result ? result->status : 0;
  }

  void ExpectHealthyAndSmall() {
    httplib::Result health = stack_->Get("/healthz");
    ASSERT_TRUE(health) << stack_->Outputs();
    EXPECT_EQ(health->status, 200);
    const int64_t peak = PeakRssKib(stack_->shim_pid());
    ASSERT_GT(peak, 0);
    EXPECT_LT(peak, kMaxPeakRssKib) << "peak RSS " << peak << " KiB";
    std::printf("twilio_shim peak RSS (VmHWM): %lld KiB\n",
                static_cast<long long>(peak));
  }

  std::unique_ptr<ShimStack> stack_;
};

TEST_F(TwilioShimHostileClientTest, AnEndlessChunkedBodyIsRefusedEarly) {
  std::unique_ptr<RawHttpConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  ASSERT_TRUE(connection->Send(ForgedHeader("Transfer-Encoding: chunked\r\n")));
  // 300 MB in chunks of 64 KiB, sent until the shim answers or closes.
  const std::string chunk =
      absl::StrFormat("%x\r\n%s\r\n", 1 << 16, std::string(1 << 16, 'a'));
  constexpr int64_t kTotal = 300'000'000;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int64_t sent = 0;
  while (sent < kTotal && absl::Now() < deadline &&
         !connection->Readable(absl::ZeroDuration())) {
    if (!connection->Send(chunk, absl::Seconds(5))) break;
    sent += 1 << 16;
  }
  EXPECT_LT(sent, 10'000'000) << "the shim kept reading";
  std::optional<RawHttpResponse> answer =
      connection->ReadResponse(absl::Seconds(5));
  // A reset may destroy the answer; being cut off is refusal enough.
  if (answer.has_value()) {
    EXPECT_EQ(answer->status, 413);
  }
  std::printf("chunked flood: %lld bytes sent before the shim %s\n",
              static_cast<long long>(sent),
              answer.has_value()
                  ? absl::StrCat("answered ", answer->status).c_str()
                  : "closed");
  ExpectHealthyAndSmall();
}

TEST_F(TwilioShimHostileClientTest, AGzipBombIsRefusedUnread) {
  // 60 MB of zeros, about 60 KB compressed: under the 64 KiB body limit.
  const std::string bomb = GzipZeros(60'000'000);
  ASSERT_LT(bomb.size(), 65536u);
  std::unique_ptr<RawHttpConnection> connection = Connect();
  ASSERT_NE(connection, nullptr);
  connection->Send(absl::StrCat(
      ForgedHeader(absl::StrCat(
          "Content-Encoding: gzip\r\nContent-Length: ", bomb.size(), "\r\n")),
      bomb));
  std::optional<RawHttpResponse> answer =
      connection->ReadResponse(absl::Seconds(10));
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 415);
  ExpectHealthyAndSmall();
}

TEST_F(TwilioShimHostileClientTest, SlowConnectionsDoNotDelaySignedWebhooks) {
  // 300 connections, each sending one header line per second and never
  // finishing its request.
  constexpr int kSlow = 300;
  std::vector<std::unique_ptr<RawHttpConnection>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(Connect());
    ASSERT_NE(slow.back(), nullptr) << i;
    ASSERT_TRUE(slow.back()->Send(
        "POST /twilio/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  }
  const absl::Time slow_start = absl::Now();
  for (int second = 0; second < 3; ++second) {
    absl::SleepFor(absl::Seconds(1));
    for (auto& connection : slow) {
      connection->Send(absl::StrFormat("X-Slow-%d: still typing\r\n", second),
                       absl::Milliseconds(100));
    }
    const absl::Time start = absl::Now();
    EXPECT_EQ(PostSigned(absl::StrFormat("SM%032d", second)), 200)
        << stack_->Outputs();
    const absl::Duration took = absl::Now() - start;
    EXPECT_LT(took, absl::Seconds(2));
    std::printf("signed webhook with %d slow connections open: %s\n", kSlow,
                absl::FormatDuration(took).c_str());
  }
  // The shim runs with --request_read_timeout=4s: each slow connection is
  // answered 408 or closed soon after, while it keeps sending.
  int cut = 0;
  const absl::Time deadline = slow_start + absl::Seconds(10);
  for (auto& connection : slow) {
    connection->Send("X-Slow-last: still typing\r\n", absl::Milliseconds(10));
    if (connection->WaitForClose(deadline - absl::Now())) ++cut;
  }
  EXPECT_EQ(cut, kSlow);
  std::printf("slow connections cut off after %s\n",
              absl::FormatDuration(absl::Now() - slow_start).c_str());
  ExpectHealthyAndSmall();
}

}  // namespace
}  // namespace jobqueue::shim
