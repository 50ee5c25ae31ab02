// A JobStore for unit tests of the service layer, with no database: it
// records what each call received and answers with `error` when a test set
// one, else with a job built from the call's input. One thread at a time.
//
//   FakeJobStore store;
//   JobQueueService service(&store, nullptr, {});
//   service.EnqueueJob(&context, &request, &response);
//   EXPECT_EQ(store.calls().back().method, "Enqueue");

#ifndef JOBQUEUE_STORAGE_FAKE_JOB_STORE_H_
#define JOBQUEUE_STORAGE_FAKE_JOB_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "storage/job_store.h"

namespace jobqueue {

class FakeJobStore final : public JobStore {
 public:
  // The id of every job the fake returns.
  static constexpr char kJobId[] = "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab";

  struct Call {
    std::string method;  // "Enqueue", "UpdateStatus", ...
    absl::Time deadline;
  };
  const std::vector<Call>& calls() const { return calls_; }

  // What the calls received, the latest of each kind.
  const NewJob& new_job() const { return new_job_; }
  const StatusChange& status_change() const { return status_change_; }
  const JobFilter& filter() const { return filter_; }
  const ClaimRequest& claim() const { return claim_; }
  const std::vector<JobLease>& leases() const { return leases_; }
  const std::vector<JobLease>& released() const { return released_; }

  // What ClaimJobs hands out.
  std::vector<Job> claimable;

  // When not OK, every call fails with it.
  absl::Status error;
  // CompleteJobs' answer, one per lease; all OK when empty.
  std::vector<absl::Status> complete_statuses;
  // ListJobs' cursor for the next page.
  std::optional<JobCursor> next_page;

  absl::StatusOr<UpsertUserResult> UpsertUser(const std::string& phone_number,
                                              const std::string& first_name,
                                              absl::Time deadline) override;
  absl::StatusOr<EnqueueResult> Enqueue(const NewJob& job,
                                        absl::Time deadline) override;
  absl::StatusOr<Job> GetJob(const std::string& id,
                             absl::Time deadline) override;
  absl::StatusOr<Job> UpdateStatus(const StatusChange& change,
                                   absl::Time deadline) override;
  absl::StatusOr<JobPage> ListJobs(const JobFilter& filter,
                                   const std::optional<JobCursor>& after,
                                   int limit, absl::Time deadline) override;
  absl::StatusOr<std::vector<Job>> ClaimJobs(const ClaimRequest& request,
                                             absl::Time deadline) override;
  absl::StatusOr<Job> ExtendLease(const std::string& id,
                                  const std::string& lease_token,
                                  absl::Duration lease,
                                  absl::Time deadline) override;
  absl::StatusOr<Job> CompleteJob(const std::string& id,
                                  const std::string& lease_token,
                                  absl::Time deadline) override;
  std::vector<absl::Status> CompleteJobs(const std::vector<JobLease>& leases,
                                         absl::Time deadline) override;
  absl::StatusOr<Job> FailJob(const std::string& id,
                              const std::string& lease_token,
                              const std::string& last_error, bool retryable,
                              absl::Time deadline) override;
  absl::Status ReleaseJobs(const std::vector<JobLease>& leases,
                           absl::Time deadline) override;
  absl::StatusOr<Job> RetryJob(const std::string& id,
                               absl::Time deadline) override;
  absl::StatusOr<MaintenanceReport> RunMaintenance(
      absl::Duration retention, int max_deletes, absl::Time deadline) override;
  absl::StatusOr<DeadLetter> RecordDeadLetter(const NewDeadLetter& letter,
                                              absl::Time deadline) override;

 private:
  // Records the call; `error` or the job with `status`.
  absl::StatusOr<Job> Answer(const std::string& method, absl::Time deadline,
                             JobStatus status);

  std::vector<Call> calls_;
  NewJob new_job_;
  StatusChange status_change_;
  JobFilter filter_;
  ClaimRequest claim_;
  std::vector<JobLease> leases_;
  std::vector<JobLease> released_;
};

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_FAKE_JOB_STORE_H_
