#include "storage/named_queries.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace jobqueue {

const NamedQuery& Query(absl::string_view name) {
  for (const NamedQuery& q : EmbeddedQueries()) {
    if (q.name == name) return q;
  }
  const std::string line = absl::StrCat("jobqueue: no SQL block named ", name,
                                        " in storage/queries\n");
  (void)!write(STDERR_FILENO, line.data(), line.size());
  std::abort();
}

size_t QueryIndex(const NamedQuery& query) {
  return static_cast<size_t>(&query - EmbeddedQueries().data());
}

}  // namespace jobqueue
