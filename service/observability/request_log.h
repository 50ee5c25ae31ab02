// One key=value line per RPC on stderr, at a level chosen by a flag:
//
//   jobqueue: rpc method=EnqueueJob code=OK ms=1.84 job_id=2f6c...
//
// A line carries the method, the status code, the duration and the job's id
// when the call names one job; never metadata (tokens), lease tokens,
// payloads or error messages.
//
//   ABSL_FLAG(RequestLogLevel, log_requests, RequestLogLevel::kErrors, "...");
//   if (ShouldLogRequest(level, ok)) LogRequest({.method = "GetJob", ...});

#ifndef JOBQUEUE_SERVICE_OBSERVABILITY_REQUEST_LOG_H_
#define JOBQUEUE_SERVICE_OBSERVABILITY_REQUEST_LOG_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jobqueue {

enum class RequestLogLevel { kNone, kErrors, kAll };

// "none", "errors" or "all", for ABSL_FLAG.
bool AbslParseFlag(absl::string_view text, RequestLogLevel* level,
                   std::string* error);
std::string AbslUnparseFlag(RequestLogLevel level);

// Whether an RPC that ended OK (or not) gets a line at `level`.
bool ShouldLogRequest(RequestLogLevel level, bool ok);

struct RequestRecord {
  absl::string_view method;  // e.g. "EnqueueJob"
  absl::string_view code;    // e.g. "INVALID_ARGUMENT"
  absl::Duration duration;
  absl::string_view job_id;  // empty: the call named no single job
};

// The line without the "jobqueue: " prefix and the newline.
std::string FormatRequestLine(const RequestRecord& record);

// Writes "jobqueue: <line>\n" to stderr in one write.
void LogRequest(const RequestRecord& record);

}  // namespace jobqueue

#endif  // JOBQUEUE_SERVICE_OBSERVABILITY_REQUEST_LOG_H_
