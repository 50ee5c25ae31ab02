// The shim's Prometheus metrics, registered in a metrics::Registry and
// recorded by the HTTP server, the webhook handler and the spool replayer.
// Every recorder takes a nullable ShimMetrics*, so metrics are optional.
//
//   metrics::Registry registry;
//   ShimMetrics metrics(&registry);
//   metrics.signature_rejections->Increment();
//   std::string text = registry.Render();  // served at GET /metrics
#ifndef JOBQUEUE_SHIM_SHIM_METRICS_H_
#define JOBQUEUE_SHIM_SHIM_METRICS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "metrics/registry.h"

namespace jobqueue::shim {

struct ShimMetrics {
  // Adds the shim's families to `registry`, which must outlive this.
  explicit ShimMetrics(metrics::Registry* registry);

  // Counts one answered request and observes its duration (unless
  // `duration` is negative, when the start time is unknown). `path` is
  // the request path; paths the shim does not serve count as "other".
  void RecordRequest(absl::string_view path, int status,
                     absl::Duration duration);

  // twilio_shim_requests_total{endpoint,status}
  metrics::Family<metrics::Counter>* requests;
  // twilio_shim_request_duration_seconds{endpoint}
  metrics::Family<metrics::Histogram>* request_duration;
  // twilio_shim_signature_rejections_total: 403s for a missing or wrong
  // X-Twilio-Signature.
  metrics::Counter* signature_rejections;
  // twilio_shim_deliveries_spooled_total: deliveries written to the spool
  // because the service could not take them, or behind others waiting there.
  metrics::Counter* deliveries_spooled;
  // twilio_shim_spool_depth: spooled deliveries not yet handed over.
  metrics::Gauge* spool_depth;
  // twilio_shim_replays_succeeded_total / _failed_total: replayed deliveries
  // the service took, and replay attempts that failed (retried later, or
  // kept in rejected/ when refused for good).
  metrics::Counter* replays_succeeded;
  metrics::Counter* replays_failed;
  // twilio_shim_spool_records_quarantined_total: spool records that could
  // not be read back (damaged, or not a delivery), each copied to the
  // spool's corrupt/ folder instead of being replayed.
  metrics::Counter* spool_records_quarantined;
  // twilio_shim_dead_letters_total: dead letters the service recorded,
  // directly or on replay.
  metrics::Counter* dead_letters;
  // twilio_shim_deliveries_rejected_total: dead letters the service refused
  // (INVALID_ARGUMENT), directly or on replay; each such delivery is kept
  // only in the spool's rejected/ folder, for a person to look at.
  metrics::Counter* deliveries_rejected;
};

// The `endpoint` label of a request path.
absl::string_view EndpointLabel(absl::string_view path);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_SHIM_METRICS_H_
