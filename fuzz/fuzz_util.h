// Helpers the fuzz targets share.
#ifndef FUZZ_FUZZ_UTIL_H_
#define FUZZ_FUZZ_UTIL_H_

#include <cstdlib>

#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace jobqueue::fuzz {

// Aborts (a finding) when a string or key anywhere in `value` holds U+0000,
// which PostgreSQL cannot store and the service promises never to pass on.
inline void AbortOnNul(const google::protobuf::Value& value);

inline void AbortOnNul(const google::protobuf::Struct& value) {
  for (const auto& [key, field] : value.fields()) {
    if (key.find('\0') != std::string::npos) std::abort();
    AbortOnNul(field);
  }
}

inline void AbortOnNul(const google::protobuf::Value& value) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kStringValue:
      if (value.string_value().find('\0') != std::string::npos) std::abort();
      break;
    case google::protobuf::Value::kStructValue:
      AbortOnNul(value.struct_value());
      break;
    case google::protobuf::Value::kListValue:
      for (const auto& element : value.list_value().values())
        AbortOnNul(element);
      break;
    default:
      break;
  }
}

// Splits `data` at the first occurrence of `separator`: the part before it,
// and (in `data`) what follows. All of `data` when there is none.
inline absl::string_view TakeUntil(absl::string_view& data, char separator) {
  size_t at = data.find(separator);
  absl::string_view head = data.substr(0, at);
  data.remove_prefix(at == absl::string_view::npos ? data.size() : at + 1);
  return head;
}

}  // namespace jobqueue::fuzz

#endif  // FUZZ_FUZZ_UTIL_H_
