// The pieces of Prometheus' text exposition format (version 0.0.4) that the
// metric types write: escaping, number formatting, sample and header lines.
//
//   std::string out;
//   AppendHeader("jobs", "Jobs by status.", "gauge", &out);
//   AppendSample("jobs", LabelPairs({"status"}, {"pending"}), "3", &out);
//   // # HELP jobs Jobs by status.
//   // # TYPE jobs gauge
//   // jobs{status="pending"} 3

#ifndef JOBQUEUE_METRICS_TEXT_FORMAT_H_
#define JOBQUEUE_METRICS_TEXT_FORMAT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace jobqueue::metrics {

// `value` with backslash, double quote and newline escaped, as label values
// must be.
std::string EscapeLabelValue(absl::string_view value);

// `help` with backslash and newline escaped, as HELP text must be.
std::string EscapeHelp(absl::string_view help);

// The shortest decimal that reads back as `value`; "+Inf", "-Inf", "NaN".
std::string FormatValue(double value);

// name="value" pairs joined by commas, without braces, values escaped.
// `names` and `values` have the same size.
std::string LabelPairs(absl::Span<const std::string> names,
                       absl::Span<const std::string> values);

// Appends "name{label_pairs} value\n", without braces when there are no
// pairs.
void AppendSample(absl::string_view name, absl::string_view label_pairs,
                  absl::string_view value, std::string* out);

// Appends the "# HELP" and "# TYPE" lines of a metric family.
void AppendHeader(absl::string_view name, absl::string_view help,
                  absl::string_view type, std::string* out);

}  // namespace jobqueue::metrics

#endif  // JOBQUEUE_METRICS_TEXT_FORMAT_H_
