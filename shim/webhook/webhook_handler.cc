#include "shim/webhook/webhook_handler.h"

#include <cstdint>
#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "shim/delivery/delivery_attempt.h"
#include "shim/delivery/delivery_limits.h"
#include "shim/delivery/delivery_mapping.h"
#include "shim/delivery/delivery_payload.h"
#include "shim/webhook/form_parser.h"

namespace jobqueue::shim {
namespace {

constexpr absl::string_view kMessagesPath = "/twilio/messages";
constexpr absl::string_view kConversationsPath = "/twilio/conversations";
constexpr absl::string_view kHealthPath = "/healthz";
constexpr absl::string_view kEmptyTwiml =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

absl::string_view PathOf(absl::string_view target) {
  return target.substr(0, target.find('?'));
}

WebhookResponse Text(int status, absl::string_view text) {
  WebhookResponse response;
  response.status = status;
  response.body = absl::StrCat(text, "\n");
  return response;
}

WebhookResponse Twiml() {
  WebhookResponse response;
  response.content_type = "text/xml";
  response.body = std::string(kEmptyTwiml);
  return response;
}

// The media type without parameters, lowercased: "application/json".
std::string MediaType(absl::string_view content_type) {
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(
      content_type.substr(0, content_type.find(';'))));
}

void Log(const WebhookRequest& request, absl::string_view message) {
  absl::FPrintF(stderr, "twilio_shim: %s %s from %s: %s\n", request.method,
                PathOf(request.target), request.remote_address, message);
}

}  // namespace

WebhookHandler::WebhookHandler(const WebhookSignatureVerifier* verifier,
                               JobQueueBackend* backend, DeliverySpool* spool,
                               Options options)
    : verifier_(verifier),
      backend_(backend),
      spool_(spool),
      options_(std::move(options)) {}

std::optional<WebhookResponse> WebhookHandler::Screen(
    absl::string_view method, absl::string_view target) const {
  const absl::string_view path = PathOf(target);
  const bool is_health = path == kHealthPath;
  if (!is_health && path != kMessagesPath && path != kConversationsPath) {
    return Text(404, "not found");
  }
  const bool allowed =
      is_health ? (method == "GET" || method == "HEAD") : method == "POST";
  if (allowed) return std::nullopt;
  WebhookResponse response = Text(405, "method not allowed");
  response.headers.emplace_back("Allow", is_health ? "GET, HEAD" : "POST");
  return response;
}

WebhookResponse WebhookHandler::Handle(const WebhookRequest& request) {
  if (std::optional<WebhookResponse> early =
          Screen(request.method, request.target)) {
    return *early;
  }
  const absl::string_view path = PathOf(request.target);
  if (path == kHealthPath) return HandleHealth();
  return HandleDelivery(request, path == kConversationsPath);
}

WebhookResponse WebhookHandler::HandleHealth() {
  const absl::Status health = backend_->CheckHealth(options_.health_timeout);
  if (!health.ok()) {
    return Text(503, absl::StrCat("backend unavailable: ", health.ToString()));
  }
  return Text(200, "ok");
}

WebhookResponse WebhookHandler::HandleDelivery(const WebhookRequest& request,
                                               bool conversations) {
  std::variant<google::protobuf::Struct, WebhookResponse> payload =
      VerifiedPayload(request);
  if (auto* refusal = std::get_if<WebhookResponse>(&payload)) return *refusal;
  SpooledDelivery delivery =
      ToDelivery(std::get<google::protobuf::Struct>(payload), conversations);
  // What cannot be read back could not be replayed from the spool either:
  // refused before anything is written.
  if (absl::Status readable = CheckReadsBack(delivery); !readable.ok()) {
    Log(request, absl::StrCat("400: ", readable.message()));
    return Text(400, readable.message());
  }
  return Dispatch(std::move(delivery), conversations
                                           ? options_.conversations_rpc_timeout
                                           : options_.messages_rpc_timeout);
}

