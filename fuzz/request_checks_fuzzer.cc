// libFuzzer target: request validation (service/checks/field_rules,
// service/checks/every_field, service/checks/request_checks). Input: one byte
// choosing the RPC, then the bytes a client sent, parsed as that RPC's request;
// then the checks the service runs before it touches the database, in the same
// order (job_queue_service.cc).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "jobqueue/v1/jobqueue.pb.h"
#include "service/checks/every_field.h"
#include "service/checks/request_checks.h"
#include "service/mapping/page_token.h"

namespace {

using namespace jobqueue;

template <typename Request>
bool Parse(absl::string_view bytes, Request* request) {
  return request->ParseFromArray(bytes.data(),
                                 static_cast<int>(bytes.size())) &&
         CheckEveryField(*request).ok();
}

constexpr size_t kMaxPayloadBytes = 256 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 28) {
    case 0: {
      v1::CreateUserRequest r;
      if (Parse(bytes, &r)) (void)CheckCreateUser(r);
      break;
    }
    case 1: {
      v1::EnqueueJobRequest r;
      if (Parse(bytes, &r)) (void)ToNewJob(r, kMaxPayloadBytes);
      break;
    }
    case 2: {
      v1::GetJobRequest r;
      if (Parse(bytes, &r)) (void)ToUuid("id", r.id());
      break;
    }
    case 3: {
      v1::UpdateStatusRequest r;
      if (Parse(bytes, &r)) (void)ToStatusChange(r);
      break;
    }
    case 4: {
      v1::ListJobsRequest r;
      if (!Parse(bytes, &r)) break;
      absl::StatusOr<JobFilter> filter = ToFilter(r);
      if (!filter.ok() || !PageSize(r.page_size()).ok()) break;
      if (!r.page_token().empty()) {
        (void)DecodePageToken(r.page_token(), FilterFingerprint(*filter));
      }
      break;
    }
    case 5: {
      v1::RecordDeadLetterRequest r;
      if (Parse(bytes, &r)) (void)ToNewDeadLetter(r, kMaxPayloadBytes);
      break;
    }
    case 6: {
      v1::ClaimJobsRequest r;
      if (Parse(bytes, &r) && ToClaimRequest(r).ok()) (void)ClaimWait(r);
      break;
    }
    case 7: {
      v1::ExtendLeaseRequest r;
      if (Parse(bytes, &r)) (void)ToLeaseExtension(r);
      break;
    }
    case 8: {
      v1::CompleteJobRequest r;
      if (Parse(bytes, &r)) (void)ToJobLease(r);
      break;
    }
    case 9: {
      v1::CompleteJobsRequest r;
      if (Parse(bytes, &r)) (void)ToJobLeases(r);
      break;
    }
    case 10: {
      v1::FailJobRequest r;
      if (Parse(bytes, &r)) (void)ToFailedLease(r);
      break;
    }
    case 11: {
      v1::CancelJobRequest r;
      if (Parse(bytes, &r)) (void)ToJobRef(r);
      break;
    }
    case 12: {
      v1::CreateScheduleRequest r;
      if (Parse(bytes, &r)) (void)ToScheduleSpec(r, kMaxPayloadBytes);
      break;
    }
    case 13: {
      v1::ListSchedulesRequest r;
      if (!Parse(bytes, &r) || !PageSize(r.page_size()).ok()) break;
      if (!r.page_token().empty()) {
        (void)DecodeSchedulePageToken(r.page_token());
      }
      break;
    }
    case 14: {
      v1::DeleteScheduleRequest r;
      if (Parse(bytes, &r)) (void)ToScheduleName(r);
      break;
    }
    case 15: {
      v1::SnoozeJobRequest r;
      if (Parse(bytes, &r)) (void)ToSnooze(r);
      break;
    }
    case 16: {
      v1::SetQueueRateLimitRequest r;
      if (Parse(bytes, &r)) (void)ToQueueRateLimit(r);
      break;
    }
    case 17: {
      v1::GetQueueRequest r;
      if (Parse(bytes, &r)) (void)ToQueueName(r);
      break;
    }
    case 18: {
      v1::SetQueueMaxRunTimeRequest r;
      if (Parse(bytes, &r)) (void)ToQueueMaxRunTime(r);
      break;
    }
    case 19: {
      v1::PauseQueueRequest r;
      if (Parse(bytes, &r)) (void)ToQueuePause(r);
      break;
    }
    case 20: {
      v1::ResumeQueueRequest r;
      if (Parse(bytes, &r)) (void)ToQueueName(r);
      break;
    }
    case 21: {
      v1::ListDeadLettersRequest r;
      if (!Parse(bytes, &r)) break;
      absl::StatusOr<DeadLetterFilter> filter = ToDeadLetterFilter(r);
      if (!filter.ok() ||
          !PageSize(r.page_size(), kMaxDeadLetterPageSize).ok()) {
        break;
      }
      if (!r.page_token().empty()) {
        (void)DecodeDeadLetterPageToken(r.page_token(),
                                        DeadLetterFilterFingerprint(*filter));
      }
      break;
    }
    case 22: {
      v1::ReplayDeadLettersRequest r;
      if (Parse(bytes, &r)) (void)ToDeadLetterReplay(r);
      break;
    }
    case 23: {
      v1::GetQueueStatsRequest r;
      if (Parse(bytes, &r)) (void)ToQueueStatsQuery(r);
      break;
    }
    case 24: {
      v1::ListConversationsRequest r;
      if (Parse(bytes, &r)) (void)ToConversationsQueue(r);
      break;
    }
    case 25: {
      v1::RetryJobsRequest r;
      if (Parse(bytes, &r)) (void)ToBulkRetry(r);
      break;
    }
    case 26: {
      v1::CancelJobsRequest r;
      if (Parse(bytes, &r)) (void)ToBulkCancel(r);
      break;
    }
    case 27: {
      v1::StreamJobsRequest r;
      if (!Parse(bytes, &r)) break;
      (void)ToStreamOpen(r);
      (void)CheckStreamMessage(r);
      for (const v1::StreamJobsItem& item : r.items()) (void)ToStreamItem(item);
      break;
    }
  }
  return 0;
}
