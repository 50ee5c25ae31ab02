#include "storage/queue_name.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace jobqueue {

bool IsQueueName(absl::string_view name) {
  if (name.empty() || name.size() > 64 || !absl::ascii_isalnum(name[0])) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == ':' ||
           c == '-';
  });
}

}  // namespace jobqueue
