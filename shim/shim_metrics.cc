#include "shim/shim_metrics.h"

#include "absl/strings/str_cat.h"

namespace jobqueue::shim {

absl::string_view EndpointLabel(absl::string_view path) {
  for (absl::string_view known :
       {"/twilio/messages", "/twilio/conversations", "/healthz"}) {
    if (path == known) return known;
  }
  return "other";
}

ShimMetrics::ShimMetrics(metrics::Registry* registry)
    : requests(registry->AddCounter(
          "twilio_shim_requests_total",
          "HTTP requests answered, by endpoint (path, or other) and status.",
          {"endpoint", "status"})),
      request_duration(registry->AddHistogram(
          "twilio_shim_request_duration_seconds",
          "From routing an HTTP request to writing its answer.", {"endpoint"},
          {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
           10, 15})),
      signature_rejections(
          &registry
               ->AddCounter("twilio_shim_signature_rejections_total",
                            "Deliveries refused (403) for a missing or wrong "
                            "X-Twilio-Signature.")
               ->WithLabels({})),
      deliveries_spooled(
          &registry
               ->AddCounter("twilio_shim_deliveries_spooled_total",
                            "Deliveries written to the spool because the "
                            "service could not take them.")
               ->WithLabels({})),
      spool_depth(&registry
                       ->AddGauge("twilio_shim_spool_depth",
                                  "Spooled deliveries waiting to be replayed.")
                       ->WithLabels({})),
      replays_succeeded(
          &registry
               ->AddCounter("twilio_shim_replays_succeeded_total",
                            "Spooled deliveries the service took on replay.")
               ->WithLabels({})),
      replays_failed(&registry
                          ->AddCounter("twilio_shim_replays_failed_total",
                                       "Replay attempts that failed: retried "
                                       "later, or kept in rejected/.")
                          ->WithLabels({})),
      spool_records_quarantined(
          &registry
               ->AddCounter("twilio_shim_spool_records_quarantined_total",
                            "Spool records that could not be read back, "
                            "copied to the spool's corrupt/ folder instead "
                            "of being replayed.")
               ->WithLabels({})),
      dead_letters(&registry
                        ->AddCounter("twilio_shim_dead_letters_total",
                                     "Dead letters the service recorded for "
                                     "the shim, directly or on replay.")
                        ->WithLabels({})),
      deliveries_rejected(
          &registry
               ->AddCounter("twilio_shim_deliveries_rejected_total",
                            "Dead letters the service refused, directly or "
                            "on replay; each such delivery is kept only in "
                            "the spool's rejected/ folder.")
               ->WithLabels({})) {}

void ShimMetrics::RecordRequest(absl::string_view path, int status,
                                absl::Duration duration) {
  const absl::string_view endpoint = EndpointLabel(path);
  const std::string code = absl::StrCat(status);
  requests->WithLabels({endpoint, code}).Increment();
  if (duration >= absl::ZeroDuration()) {
    request_duration->WithLabels({endpoint})
        .Observe(absl::ToDoubleSeconds(duration));
  }
}

}  // namespace jobqueue::shim
