// Answers the shim's HTTP requests. Independent of the HTTP library, so that
// every answer can be tested without a socket.
//
//   POST /twilio/messages       Twilio Messaging webhooks (SMS, WhatsApp)
//   POST /twilio/conversations  Twilio Conversations onMessageAdded events
//   GET  /healthz               200 when the JobQueue service is serving
//
// A delivery with a valid X-Twilio-Signature gets 200 and an empty TwiML
// <Response/> once it is safe: taken by the service (as a job or a dead
// letter), or on disk in the spool for the replayer. Otherwise: 403 (missing
// or wrong signature), 400 (malformed body, JSON nested more than
// kMaxJsonNestingDepth levels, or a delivery that would not read back from
// the spool), 415 (neither form-encoded nor
// JSON with bodySHA256), 404, 405, or 503 when the delivery could be neither
// handed over nor spooled. Only 200 writes anything.
//
// Order. While the spool holds deliveries, a new one is not offered to the
// service: it is appended behind them (200 once durable) and the replayer is
// woken (Options::on_queued), so one sender's later message cannot become a
// job before an earlier one still waiting in the spool. Once the spool is
// empty, deliveries go straight to the service again. The guarantee: when a
// delivery's request arrives after the shim answered 200 to an earlier
// delivery of the same conversation, its job commits after the earlier one's
// (so it gets a later position in the conversation). Deliveries whose
// requests overlap in time have no defined order between them: one may have
// found the spool empty and be on its way to the service while the other is
// spooled (Twilio does not order overlapping requests either).
//
//   WebhookHandler handler(&verifier, &backend, spool.get(), options);
//   if (auto early = handler.Screen(method, target)) return *early;
//   return handler.Handle(request);  // once the body is read
#ifndef JOBQUEUE_SHIM_WEBHOOK_WEBHOOK_HANDLER_H_
#define JOBQUEUE_SHIM_WEBHOOK_WEBHOOK_HANDLER_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "shim/backend/job_queue_backend.h"
#include "shim/shim_metrics.h"
#include "shim/spool/delivery_spool.h"
#include "shim/webhook/webhook_signature.h"

namespace jobqueue::shim {

struct WebhookRequest {
  std::string method;
  // The request target as received: path and query, not decoded.
  std::string target;
  std::string content_type;
  // The X-Twilio-Signature header; empty when absent.
  std::string signature;
  std::string body;
  // Who called, for log lines.
  std::string remote_address;
};

struct WebhookResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class WebhookHandler {
 public:
  struct Options {
    // What Twilio calls, up to the request target: scheme, host, the port if
    // not the default, and any path prefix a proxy strips
    // ("https://hooks.example.com"). The signed URL is this followed by the
    // request target.
    std::string public_base_url;
    // Deadlines of the calls for one delivery, well under the time Twilio
    // waits (15 s for Messaging, 5 s for Conversations): a rejected job may
    // take two calls, then a spool write.
    absl::Duration messages_rpc_timeout = absl::Seconds(5);
    absl::Duration conversations_rpc_timeout = absl::Milliseconds(1500);
    absl::Duration health_timeout = absl::Seconds(2);
    // Called after the service took a delivery directly: it is up, so the
    // replayer may stop waiting.
    std::function<void()> on_delivered;
    // Called after a delivery was queued behind others already waiting in the
    // spool: the replayer should try now rather than after its backoff, the
    // service may well be back.
    std::function<void()> on_queued;
    // Where signature rejections, spooled deliveries and dead letters are
    // counted; none when null. Must outlive the handler.
    ShimMetrics* metrics = nullptr;
  };

  // The pointers must outlive the handler.
  WebhookHandler(const WebhookSignatureVerifier* verifier,
                 JobQueueBackend* backend, DeliverySpool* spool,
                 Options options);

  // The answer to a request before its body is read: 404 for an unknown
  // path, 405 (with Allow) for a wrong method; nullopt when it may go on.
  std::optional<WebhookResponse> Screen(absl::string_view method,
                                        absl::string_view target) const;

  // Answers a request that passed Screen, its body read. Thread-safe.
  WebhookResponse Handle(const WebhookRequest& request);

 private:
  WebhookResponse HandleHealth();
  WebhookResponse HandleDelivery(const WebhookRequest& request,
                                 bool conversations);
  // The delivery's parameters once its signature is verified, or the answer
  // that refuses it (400, 403, 415).
  std::variant<google::protobuf::Struct, WebhookResponse> VerifiedPayload(
      const WebhookRequest& request) const;
  void CountSignatureRejection() const;
  // The job the payload becomes, or its dead letter when it cannot be one.
  static SpooledDelivery ToDelivery(const google::protobuf::Struct& payload,
                                    bool conversations);
  // Hands `delivery` to the service, or to the spool when the service cannot
  // take it now; 200 with TwiML once one of them has it.
  WebhookResponse Dispatch(SpooledDelivery delivery, absl::Duration timeout);
  // Appends `delivery` to the spool, behind what `status` (the reason it is
  // not handed over now) kept there; 200 with TwiML once durable, else 503.
  WebhookResponse Spool(const SpooledDelivery& delivery,
                        const absl::Status& status);

  const WebhookSignatureVerifier* const verifier_;
  JobQueueBackend* const backend_;
  DeliverySpool* const spool_;
  const Options options_;
};

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_WEBHOOK_WEBHOOK_HANDLER_H_
