#include "storage/fake_job_store.h"

namespace jobqueue {

absl::StatusOr<Job> FakeJobStore::Answer(const std::string& method,
                                         absl::Time deadline,
                                         JobStatus status) {
  calls_.push_back({method, deadline});
  if (!error.ok()) return error;
  Job job;
  job.id = kJobId;
  job.status = status;
  job.source_type = "dm";
  job.content_type = "text";
  job.payload_json = "{}";
  return job;
}

absl::StatusOr<UpsertUserResult> FakeJobStore::UpsertUser(
    const std::string& phone_number, const std::string& first_name,
    absl::Time deadline) {
  calls_.push_back({"UpsertUser", deadline});
  if (!error.ok()) return error;
  return UpsertUserResult{
      .user = {.phone_number = phone_number, .first_name = first_name},
      .created = true};
}

absl::StatusOr<EnqueueResult> FakeJobStore::Enqueue(const NewJob& job,
                                                    absl::Time deadline) {
  new_job_ = job;
  absl::StatusOr<Job> stored = Answer("Enqueue", deadline, JobStatus::kPending);
  if (!stored.ok()) return stored.status();
  stored->user_phone = job.user_phone;
  stored->source_channel_id = job.source_channel_id;
  stored->payload_json = job.payload_json;
  return EnqueueResult{.job = *stored, .created = true};
}

absl::StatusOr<Job> FakeJobStore::GetJob(const std::string& id,
                                         absl::Time deadline) {
  return Answer("GetJob", deadline, JobStatus::kPending);
}

absl::StatusOr<Job> FakeJobStore::UpdateStatus(const StatusChange& change,
                                               absl::Time deadline) {
  status_change_ = change;
  return Answer("UpdateStatus", deadline, change.to);
}

absl::StatusOr<JobPage> FakeJobStore::ListJobs(
    const JobFilter& filter, const std::optional<JobCursor>& after, int limit,
    absl::Time deadline) {
  filter_ = filter;
  absl::StatusOr<Job> job = Answer("ListJobs", deadline, JobStatus::kPending);
  if (!job.ok()) return job.status();
  return JobPage{.jobs = {*job}, .next = next_page};
}

absl::StatusOr<std::vector<Job>> FakeJobStore::ClaimJobs(
    const ClaimRequest& request, absl::Time deadline) {
  claim_ = request;
  calls_.push_back({"ClaimJobs", deadline});
  if (!error.ok()) return error;
  return std::move(claimable);
}

absl::StatusOr<Job> FakeJobStore::ExtendLease(const std::string& id,
                                              const std::string& lease_token,
                                              absl::Duration lease,
                                              absl::Time deadline) {
  return Answer("ExtendLease", deadline, JobStatus::kProcessing);
}

absl::StatusOr<Job> FakeJobStore::CompleteJob(const std::string& id,
                                              const std::string& lease_token,
                                              absl::Time deadline) {
  leases_ = {{id, lease_token}};
  return Answer("CompleteJob", deadline, JobStatus::kComplete);
}

std::vector<absl::Status> FakeJobStore::CompleteJobs(
    const std::vector<JobLease>& leases, absl::Time deadline) {
  leases_ = leases;
  calls_.push_back({"CompleteJobs", deadline});
  if (!complete_statuses.empty()) return complete_statuses;
  return std::vector<absl::Status>(leases.size(), error);
}

absl::StatusOr<Job> FakeJobStore::FailJob(const std::string& id,
                                          const std::string& lease_token,
                                          const std::string& last_error,
                                          bool retryable, absl::Time deadline) {
  return Answer("FailJob", deadline, JobStatus::kFailed);
}

absl::Status FakeJobStore::ReleaseJobs(const std::vector<JobLease>& leases,
                                       absl::Time deadline) {
  calls_.push_back({"ReleaseJobs", deadline});
  released_.insert(released_.end(), leases.begin(), leases.end());
  return error;
}

absl::StatusOr<Job> FakeJobStore::RetryJob(const std::string& id,
                                           absl::Time deadline) {
  return Answer("RetryJob", deadline, JobStatus::kPending);
}

absl::StatusOr<MaintenanceReport> FakeJobStore::RunMaintenance(
    absl::Duration retention, int max_deletes, absl::Time deadline) {
  calls_.push_back({"RunMaintenance", deadline});
  if (!error.ok()) return error;
  return MaintenanceReport();
}

absl::StatusOr<DeadLetter> FakeJobStore::RecordDeadLetter(
    const NewDeadLetter& letter, absl::Time deadline) {
  calls_.push_back({"RecordDeadLetter", deadline});
  if (!error.ok()) return error;
  return DeadLetter{.id = kJobId,
                    .source = letter.source,
                    .delivery_id = letter.delivery_id,
                    .reason = letter.reason,
                    .raw_payload_json = letter.raw_payload_json,
                    .attempts = 1};
}

}  // namespace jobqueue