std::variant<google::protobuf::Struct, WebhookResponse>
WebhookHandler::VerifiedPayload(const WebhookRequest& request) const {
  if (request.signature.empty()) {
    CountSignatureRejection();
    Log(request, "403: no X-Twilio-Signature header");
    return Text(403, "missing X-Twilio-Signature");
  }
  const std::string url =
      absl::StrCat(options_.public_base_url, request.target);
  if (absl::StrContains(request.target, "bodySHA256=")) {
    if (!verifier_->VerifyJsonBody(request.signature, url, request.body)) {
      CountSignatureRejection();
      Log(request, "403: the signature or bodySHA256 does not match");
      return Text(403, "invalid X-Twilio-Signature");
    }
    if (absl::Status depth = CheckJsonNestingDepth(request.body); !depth.ok()) {
      Log(request, absl::StrCat("400: ", depth.message()));
      return Text(400, depth.message());
    }
    absl::StatusOr<google::protobuf::Struct> json = JsonToPayload(request.body);
    if (!json.ok()) {
      Log(request, absl::StrCat("400: ", json.status().message()));
      return Text(400, json.status().message());
    }
    return *std::move(json);
  }
  if (MediaType(request.content_type) != "application/x-www-form-urlencoded") {
    Log(request,
        absl::StrCat("415: content type \"", request.content_type, "\""));
    return Text(415,
                "expected application/x-www-form-urlencoded, or JSON signed "
                "with bodySHA256");
  }
  absl::StatusOr<FormParams> params = ParseFormUrlEncoded(request.body);
  if (!params.ok()) {
    Log(request, absl::StrCat("400: ", params.status().message()));
    return Text(400, params.status().message());
  }
  if (!verifier_->VerifyForm(request.signature, url, *params)) {
    CountSignatureRejection();
    Log(request, "403: the signature does not match");
    return Text(403, "invalid X-Twilio-Signature");
  }
  return FormToPayload(*params);
}

void WebhookHandler::CountSignatureRejection() const {
  if (options_.metrics != nullptr) {
    options_.metrics->signature_rejections->Increment();
  }
}

SpooledDelivery WebhookHandler::ToDelivery(
    const google::protobuf::Struct& payload, bool conversations) {
  const absl::string_view source =
      conversations ? "twilio.conversations" : "twilio.messages";
  absl::StatusOr<v1::EnqueueJobRequest> job =
      conversations ? MapConversationDelivery(payload)
                    : MapMessageDelivery(payload);
  SpooledDelivery delivery =
      job.ok() ? SpooledDelivery()
               : DeadLetterDelivery(source, payload, job.status().message());
  delivery.set_source(std::string(source));
  if (job.ok()) *delivery.mutable_enqueue_job() = *std::move(job);
  const int64_t now = absl::ToUnixNanos(absl::Now());
  delivery.mutable_received_at()->set_seconds(now / 1000000000);
  delivery.mutable_received_at()->set_nanos(
      static_cast<int32_t>(now % 1000000000));
  return delivery;
}

WebhookResponse WebhookHandler::Dispatch(SpooledDelivery delivery,
                                         absl::Duration timeout) {
  // Behind the deliveries already waiting, so that it cannot overtake them;
  // the replayer hands it over in turn.
  if (spool_->HasPending()) {
    WebhookResponse response = Spool(
        delivery, absl::UnavailableError("queued behind spooled deliveries"));
    if (response.status == 200 && options_.on_queued) options_.on_queued();
    return response;
  }
  // Fails at once while the service is unreachable: the spool is the
  // fallback, and Twilio should not wait.
  const absl::Status status = AttemptDelivery(
      *backend_, &delivery, {timeout, /*wait_for_ready=*/false});
  if (status.ok()) {
    if (delivery.has_record_dead_letter()) {
      if (options_.metrics != nullptr) {
        options_.metrics->dead_letters->Increment();
      }
      absl::FPrintF(stderr, "twilio_shim: recorded %s: %s\n",
                    DescribeDelivery(delivery),
                    delivery.record_dead_letter().reason());
    }
    if (options_.on_delivered) options_.on_delivered();
    return Twiml();
  }
  if (!IsPermanentRejection(status)) return Spool(delivery, status);
  const absl::Status kept = spool_->Reject(delivery);
  if (!kept.ok()) {
    absl::FPrintF(stderr,
                  "twilio_shim: 503: the service rejected %s even as a dead "
                  "letter (%s), and it could not be kept in rejected/ (%s)\n",
                  DescribeDelivery(delivery), status.ToString(),
                  kept.ToString());
    return Text(503, "the delivery could not be stored; retry");
  }
  absl::FPrintF(stderr,
                "twilio_shim: the service rejected %s even as a dead letter "
                "(%s); kept in %s/rejected\n",
                DescribeDelivery(delivery), status.ToString(), spool_->dir());
  return Twiml();
}

WebhookResponse WebhookHandler::Spool(const SpooledDelivery& delivery,
                                      const absl::Status& status) {
  const absl::Status kept = spool_->Append(delivery);
  if (!kept.ok()) {
    absl::FPrintF(stderr,
                  "twilio_shim: 503: could not deliver %s (%s) nor spool it "
                  "(%s)\n",
                  DescribeDelivery(delivery), status.ToString(),
                  kept.ToString());
    return Text(503, "the delivery could not be stored; retry");
  }
  if (options_.metrics != nullptr) {
    options_.metrics->deliveries_spooled->Increment();
    options_.metrics->spool_depth->Add(1);
  }
  absl::FPrintF(stderr, "twilio_shim: spooled %s: %s\n",
                DescribeDelivery(delivery), status.ToString());
  return Twiml();
}

}  // namespace jobqueue::shim
