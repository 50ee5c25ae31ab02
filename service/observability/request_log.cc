#include "service/observability/request_log.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace jobqueue {

bool AbslParseFlag(absl::string_view text, RequestLogLevel* level,
                   std::string* error) {
  if (text == "none") {
    *level = RequestLogLevel::kNone;
  } else if (text == "errors") {
    *level = RequestLogLevel::kErrors;
  } else if (text == "all") {
    *level = RequestLogLevel::kAll;
  } else {
    *error = "must be all, errors or none";
    return false;
  }
  return true;
}

std::string AbslUnparseFlag(RequestLogLevel level) {
  switch (level) {
    case RequestLogLevel::kNone:
      return "none";
    case RequestLogLevel::kErrors:
      return "errors";
    case RequestLogLevel::kAll:
      return "all";
  }
  return "errors";
}

bool ShouldLogRequest(RequestLogLevel level, bool ok) {
  return level == RequestLogLevel::kAll ||
         (level == RequestLogLevel::kErrors && !ok);
}

std::string FormatRequestLine(const RequestRecord& record) {
  std::string line =
      absl::StrFormat("rpc method=%s code=%s ms=%.2f", record.method,
                      record.code, absl::ToDoubleMilliseconds(record.duration));
  if (!record.job_id.empty()) absl::StrAppend(&line, " job_id=", record.job_id);
  return line;
}

void LogRequest(const RequestRecord& record) {
  const std::string line =
      absl::StrCat("jobqueue: ", FormatRequestLine(record), "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace jobqueue
