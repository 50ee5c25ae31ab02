#include "metrics/counter.h"

#include "absl/strings/str_cat.h"
#include "metrics/text_format.h"

namespace jobqueue::metrics {

void Counter::AppendSamples(absl::string_view name,
                            absl::string_view label_pairs,
                            std::string* out) const {
  AppendSample(name, label_pairs, absl::StrCat(value()), out);
}

}  // namespace jobqueue::metrics
