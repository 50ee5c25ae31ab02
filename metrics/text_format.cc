#include "metrics/text_format.h"

#include <cassert>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace jobqueue::metrics {
namespace {

std::string Escape(absl::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(absl::string_view value) {
  return Escape(value, /*quotes=*/true);
}

std::string EscapeHelp(absl::string_view help) {
  return Escape(help, /*quotes=*/false);
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Plain decimals where they stay short, as Prometheus clients write them.
  const double magnitude = std::fabs(value);
  const bool fixed = value == 0 || (magnitude >= 1e-4 && magnitude < 1e15);
  char buffer[64];
  const std::to_chars_result r =
      fixed ? std::to_chars(buffer, buffer + sizeof(buffer), value,
                            std::chars_format::fixed)
            : std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, r.ptr);
}

std::string LabelPairs(absl::Span<const std::string> names,
                       absl::Span<const std::string> values) {
  assert(names.size() == values.size());
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", names[i], "=\"",
                    EscapeLabelValue(values[i]), "\"");
  }
  return out;
}

void AppendSample(absl::string_view name, absl::string_view label_pairs,
                  absl::string_view value, std::string* out) {
  if (label_pairs.empty()) {
    absl::StrAppend(out, name, " ", value, "\n");
  } else {
    absl::StrAppend(out, name, "{", label_pairs, "} ", value, "\n");
  }
}

void AppendHeader(absl::string_view name, absl::string_view help,
                  absl::string_view type, std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ", EscapeHelp(help), "\n", "# TYPE ",
                  name, " ", type, "\n");
}

}  // namespace jobqueue::metrics
